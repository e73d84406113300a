"""Semi-synthetic stroke volumes on real anatomy (the MNI152 template shipped by nilearn).

Each subject is the MNI152 T1 template (2 mm, bundled with nilearn, no download) cropped
to the brain, resampled isotropically into a ``grid``^3 cube, then made individual by
a small random affine (rotation, scale, translation), a smooth random deformation, a
multiplicative intensity bias field and Gaussian noise. Positive subjects get 1-``max_lesions``
ischaemic-like lesions: irregular (a thresholded smooth random field inside an ellipsoid),
hypo-intense (intensity scaled by 1 - contrast), confined to the subject's brain mask and
to one hemisphere. Each lesion's voxel mask is kept as ground truth.

Volumes are float32 in [0, ~1.1], background 0. :func:`save_nifti` writes a subject's
volume and lesion mask as NIfTI files any neuroimaging tool opens.
"""
from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import ndimage


@dataclass
class StrokeData:
    """Stroke volumes with their ground truth, one per subject.

    Every attribute but ``affine`` is an array whose first axis indexes the N subjects.

    Attributes
    ----------
    X : numpy.ndarray
        ``float32`` volumes, shape ``(N, 1, G, G, G)``.
    lesion : numpy.ndarray
        ``bool`` lesion masks (all lesions of a subject together), shape ``(N, G, G, G)``.
    brain : numpy.ndarray
        ``bool`` brain masks of each subject, shape ``(N, G, G, G)``.
    y : numpy.ndarray
        1 if a lesion is present, else 0, shape ``(N,)``.
    hemisphere : numpy.ndarray
        Lesioned hemisphere: 0 left, 1 right, -1 none, shape ``(N,)``.
    subject : numpy.ndarray
        Subject ids, shape ``(N,)``.
    split : numpy.ndarray
        ``"train"``, ``"val"`` or ``"test"`` for each subject, shape ``(N,)``.
    affine : numpy.ndarray
        Voxel-to-MNI-mm affine of the grid, shape ``(4, 4)``, shared by all subjects.
    """

    X: np.ndarray
    lesion: np.ndarray
    brain: np.ndarray
    y: np.ndarray
    hemisphere: np.ndarray
    subject: np.ndarray
    split: np.ndarray
    affine: np.ndarray

    def subset(self, idx) -> "StrokeData":
        """Return the subjects selected by ``idx``.

        Parameters
        ----------
        idx : array_like or slice
            Index, slice or boolean mask applied to every per-subject array.

        Returns
        -------
        StrokeData
            A new object with the indexed arrays and the same ``affine``.
        """
        return StrokeData(**{k: (v if k == "affine" else v[idx]) for k, v in self.__dict__.items()})

    def of_split(self, split: str) -> "StrokeData":
        """Return the subjects of one split.

        Parameters
        ----------
        split : {"train", "val", "test"}
            Split to select.

        Returns
        -------
        StrokeData
            The subjects whose ``split`` equals ``split``.
        """
        return self.subset(self.split == split)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return the attributes as a dict of arrays (for :func:`~rexbench.io.save_npz`).

        Returns
        -------
        dict of str to numpy.ndarray
            Each attribute's array by name (the arrays are not copied).
        """
        return dict(self.__dict__)


@lru_cache(maxsize=4)
def template(grid: int = 48) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the MNI152 T1 template and brain mask in a ``grid``^3 cube.

    Both are cropped to the brain and resampled isotropically (linear interpolation) so
    the brain's longest side spans ``grid - 4`` voxels, then centred in the cube. Results
    are cached for up to 4 grid sizes.

    Parameters
    ----------
    grid : int, optional
        Side of the cube in voxels (default 48).

    Returns
    -------
    t1 : numpy.ndarray
        ``float32`` template, masked to the brain and scaled to a maximum of 1, shape
        ``(grid, grid, grid)``.
    brain_mask : numpy.ndarray
        ``bool`` brain mask, shape ``(grid, grid, grid)``.
    affine : numpy.ndarray
        ``(4, 4)`` affine of the new grid in MNI mm.

    Raises
    ------
    ValueError
        If ``grid`` is below 16.
    """
    from nilearn.datasets import load_mni152_brain_mask, load_mni152_template

    if grid < 16:
        raise ValueError(f"grid must be at least 16 voxels, got {grid}")
    img, mask_img = load_mni152_template(resolution=2), load_mni152_brain_mask(resolution=2)
    t1, mask = img.get_fdata(), mask_img.get_fdata() > 0.5
    lo = np.array([np.flatnonzero(mask.any(axis=tuple(j for j in range(3) if j != i))).min() for i in range(3)])
    hi = np.array([np.flatnonzero(mask.any(axis=tuple(j for j in range(3) if j != i))).max() + 1 for i in range(3)])
    t1 = t1[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] * mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    zoom = (grid - 4) / (hi - lo).max()
    small = np.clip(ndimage.zoom(t1, zoom, order=1), 0, None)
    small_mask = ndimage.zoom(mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]].astype(float), zoom, order=1) > 0.5
    vol, bm = np.zeros((grid,) * 3), np.zeros((grid,) * 3, bool)
    off = [(grid - s) // 2 for s in small.shape]
    sl = tuple(slice(o, o + s) for o, s in zip(off, small.shape))
    vol[sl], bm[sl] = small / small.max(), small_mask
    # Affine: new voxel i maps to old voxel lo + (i - off) / zoom, then to mm.
    scale = np.diag([1 / zoom] * 3)
    affine = img.affine.copy()
    affine[:3, :3] = img.affine[:3, :3] @ scale
    affine[:3, 3] = img.affine[:3, :3] @ (lo - np.array(off) / zoom) + img.affine[:3, 3]
    return vol.astype(np.float32), bm, affine


def _smooth_field(rng, shape, sigma: float) -> np.ndarray:
    f = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
    return f / (np.abs(f).max() + 1e-12)


def _warp(rng, vol, mask, max_rot_deg, max_scale, max_shift, deform_vox):
    """A random affine plus a smooth displacement field, applied to volume and mask."""
    G = vol.shape[0]
    c = (np.array(vol.shape) - 1) / 2
    angles = np.deg2rad(rng.uniform(-max_rot_deg, max_rot_deg, 3))
    rot = np.eye(3)
    for ax, a in enumerate(angles):
        i, j = [k for k in range(3) if k != ax]
        r = np.eye(3)
        r[i, i] = r[j, j] = np.cos(a)
        r[i, j], r[j, i] = -np.sin(a), np.sin(a)
        rot = rot @ r
    A = rot * rng.uniform(1 - max_scale, 1 + max_scale)
    shift = rng.uniform(-max_shift, max_shift, 3)
    grid = np.indices(vol.shape, dtype=np.float64).reshape(3, -1)
    coords = A @ (grid - c[:, None]) + c[:, None] + shift[:, None]
    coarse = max(G / 8, 2.0)
    disp = np.stack([_smooth_field(rng, vol.shape, coarse).reshape(-1) * deform_vox for _ in range(3)])
    coords = coords + disp
    warped = ndimage.map_coordinates(vol, coords, order=1, mode="constant").reshape(vol.shape)
    wmask = ndimage.map_coordinates(mask.astype(np.float32), coords, order=1, mode="constant").reshape(vol.shape) > 0.5
    return warped, wmask


def _lesion(rng, brain, hemisphere, radius_range, min_voxels=8):
    """An irregular blob inside ``brain`` in one hemisphere (axis 0 is left-right)."""
    G = brain.shape[0]
    mid = G // 2
    side = np.zeros_like(brain)
    side[:mid] = hemisphere == 0
    side[mid:] = hemisphere == 1
    # Keep lesions off the midline and the brain's edge: erode the allowed region.
    allowed = ndimage.binary_erosion(brain & side, iterations=2)
    candidates = np.argwhere(allowed)
    if len(candidates) == 0:
        raise ValueError("no room for a lesion in this brain mask")
    for _ in range(50):
        centre = candidates[rng.integers(len(candidates))]
        radii = rng.uniform(*radius_range, size=3)
        idx = np.indices(brain.shape).astype(float)
        ell = sum(((idx[i] - centre[i]) / radii[i]) ** 2 for i in range(3))
        rough = _smooth_field(rng, brain.shape, 1.5)
        blob = (ell + 0.6 * rough) < 1.0
        blob &= brain & side
        blob = ndimage.binary_opening(blob)
        if blob.sum() >= min_voxels:
            lab, n = ndimage.label(blob)
            if n > 1:  # keep the largest connected piece
                sizes = ndimage.sum(blob, lab, range(1, n + 1))
                blob = lab == (1 + int(np.argmax(sizes)))
            return blob
    raise ValueError("could not place a lesion of the requested size")


def generate(
    n_subjects: int = 400,
    grid: int = 48,
    seed: int = 0,
    max_lesions: int = 2,
    radius_mm: tuple[float, float] = (8.0, 20.0),
    contrast: tuple[float, float] = (0.35, 0.7),
    noise: float = 0.03,
    bias: float = 0.15,
    split_fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    max_rot_deg: float = 3.0,
) -> StrokeData:
    """Generate ``n_subjects`` subjects, half with lesions (balanced), split by subject.

    Subject variation: rotation up to ``max_rot_deg`` about each axis, scale +-4%, shift
    up to grid/64 voxels, a smooth deformation of up to grid/48 voxels.

    Parameters
    ----------
    n_subjects : int, optional
        Number of subjects, even and at least 4 (default 400).
    grid : int, optional
        Side of the volume cube in voxels (default 48).
    seed : int, optional
        Seed of the random generator (default 0).
    max_lesions : int, optional
        Each positive subject gets 1 to ``max_lesions`` lesions (default 2).
    radius_mm : tuple of float, optional
        Range of each lesion ellipsoid's radii in mm (default 8-20).
    contrast : tuple of float, optional
        Range of the fraction by which lesion intensity is reduced (default 0.35-0.7).
    noise : float, optional
        Standard deviation of the Gaussian noise added inside the brain (default 0.03).
    bias : float, optional
        Strength of the multiplicative bias field ``exp(bias * field)``, ``field`` in
        [-1, 1] (default 0.15).
    split_fractions : tuple of float, optional
        Train, validation and test fractions, applied within each class (default
        ``(0.7, 0.15, 0.15)``); test takes what remains after rounding.
    max_rot_deg : float, optional
        Largest rotation about each axis, in degrees (default 3).

    Returns
    -------
    StrokeData
        The subjects, with ids ``0 .. n_subjects - 1``.

    Raises
    ------
    ValueError
        If ``n_subjects`` is odd or below 4, ``contrast`` does not satisfy
        ``0 < low <= high < 1``, ``max_lesions`` is below 1, ``noise`` or ``bias`` is
        negative, ``grid`` is below 16, or a lesion cannot be placed.
    """
    if n_subjects < 4 or n_subjects % 2:
        raise ValueError(f"n_subjects must be an even number of at least 4, got {n_subjects}")
    if not (0 < contrast[0] <= contrast[1] < 1):
        raise ValueError(f"contrast must satisfy 0 < low <= high < 1, got {contrast}")
    if max_lesions < 1 or noise < 0 or bias < 0:
        raise ValueError("max_lesions must be >= 1 and noise, bias non-negative")
    t1, bm, affine = template(grid)
    voxel_mm = float(np.abs(affine[0, 0]))
    radius_vox = (radius_mm[0] / voxel_mm, radius_mm[1] / voxel_mm)
    rng = np.random.default_rng(seed)
    y = np.zeros(n_subjects, dtype=np.int64)
    y[rng.permutation(n_subjects)[: n_subjects // 2]] = 1
    X = np.zeros((n_subjects, 1, grid, grid, grid), np.float32)
    lesions = np.zeros((n_subjects, grid, grid, grid), bool)
    brains = np.zeros_like(lesions)
    hemi = np.full(n_subjects, -1, dtype=np.int64)
    for i in range(n_subjects):
        vol, brain = _warp(rng, t1, bm, max_rot_deg=max_rot_deg, max_scale=0.04, max_shift=grid / 64, deform_vox=grid / 48)
        if y[i]:
            hemi[i] = rng.integers(2)
            for _ in range(rng.integers(1, max_lesions + 1)):
                blob = _lesion(rng, brain, hemi[i], radius_vox)
                # Soft edge so the lesion is not a hard-edged cut-out.
                soft = ndimage.gaussian_filter(blob.astype(float), 0.7)
                vol = vol * (1 - rng.uniform(*contrast) * np.clip(soft * 1.5, 0, 1))
                lesions[i] |= blob
        field = np.exp(bias * _smooth_field(rng, vol.shape, grid / 4))
        vol = vol * field + noise * rng.standard_normal(vol.shape) * brain
        X[i, 0] = np.clip(vol, 0, None)
        brains[i] = brain
    split = _split_subjects(rng, y, split_fractions)
    return StrokeData(X=X, lesion=lesions, brain=brains, y=y, hemisphere=hemi,
                      subject=np.arange(n_subjects), split=split, affine=affine)


def _split_subjects(rng, y, fractions) -> np.ndarray:
    """Stratified split by subject (one volume per subject)."""
    split = np.empty(len(y), dtype="<U5")
    for cls in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == cls))
        n_train = int(round(fractions[0] * len(idx)))
        n_val = int(round(fractions[1] * len(idx)))
        split[idx[:n_train]], split[idx[n_train : n_train + n_val]], split[idx[n_train + n_val :]] = "train", "val", "test"
    return split


def lesion_centre(mask: np.ndarray) -> np.ndarray:
    """Return the lesion voxel nearest the lesions' centroid.

    The voxel is inside a lesion even when there are two (the centroid of two lesions can
    fall between them). For slicing figures.

    Parameters
    ----------
    mask : numpy.ndarray
        3-D boolean lesion mask.

    Returns
    -------
    numpy.ndarray
        Integer voxel coordinates, shape ``(3,)``.

    Raises
    ------
    ValueError
        If the mask has no lesion voxel.
    """
    vox = np.argwhere(mask)
    if len(vox) == 0:
        raise ValueError("the mask has no lesion voxel")
    return vox[np.argmin(((vox - vox.mean(0)) ** 2).sum(1))]


def save_nifti(data: StrokeData, i: int, folder) -> tuple[Path, Path]:
    """Write subject ``i`` as ``sub-XXXX_T1w.nii.gz`` and ``sub-XXXX_lesion.nii.gz`` (atomically).

    ``XXXX`` is the subject id, zero-padded to 4 digits; the lesion mask is stored as
    ``uint8``, and both images use ``data.affine``.

    Parameters
    ----------
    data : StrokeData
        The subjects.
    i : int
        Index of the subject to write.
    folder : str or os.PathLike
        Destination folder (created if missing).

    Returns
    -------
    tuple of pathlib.Path
        Paths of the volume and of the lesion mask.
    """
    import nibabel as nib

    from ..io import atomic_write_bytes

    folder = Path(folder)
    name = f"sub-{int(data.subject[i]):04d}"
    paths = folder / f"{name}_T1w.nii.gz", folder / f"{name}_lesion.nii.gz"
    for path, arr in zip(paths, (data.X[i, 0], data.lesion[i].astype(np.uint8))):
        img = nib.Nifti1Image(arr, data.affine)
        atomic_write_bytes(path, gzip.compress(img.to_bytes(), mtime=0))
    return paths


def load(path) -> StrokeData:
    """Load volumes written with :meth:`StrokeData.to_arrays` (an ``.npz`` file).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file.

    Returns
    -------
    StrokeData
        The loaded subjects.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    TypeError
        If the file's arrays do not match the fields of :class:`StrokeData`.
    """
    from ..io import load_npz

    if not Path(path).exists():
        raise FileNotFoundError(f"{path} is missing")
    return StrokeData(**load_npz(path))
