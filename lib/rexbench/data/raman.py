"""The three simulated Raman data sets of SpecReX (single, double and complex peak).

Follows the authors' generator (REFERENCES.md section 2): per spectrum, Gaussian peaks
scaled to their height, one "faux" peak away from every real peak, a cubic-spline
baseline, additive Gaussian noise, a random shift by ``int(triangular(-24, 0, 24))``
points, a 24-point crop at each end and SNV normalisation.

One deliberate deviation, the generator's intent: the null class 2 carries a *strict*
subset of a class's discriminative peaks. For the single-peak set the only strict subset
of one peak is the empty set, so its class-2 spectra carry no discriminative peak (the
published generator put the peak itself in, making ~2,500 class-2 spectra identical in
kind to class 0/1 spectra).
"""
from __future__ import annotations

from pathlib import Path

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from scipy.interpolate import CubicSpline

# (position, sigma, height)
COMPLEX_SHARED = list(
    zip(
        [100, 800, 1400, 700, 1002, 1400, 1390, 1410, 1500, 1750, 550, 530, 200, 250, 335, 410, 1020],
        [200, 75, 250, 10, 2, 30, 4, 3, 3, 8, 4, 4, 6, 6, 5, 7, 5],
        [10000, 5000, 5000, 5500, 7000, 4000, 700, 650, 500, 800, 800, 750, 300, 400, 300, 400, 500],
    )
)


@dataclass(frozen=True)
class RamanSpec:
    """Definition of one simulated data set.

    Attributes
    ----------
    name : str
        Data set name (``"single"``, ``"double"`` or ``"complex"``).
    raw_length : int
        Number of points of a spectrum before cropping.
    class_peaks : dict
        Discriminative peaks by class (0 and 1), each a list of
        ``(position, sigma, height)`` tuples on the raw axis.
    shared_peaks : list
        ``(position, sigma, height)`` peaks added to every spectrum (default none).
    crop : int
        Points cropped from each end after the shift (default 24).
    max_shift : int
        Bound of the triangular random shift, in points (default 24).
    baseline_cap : float
        Scale of the first baseline knot's random height; the knots' scales fall
        linearly to 0 (default 2000).
    noise : float
        Standard deviation of the additive Gaussian noise (default 50).
    """

    name: str
    raw_length: int
    class_peaks: dict  # class -> list of (pos, sigma, height) discriminative peaks
    shared_peaks: list = field(default_factory=list)
    crop: int = 24
    max_shift: int = 24
    baseline_cap: float = 2000.0
    noise: float = 50.0

    @property
    def length(self) -> int:
        """int: Number of points of a cropped spectrum (``raw_length - 2 * crop``)."""
        return self.raw_length - 2 * self.crop

    def real_peak_positions(self) -> list[int]:
        """Return the raw-axis positions of every discriminative and shared peak.

        Returns
        -------
        list of int
            Positions of all classes' discriminative peaks, then of the shared peaks.
        """
        return [p for peaks in self.class_peaks.values() for p, _, _ in peaks] + [p for p, _, _ in self.shared_peaks]


DATASETS = {
    "single": RamanSpec("single", 900, {0: [(250, 4, 4000)], 1: [(750, 4, 4000)]}),
    "double": RamanSpec(
        "double", 900, {0: [(250, 10, 4000), (700, 15, 3000)], 1: [(150, 10, 4000), (750, 15, 3000)]}
    ),
    "complex": RamanSpec(
        "complex", 1800, {0: [(370, 5, 1600)], 1: [(1100, 10, 1200)]}, shared_peaks=COMPLEX_SHARED
    ),
}

MAX_PEAKS = 2  # most discriminative peaks any spectrum carries


@dataclass
class RamanData:
    """Spectra with labels and the ground truth of every spectrum.

    Every attribute is an array whose first axis indexes the N spectra.

    Attributes
    ----------
    X : numpy.ndarray
        SNV-normalised spectra, ``float32``, shape ``(N, 1, L)``.
    y : numpy.ndarray
        Class labels (0, 1, or the null class 2), ``int64``, shape ``(N,)``.
    peak_pos : numpy.ndarray
        Positions of the discriminative peaks present in each spectrum, in cropped-axis
        points, shape ``(N, MAX_PEAKS)`` (NaN where absent).
    peak_sigma : numpy.ndarray
        Widths (sigma, in points) of those peaks, shape ``(N, MAX_PEAKS)`` (NaN where
        absent).
    faux_pos : numpy.ndarray
        Position of each spectrum's faux peak, in cropped-axis points, shape ``(N,)``.
    faux_sigma : numpy.ndarray
        Width (sigma) of each faux peak, shape ``(N,)``.
    shift : numpy.ndarray
        Random shift applied to each spectrum, in points, shape ``(N,)``.
    source_class : numpy.ndarray
        The class whose peaks a spectrum carries (for class 2, the class its subset
        was drawn from), shape ``(N,)``.
    split : numpy.ndarray
        ``"train"``, ``"val"`` or ``"test"`` for each spectrum, shape ``(N,)``.
    """

    X: np.ndarray
    y: np.ndarray
    peak_pos: np.ndarray
    peak_sigma: np.ndarray
    faux_pos: np.ndarray
    faux_sigma: np.ndarray
    shift: np.ndarray
    source_class: np.ndarray
    split: np.ndarray  # "train" / "val" / "test"

    def subset(self, idx) -> "RamanData":
        """Return the spectra selected by ``idx``.

        Parameters
        ----------
        idx : array_like or slice
            Index, slice or boolean mask applied to every array's first axis.

        Returns
        -------
        RamanData
            A new object holding the indexed arrays.
        """
        return RamanData(**{k: v[idx] for k, v in self.__dict__.items()})

    def of_split(self, split: str) -> "RamanData":
        """Return the spectra of one split.

        Parameters
        ----------
        split : {"train", "val", "test"}
            Split to select.

        Returns
        -------
        RamanData
            The spectra whose ``split`` equals ``split``.
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


def _gauss(x: np.ndarray, pos, sigma, height) -> np.ndarray:
    """Gaussian peaks scaled so that each one's maximum on the grid equals its height.

    ``pos``, ``sigma``, ``height``: arrays broadcastable to (N, 1); returns (N, L).
    """
    g = np.exp(-0.5 * ((x[None, :] - pos) / sigma) ** 2)
    return g / g.max(axis=1, keepdims=True) * height


def strict_subsets(peaks: list) -> list[tuple]:
    """Return every strict subset of ``peaks`` (including the empty one) as index tuples.

    Parameters
    ----------
    peaks : list
        Peaks of one class.

    Returns
    -------
    list of tuple of int
        Index tuples in order of size, from ``()`` up to subsets of ``len(peaks) - 1``
        elements.
    """
    n = len(peaks)
    return [c for r in range(n) for c in combinations(range(n), r)]


def _faux_positions(rng, n, spec: RamanSpec, min_dist: int = 100, margin: int = 100) -> np.ndarray:
    L = spec.raw_length
    real = np.asarray(spec.real_peak_positions())
    allowed = np.arange(margin, L - margin)
    allowed = allowed[(np.abs(allowed[:, None] - real[None, :]) >= min_dist).all(axis=1)]
    if allowed.size == 0:
        raise ValueError(f"{spec.name}: no faux-peak position is {min_dist} points from every real peak")
    # Uniform over [margin, L - margin) restricted to the allowed positions (rejection sampling).
    return rng.choice(allowed, size=n)


def generate(
    name: str,
    n_per_class: int = 5000,
    seed: int = 42,
    noise: float | None = None,
    baseline_cap: float | None = None,
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    split_seed: int = 42,
) -> RamanData:
    """Generate data set ``name`` in {single, double, complex}.

    ``n_per_class`` spectra of class 0 and of class 1, and ``n_per_class // 2`` class-2
    spectra drawn from each of them (published: 5000, so 15,000 in total). ``noise`` and
    ``baseline_cap`` default to the values the published data were made with (50, 2000).

    Parameters
    ----------
    name : {"single", "double", "complex"}
        Data set to generate (a key of ``DATASETS``).
    n_per_class : int, optional
        Spectra of each of classes 0 and 1 (default 5000).
    seed : int, optional
        Seed of the spectra's random generator (default 42).
    noise : float, optional
        Standard deviation of the additive noise; default: the data set's ``noise``.
    baseline_cap : float, optional
        Scale of the baseline's first knot; default: the data set's ``baseline_cap``.
    split_fractions : tuple of float, optional
        Train, validation and test fractions of the stratified split (default
        ``(0.8, 0.1, 0.1)``).
    split_seed : int, optional
        Seed of the split (default 42).

    Returns
    -------
    RamanData
        ``2 * n_per_class + 2 * (n_per_class // 2)`` spectra with their ground truth,
        ordered class 0, its class-2 spectra, class 1, its class-2 spectra.

    Raises
    ------
    ValueError
        If ``name`` is unknown, ``n_per_class`` is below 2, ``noise`` or
        ``baseline_cap`` is negative, or the split fractions are not positive or do not
        sum to 1.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown Raman data set {name!r}; choose from {sorted(DATASETS)}")
    if n_per_class < 2:
        raise ValueError(f"n_per_class must be at least 2, got {n_per_class}")
    spec = DATASETS[name]
    noise = spec.noise if noise is None else float(noise)
    cap = spec.baseline_cap if baseline_cap is None else float(baseline_cap)
    if noise < 0 or cap < 0:
        raise ValueError(f"noise ({noise}) and baseline_cap ({cap}) must be non-negative")
    rng = np.random.default_rng(seed)
    L = spec.raw_length
    x = np.arange(L, dtype=np.float64)

    # Which discriminative peaks each spectrum carries.
    labels, sources, present = [], [], []
    for cls in (0, 1):
        peaks = spec.class_peaks[cls]
        full = tuple(range(len(peaks)))
        labels += [cls] * n_per_class
        sources += [cls] * n_per_class
        present += [full] * n_per_class
        subs = strict_subsets(peaks)
        n_null = n_per_class // 2
        pick = rng.integers(len(subs), size=n_null)
        labels += [2] * n_null
        sources += [cls] * n_null
        present += [subs[i] for i in pick]
    n = len(labels)
    y = np.asarray(labels, dtype=np.int64)
    source = np.asarray(sources, dtype=np.int64)

    spectra = np.zeros((n, L))
    raw_pos = np.full((n, MAX_PEAKS), np.nan)
    sig = np.full((n, MAX_PEAKS), np.nan)
    for i, (cls, idx) in enumerate(zip(source, present)):
        for j, k in enumerate(idx):
            raw_pos[i, j], sig[i, j], _ = spec.class_peaks[cls][k]
    # Discriminative peaks, vectorised per peak slot.
    for j in range(MAX_PEAKS):
        has = ~np.isnan(raw_pos[:, j])
        if has.any():
            heights = np.array(
                [spec.class_peaks[c][k][2] for c, idx in zip(source[has], np.array(present, dtype=object)[has]) for k in idx[j : j + 1]]
            )
            spectra[has] += _gauss(x, raw_pos[has, j, None], sig[has, j, None], heights[:, None])
    for pos, s, h in spec.shared_peaks:
        spectra += _gauss(x, np.array([[pos]]), np.array([[s]]), np.array([[h]]))
    # One faux peak, at least 100 points from every real peak.
    faux_pos = _faux_positions(rng, n, spec)
    faux_sigma = rng.integers(10, 20, size=n)
    faux_height = rng.choice([3000.0, 4000.0], size=n)
    spectra += _gauss(x, faux_pos[:, None], faux_sigma[:, None], faux_height[:, None])
    # Cubic-spline baseline through 5 knots with decreasing random heights.
    knots = np.linspace(0, L, 5)
    knot_h = rng.uniform(0, 1, size=(n, 5)) * np.linspace(cap, 0, 5)[None, :]
    spectra += CubicSpline(knots, knot_h, axis=1)(x)
    spectra += rng.normal(0.0, noise, size=spectra.shape)
    # Shift, then crop: cropped[i] = raw[i + crop - shift].
    shift = np.array([int(v) for v in rng.triangular(-spec.max_shift, 0, spec.max_shift, size=n)])
    cols = np.arange(spec.length)[None, :] + spec.crop - shift[:, None]
    X = np.take_along_axis(spectra, cols, axis=1)
    # SNV normalisation last.
    X = (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True)

    split = _split(y, split_fractions, split_seed)
    offset = (shift - spec.crop)[:, None]
    return RamanData(
        X=X.astype(np.float32)[:, None, :],
        y=y,
        peak_pos=raw_pos + offset,
        peak_sigma=sig,
        faux_pos=(faux_pos + offset[:, 0]).astype(np.float64),
        faux_sigma=faux_sigma.astype(np.float64),
        shift=shift,
        source_class=source,
        split=split,
    )


def _split(y: np.ndarray, fractions, seed: int) -> np.ndarray:
    """Stratified train/val/test split with a fixed seed."""
    from sklearn.model_selection import train_test_split

    if not np.isclose(sum(fractions), 1.0) or min(fractions) <= 0:
        raise ValueError(f"split fractions must be positive and sum to 1, got {fractions}")
    idx = np.arange(len(y))
    train, rest = train_test_split(idx, train_size=fractions[0], stratify=y, random_state=seed)
    val, test = train_test_split(rest, train_size=fractions[1] / (fractions[1] + fractions[2]), stratify=y[rest], random_state=seed)
    split = np.empty(len(y), dtype="<U5")
    split[train], split[val], split[test] = "train", "val", "test"
    return split


def peak_windows(data: RamanData, i: int, width: float = 2.0) -> list[tuple[float, float]]:
    """Return the +-``width``-sigma windows of spectrum ``i``'s discriminative peaks.

    Parameters
    ----------
    data : RamanData
        The data set.
    i : int
        Index of the spectrum.
    width : float, optional
        Half-width of each window in multiples of the peak's sigma (default 2).

    Returns
    -------
    list of tuple of float
        ``(low, high)`` bounds in cropped-axis points, one per peak present (none for a
        class-2 spectrum without peaks).
    """
    return [
        (p - width * s, p + width * s)
        for p, s in zip(data.peak_pos[i], data.peak_sigma[i])
        if not np.isnan(p)
    ]


def load(path) -> RamanData:
    """Load a data set written with :meth:`RamanData.to_arrays` (an ``.npz`` file).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file.

    Returns
    -------
    RamanData
        The loaded data set.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    TypeError
        If the file's arrays do not match the fields of :class:`RamanData`.
    """
    from ..io import load_npz

    if not Path(path).exists():
        raise FileNotFoundError(f"{path} is missing")
    return RamanData(**load_npz(path))
