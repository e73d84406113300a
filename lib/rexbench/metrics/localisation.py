"""Localisation of attribution maps against ground-truth masks (any number of spatial axes),
through Quantus where it does the job."""
from __future__ import annotations

import numpy as np


def _check(a, s):
    a, s = np.asarray(a, dtype=np.float32), np.asarray(s)
    if a.shape != s.shape:
        raise ValueError(f"attributions {a.shape} and masks {s.shape} differ in shape")
    if not np.isfinite(a).all():
        raise ValueError("attributions contain NaN or inf")
    if not s.reshape(len(s), -1).any(axis=1).all():
        raise ValueError("every mask must contain at least one voxel (localisation needs a target)")
    return a, s.astype(bool)


def quantus_localisation(x, a, s) -> dict[str, np.ndarray]:
    """Compute per-sample Quantus 0.6 localisation scores.

    For batches shaped ``(N, C, *spatial)``: pointing game (first maximal voxel inside the
    mask), relevance mass accuracy, relevance rank accuracy (both higher is better) and
    sparseness (Gini; higher is more concise). Constant maps get NaN for every metric.

    Parameters
    ----------
    x : array_like
        Inputs, shape ``(N, C, *spatial)`` (channel first).
    a : array_like
        Attribution maps, the same shape as ``s``.
    s : array_like
        Ground-truth masks; every mask needs at least one voxel.

    Returns
    -------
    dict of str to numpy.ndarray
        ``"pointing_game"``, ``"mass_accuracy"``, ``"rank_accuracy"`` and
        ``"sparseness"``, each a ``float64`` array of shape ``(N,)``.

    Raises
    ------
    ValueError
        If ``a`` and ``s`` differ in shape, ``a`` contains NaN or inf, or a mask is empty.
    """
    import quantus

    a, s = _check(a, s)
    x = np.asarray(x, dtype=np.float32)
    # Quantus rejects constant maps (nothing to localise): score the others, NaN for those.
    flat = a.reshape(len(a), -1)
    ok = flat.max(axis=1) > flat.min(axis=1)
    out = {k: np.full(len(a), np.nan) for k in ("pointing_game", "mass_accuracy", "rank_accuracy", "sparseness")}
    if not ok.any():
        return out
    y = np.zeros(int(ok.sum()), dtype=np.int64)  # unused by these metrics
    kw = dict(model=None, x_batch=x[ok], y_batch=y, a_batch=a[ok], s_batch=s[ok], channel_first=True)
    for name, metric in [("pointing_game", quantus.PointingGame), ("mass_accuracy", quantus.RelevanceMassAccuracy),
                         ("rank_accuracy", quantus.RelevanceRankAccuracy)]:
        out[name][ok] = np.asarray(metric(disable_warnings=True)(**kw), dtype=np.float64)
    out["sparseness"][ok] = np.asarray(quantus.Sparseness(disable_warnings=True)(**{**kw, "s_batch": None}), dtype=np.float64)
    return out


def pointing_game_ties(a, s) -> np.ndarray:
    """Compute the pointing game counting ties, per sample.

    The score is the share of maximal voxels inside the mask (the hit rate under random
    tie-breaking), for maps with plateaus such as ReX's.

    Parameters
    ----------
    a : array_like
        Attribution maps, shape ``(N, ...)``.
    s : array_like
        Ground-truth masks, the same shape; every mask needs at least one voxel.

    Returns
    -------
    numpy.ndarray
        Scores in [0, 1], shape ``(N,)``.

    Raises
    ------
    ValueError
        If ``a`` and ``s`` differ in shape, ``a`` contains NaN or inf, or a mask is empty.
    """
    a, s = _check(a, s)
    a, s = a.reshape(len(a), -1), s.reshape(len(s), -1)
    top = a == a.max(axis=1, keepdims=True)
    return (top & s).sum(axis=1) / top.sum(axis=1)


def dice_iou(pred, truth) -> tuple[np.ndarray, np.ndarray]:
    """Compute the Dice and IoU of boolean masks, per sample.

    Parameters
    ----------
    pred : array_like
        Predicted masks, shape ``(N, ...)``; converted to bool.
    truth : array_like
        Ground-truth masks, the same number of voxels per sample.

    Returns
    -------
    dice : numpy.ndarray
        Dice scores, shape ``(N,)``; NaN where both masks are empty.
    iou : numpy.ndarray
        IoU scores, shape ``(N,)``; NaN where both masks are empty.
    """
    p = np.asarray(pred, bool).reshape(len(pred), -1)
    t = np.asarray(truth, bool).reshape(len(truth), -1)
    inter, psum, tsum = (p & t).sum(1), p.sum(1), t.sum(1)
    union = (p | t).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dice = np.where(psum + tsum > 0, 2 * inter / (psum + tsum), np.nan)
        iou = np.where(union > 0, inter / union, np.nan)
    return dice, iou


def _one(name: str, source, index=None):
    """The score ``name`` alone, from a function that computes several at once."""

    def fn(*args, **kwargs):
        out = source(*args, **kwargs)
        return out[name] if index is None else out[index]

    fn.__name__ = name
    fn.__doc__ = f"Per-sample {name}: ``{source.__name__}(...)`` reduced to that score."
    return fn


def _specs():
    from .base import MetricSpec

    return {
        "pointing_game": MetricSpec("pointing_game", _one("pointing_game", quantus_localisation), True, (0, 1),
                                    "the map's first maximal voxel lies in the lesion (Quantus)"),
        "pointing_game_ties": MetricSpec("pointing_game_ties", pointing_game_ties, True, (0, 1),
                                         "share of the map's maximal voxels in the lesion"),
        "mass_accuracy": MetricSpec("mass_accuracy", _one("mass_accuracy", quantus_localisation), True, (-1, 1),
                                    "share of the map's signed mass inside the lesion (Quantus)"),
        "rank_accuracy": MetricSpec("rank_accuracy", _one("rank_accuracy", quantus_localisation), True, (0, 1),
                                    "share of the lesion among the top-ranked voxels (Quantus)"),
        "sparseness": MetricSpec("sparseness", _one("sparseness", quantus_localisation), True, (0, 1),
                                 "Gini index of the absolute map (Quantus)"),
        "dice": MetricSpec("dice", _one("dice", dice_iou, 0), True, (0, 1),
                           "Dice of the sufficient explanation and the lesion"),
        "iou": MetricSpec("iou", _one("iou", dice_iou, 1), True, (0, 1), "IoU of the sufficient explanation and the lesion"),
    }


SPECS = _specs()
