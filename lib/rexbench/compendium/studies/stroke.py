"""Part II (3D ReX on brain volumes): paths, the detector, inputs and sweep tasks."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ...data.stroke import StrokeData, load as _load
from ...explain import BaselineOcclusion, ConstantOcclusion, cube_feature_mask, make_explainer
from ...models import CNN3D, load_cnn3d, save_cnn3d
from ...training import train_classifier
from . import require

OCCLUSIONS = ("zero", "min", "mean", "context")
BASELINES = ["saliency", "integrated_gradients", "gradcam", "gradient_shap", "kernel_shap"]
REX_BATCH = 16  # mutants per forward pass: the 3D CNN's cost per query grows with the batch (benchmarks/bench_batch.py)


def volumes_path(data_dir) -> Path:
    """Return where chapter 05 writes the stroke volumes.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.

    Returns
    -------
    pathlib.Path
        ``data_dir/stroke/volumes.npz``.
    """
    return Path(data_dir) / "stroke" / "volumes.npz"


def model_path(data_dir) -> Path:
    """Return where chapter 06 writes the 3D CNN.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.

    Returns
    -------
    pathlib.Path
        ``data_dir/stroke/models/cnn3d.pt``.
    """
    return Path(data_dir) / "stroke" / "models" / "cnn3d.pt"


def explanation_path(data_dir, stem: str) -> Path:
    """Return the path of an explanation artifact.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.
    stem : str
        File stem.

    Returns
    -------
    pathlib.Path
        ``data_dir/stroke/explanations/<stem>.npz``.
    """
    return Path(data_dir) / "stroke" / "explanations" / f"{stem}.npz"


def make_volumes(data_dir, *, n_subjects: int, grid: int, seed: int) -> StrokeData:
    """Generate the simulated stroke cohort, or load it if these parameters made it already.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder; the cohort is cached at :func:`volumes_path`.
    n_subjects : int
        Subjects (half with a lesion).
    grid : int
        Voxels per axis.
    seed : int
        The generator's seed.

    Returns
    -------
    StrokeData
        The volumes, lesion masks and metadata.
    """
    from ...data.stroke import generate
    from ..artifacts import cached_npz

    params = {"n_subjects": n_subjects, "grid": grid, "seed": seed}
    return StrokeData(**cached_npz(volumes_path(data_dir), lambda: generate(n_subjects, grid, seed=seed).to_arrays(),
                                   notebook="05_stroke_volumes", params=params))


def export_nifti(data_dir, data: StrokeData, *, n_subjects: int, grid: int, seed: int) -> Path:
    """Write every volume and its lesion mask as NIfTI (once per cohort), for viewers.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder; files go to ``stroke/nifti/`` under it, with a marker
        ``done.json`` and its manifest once all are written.
    data : StrokeData
        The cohort (as :func:`make_volumes` returns it).
    n_subjects, grid, seed : int
        The cohort's parameters (the marker's cache key).

    Returns
    -------
    pathlib.Path
        The NIfTI folder.
    """
    from ...data.stroke import save_nifti
    from ..artifacts import atomic_write_text, is_complete, write_manifest

    params = {"n_subjects": n_subjects, "grid": grid, "seed": seed}
    nifti_dir = Path(data_dir) / "stroke" / "nifti"
    marker = nifti_dir / "done.json"
    if not is_complete(marker, params):
        for i in range(len(data.y)):
            save_nifti(data, i, nifti_dir)
        atomic_write_text(marker, f'{{"subjects": {len(data.y)}}}')
        write_manifest(marker, notebook="05_stroke_volumes", params=params, inputs={"volumes": volumes_path(data_dir)})
    return nifti_dir


def load_volumes(data_dir) -> StrokeData:
    """Load the volumes chapter 05 wrote.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.

    Returns
    -------
    StrokeData
        The volumes.

    Raises
    ------
    FileNotFoundError
        If the artifact is missing or incomplete.
    """
    return _load(require(volumes_path(data_dir), "05_stroke_volumes"))


def load_model(data_dir):
    """Load the 3D CNN chapter 06 trained, in eval mode.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.

    Returns
    -------
    CNN3D
        The model.

    Raises
    ------
    FileNotFoundError
        If the model artifact or its config file is missing or incomplete.
    """
    return load_cnn3d(require(model_path(data_dir), "06_stroke_model")).eval()


def train_detector(data_dir, *, epochs: int, batch_size: int, max_lr: float, seed: int):
    """Return the 3D CNN, trained on the training subjects (or loaded if trained with these settings).

    A default :class:`~rexbench.models.CNN3D` is trained with AdamW
    (:func:`~rexbench.training.train_classifier`, ``optimizer="adam"``) and validated on
    the validation subjects (see :func:`~rexbench.compendium.chapter.train_or_load`).

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.
    epochs, batch_size, max_lr, seed
        Training settings.

    Returns
    -------
    model : CNN3D
        The trained model, in eval mode.
    history : list of dict
        Its per-epoch training history.

    Raises
    ------
    FileNotFoundError
        If the volumes artifact is missing or incomplete.
    """
    from ..chapter import train_or_load

    data = load_volumes(data_dir)
    train, val = data.of_split("train"), data.of_split("val")
    params = {"epochs": epochs, "batch_size": batch_size, "max_lr": max_lr, "seed": seed}
    return train_or_load(
        model_path(data_dir), params, build=CNN3D,
        train=lambda m: train_classifier(m, train.X, train.y, val.X, val.y, epochs=epochs, batch_size=batch_size,
                                         max_lr=max_lr, seed=seed, optimizer="adam"),
        save=save_cnn3d, load=load_cnn3d, notebook="06_stroke_model", inputs={"data": volumes_path(data_dir)},
        seed=seed)


def occlusion(name: str, context: np.ndarray | None = None):
    """Return ReX's occlusion called ``name``.

    A constant (0, the volume's min or mean) or the lesion-free ``context`` volume.

    Parameters
    ----------
    name : {"zero", "min", "mean", "context"}
        The occlusion.
    context : numpy.ndarray, optional
        The context volume; required for ``"context"``.

    Returns
    -------
    ConstantOcclusion or BaselineOcclusion
        The occlusion.

    Raises
    ------
    ValueError
        If ``name`` is unknown, or ``"context"`` is asked for without ``context``.
    """
    if name not in OCCLUSIONS:
        raise ValueError(f"unknown occlusion {name!r}; choose from {list(OCCLUSIONS)}")
    if name == "context":
        if context is None:
            raise ValueError("the context occlusion needs the context volume")
        return BaselineOcclusion(context)
    return ConstantOcclusion(0.0 if name == "zero" else name)


def rex_settings(occ: str, context, *, iters: int, min_box_size: int, search_limit: int, seed: int) -> dict:
    """Return ReX's constructor settings for the volumes.

    Degenerate inputs are flagged, not raised, and at most ``REX_BATCH`` mutants go
    through the model per forward pass.

    Parameters
    ----------
    occ : str
        The occlusion's name (see :func:`occlusion`).
    context : numpy.ndarray or None
        The context volume, for ``occ="context"``.
    iters, min_box_size, search_limit, seed
        ReX settings.

    Returns
    -------
    dict
        Keyword arguments of :func:`rexbench.explain.make_explainer` for ``"rex"``.

    Raises
    ------
    ValueError
        If the occlusion is invalid.
    """
    return {"iters": iters, "min_box_size": min_box_size, "search_limit": search_limit,
            "occlusion": occlusion(occ, context), "seed": seed, "on_degenerate": "flag", "max_batch_size": REX_BATCH}


def baseline_settings(method: str, *, ig_steps: int, gshap_samples: int, kshap_cube: int, kshap_samples: int,
                      grid: int, seed: int) -> dict:
    """Return the constructor settings of a gradient or SHAP baseline on volumes of side ``grid``.

    Parameters
    ----------
    method : str
        One of ``BASELINES``.
    ig_steps : int
        Integrated-gradients steps.
    gshap_samples : int
        GradientSHAP samples.
    kshap_cube : int
        Side of KernelSHAP's cubic features, in voxels.
    kshap_samples : int
        KernelSHAP samples.
    grid : int
        Side of the volumes, in voxels.
    seed : int
        Seed of the SHAP methods.

    Returns
    -------
    dict
        Keyword arguments of :func:`rexbench.explain.make_explainer` for ``method``.

    Raises
    ------
    KeyError
        If ``method`` is not one of ``BASELINES``.
    """
    return {
        "saliency": {},
        "integrated_gradients": {"n_steps": ig_steps, "internal_batch_size": 16},
        "gradcam": {},
        "gradient_shap": {"n_samples": gshap_samples, "stdevs": 0.05, "batch": max(gshap_samples, 1), "seed": seed},
        "kernel_shap": {"n_samples": kshap_samples, "batch": 16, "seed": seed,
                        "feature_mask": cube_feature_mask((grid,) * 3, kshap_cube)},
    }[method]


def rex_task(settings: dict, model, x: torch.Tensor, t: torch.Tensor, keys=None) -> dict:
    """Run one sweep task: ReX maps and sufficient explanations of volumes ``x``, one at a time.

    Parameters
    ----------
    settings : dict
        ReX settings (see :func:`rex_settings`).
    model : torch.nn.Module
        The detector.
    x : torch.Tensor
        Volumes, shape ``(N, 1, G, G, G)``.
    t : torch.Tensor
        Target class of each volume.
    keys : sequence of int, optional
        Each volume's key (its index in the cohort): its draws are seeded by (seed, key).

    Returns
    -------
    dict of str to numpy.ndarray
        ``attr`` (maps), ``suff_masks`` (sufficient explanations), ``suff_voxels``
        (their sizes), ``queries`` (model queries of both), ``degenerate`` and
        ``seconds`` (per volume).
    """
    explainer = make_explainer("rex", model, **settings)
    maps, masks, sizes, queries, degenerate, seconds = [], [], [], [], [], []
    for i in range(len(x)):
        t0 = time.perf_counter()
        key = None if keys is None else keys[i : i + 1]
        e = explainer.attribute(x[i : i + 1], target=t[i : i + 1], keys=key)
        suff = explainer.sufficient_explanation(x[i : i + 1], target=t[i : i + 1], attributions=e, keys=key)
        seconds.append(time.perf_counter() - t0)
        maps.append(e.maps[0, 0].numpy()); masks.append(suff.masks[0, 0].numpy())
        sizes.append(suff.sizes[0]); queries.append(e.stats["queries"][0] + suff.queries[0])
        degenerate.append(e.stats["degenerate"][0])
    return {"attr": np.stack(maps), "suff_masks": np.stack(masks), "suff_voxels": np.array(sizes),
            "queries": np.array(queries), "degenerate": np.array(degenerate), "seconds": np.array(seconds)}


def baseline_task(method: str, settings: dict, model, x: torch.Tensor, t: torch.Tensor, keys=None) -> dict:
    """Run one sweep task: a baseline's maps of volumes ``x``, one volume per call.

    Parameters
    ----------
    method : str
        The baseline's name.
    settings : dict
        Its settings (see :func:`baseline_settings`).
    model : torch.nn.Module
        The detector.
    x : torch.Tensor
        Volumes, shape ``(N, 1, G, G, G)``.
    t : torch.Tensor
        Target class of each volume.
    keys : sequence of int, optional
        Each volume's key (its index in the cohort): its draws are seeded by (seed, key).

    Returns
    -------
    dict of str to numpy.ndarray
        ``attr`` (maps, ``(N, G, G, G)``) and ``seconds`` (the mean time per volume,
        repeated for each).
    """
    explainer = make_explainer(method, model, **settings)
    t0 = time.perf_counter()
    attrs = [explainer.attribute(x[i : i + 1], target=t[i : i + 1], keys=None if keys is None else keys[i : i + 1])
             .maps[0, 0].numpy() for i in range(len(x))]
    return {"attr": np.stack(attrs), "seconds": np.full(len(x), (time.perf_counter() - t0) / len(x))}


def explanation_cells(data_dir, model, sub, idx, context, *, occlusions, context_sigma: float, n_explain: int,
                      rex_iters: int, rex_min_box: int, rex_search_limit: int, ig_steps: int, gshap_samples: int,
                      kshap_cube: int, kshap_samples: int, seed: int) -> tuple[dict, dict, dict]:
    """Describe the explanations sweep of the volumes: one cell per ReX occlusion and per baseline.

    Each volume is keyed by its index in the test split. Two occlusions that fill every
    volume with the same constant make the same mutants and, seeded alike, the same maps:
    the first is computed, the others copy it (:func:`same_fills`).

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.
    model : torch.nn.Module
        The detector.
    sub : StrokeData
        The volumes explained.
    idx : numpy.ndarray
        Their indices in the test split (their keys).
    context : numpy.ndarray
        The "context" occlusion's volume.
    occlusions : sequence of str
        ReX's occlusions (:data:`OCCLUSIONS`).
    context_sigma : float
        The Gaussian blur that made ``context`` (recorded in the cells' parameters).
    n_explain : int
        The chapter's parameter (recorded).
    rex_iters, rex_min_box, rex_search_limit : int
        ReX's settings (:func:`rex_settings`).
    ig_steps, gshap_samples, kshap_cube, kshap_samples : int
        The baselines' settings (:func:`baseline_settings`).
    seed : int
        Seed of the stochastic methods.

    Returns
    -------
    tuple of dict
        The cells for :func:`rexbench.compendium.sweep.run_cells` (keyed (method,
        occlusion); the baselines' occlusion is ""), the occlusions computed as another
        (:func:`same_fills`' second result) and each occlusion's fill per volume.
    """
    from ...explain import make_explainer
    from ..sweep import Cell

    X = torch.as_tensor(sub.X)
    target = torch.ones(len(idx), dtype=torch.long)
    grid = X.shape[-1]
    rex = {occ: rex_settings(occ, context, iters=rex_iters, min_box_size=rex_min_box, search_limit=rex_search_limit,
                             seed=seed) for occ in occlusions}
    base = {m: baseline_settings(m, ig_steps=ig_steps, gshap_samples=gshap_samples, kshap_cube=kshap_cube,
                                 kshap_samples=kshap_samples, grid=grid, seed=seed) for m in BASELINES}
    # Keys: each volume's index in the test split seeds its draws.
    common = {"n_explain": n_explain, "subjects": sub.subject.tolist(), "keys": idx.tolist()}
    inputs = {"data": volumes_path(data_dir), "model": model_path(data_dir)}
    fill, same_as = same_fills(occlusions, context, X)
    cells = {}
    for occ in occlusions:
        params = {**common, "occlusion": occ, "context_sigma": context_sigma,
                  "explainer": make_explainer("rex", model, **rex[occ]).params}
        if occ in same_as:
            params["same_fill_as"] = same_as[occ]
        cells["rex", occ] = Cell(explanation_path(data_dir, f"rex_{occ}"), params, rex_task,
                                 lambda lo, hi, occ=occ: (rex[occ], model, X[lo:hi], target[lo:hi], idx[lo:hi]),
                                 len(idx), inputs, same_as=("rex", same_as[occ]) if occ in same_as else None)
    for method in BASELINES:
        params = {**common, "explainer": make_explainer(method, model, **base[method]).params}
        cells[method, ""] = Cell(explanation_path(data_dir, method), params, baseline_task,
                                 lambda lo, hi, m=method: (m, base[m], model, X[lo:hi], target[lo:hi], idx[lo:hi]),
                                 len(idx), inputs)
    return cells, same_as, fill


def same_fills(occlusions, context, X: torch.Tensor) -> tuple[dict, dict]:
    """Find the occlusions that fill every explained volume with the same constant.

    Their mutants, and so their maps, seeded alike, are the same.

    Parameters
    ----------
    occlusions : sequence of str
        Occlusion names, in the order they are computed.
    context : numpy.ndarray or None
        The context volume, for ``"context"``.
    X : torch.Tensor
        The explained volumes.

    Returns
    -------
    fills : dict
        Each occlusion's constant per volume (a list of float), or None if it is not a
        constant.
    same_as : dict
        ``{occlusion: twin computed first}`` for each occlusion whose constants equal an
        earlier one's.

    Raises
    ------
    ValueError
        If an occlusion is invalid.
    """
    fills = {}
    for name in occlusions:
        occ = occlusion(name, context)
        fills[name] = [occ.fill(x.numpy()) for x in X] if isinstance(occ, ConstantOcclusion) else None
    same_as = {}
    for i, name in enumerate(occlusions):
        twin = next((o for o in occlusions[:i]
                     if o not in same_as and fills[name] is not None and fills[o] == fills[name]), None)
        if twin is not None:
            same_as[name] = twin
    return fills, same_as


def load_explanations(data_dir, stems) -> tuple[dict, np.ndarray]:
    """The explanation artifacts chapter 07 wrote (``{stem: arrays}``, e.g. stems
    ``rex_zero``) and the subjects they explain (from the first one's manifest).

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.
    stems : sequence of str
        Stems of the artifacts (:func:`explanation_path`); at least one.

    Returns
    -------
    maps : dict of str to dict
        Each stem's arrays (``{name: numpy.ndarray}``).
    subjects : numpy.ndarray
        The subjects explained (the ``subjects`` parameter of the first stem's manifest).

    Raises
    ------
    FileNotFoundError
        If an artifact is missing or incomplete (:func:`~rexbench.compendium.studies.require`).
    """
    from ..artifacts import load_npz, read_manifest

    maps = {stem: load_npz(require(explanation_path(data_dir, stem), "07_stroke_explanations")) for stem in stems}
    subjects = np.array(read_manifest(explanation_path(data_dir, stems[0]))["params"]["subjects"])
    return maps, subjects
