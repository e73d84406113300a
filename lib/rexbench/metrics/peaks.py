"""Peak counts and ground-truth localisation of 1-D attribution maps."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.signal import find_peaks

COUNT_RULES = ("find_peaks_default", "prominence")


def _as_maps(attributions) -> np.ndarray:
    a = np.asarray(attributions, dtype=np.float64)
    a = a.reshape(a.shape[0], -1) if a.ndim > 1 else a[None]
    if not np.isfinite(a).all():
        raise ValueError("attributions contain NaN or inf")
    return a


def count_peaks(attributions, rule: str = "find_peaks_default", rel_prominence: float = 0.1) -> np.ndarray:
    """Count the peaks in each 1-D map.

    Each entry along the first axis of ``attributions`` is one map (flattened, so
    ``(N, 1, L)`` gives N maps of length L); a 1-D input is a single map.

    - ``"find_peaks_default"``: ``scipy.signal.find_peaks`` with default arguments, i.e.
      every local maximum, a plateau higher than both neighbours counting once (the count the
      SpecReX paper reports, as inferred).
    - ``"prominence"``: local maxima whose prominence is at least ``rel_prominence`` times
      the map's range; a flat (constant) map has no peak.

    Parameters
    ----------
    attributions : array_like
        Maps, shape ``(L,)`` or ``(N, ...)``.
    rule : {"find_peaks_default", "prominence"}, optional
        Counting rule (default ``"find_peaks_default"``).
    rel_prominence : float, optional
        Minimum prominence as a fraction of the map's range, in (0, 1], for
        ``"prominence"`` (default 0.1; checked for either rule).

    Returns
    -------
    numpy.ndarray
        Integer peak count per map, shape ``(N,)`` (``(1,)`` for a 1-D input).

    Raises
    ------
    ValueError
        If ``rule`` is unknown, ``rel_prominence`` is outside (0, 1], or the maps contain
        NaN or inf.
    """
    if rule not in COUNT_RULES:
        raise ValueError(f"unknown peak-count rule {rule!r}; choose from {COUNT_RULES}")
    if not 0 < rel_prominence <= 1:
        raise ValueError(f"rel_prominence must be in (0, 1], got {rel_prominence}")
    counts = []
    for row in _as_maps(attributions):
        if rule == "find_peaks_default":
            counts.append(len(find_peaks(row)[0]))
        else:
            span = row.max() - row.min()
            counts.append(0 if span == 0 else len(find_peaks(row, prominence=rel_prominence * span)[0]))
    return np.asarray(counts)


def window_mask(length: int, windows: Sequence[tuple[float, float]]) -> np.ndarray:
    """Return a boolean mask of the points of ``[0, length)`` inside any ``(lo, hi)`` window.

    Parameters
    ----------
    length : int
        Number of points.
    windows : sequence of tuple of float
        ``(lo, hi)`` windows; both ends are included.

    Returns
    -------
    numpy.ndarray
        ``bool`` array of shape ``(length,)``.
    """
    grid = np.arange(length)
    mask = np.zeros(length, dtype=bool)
    for lo, hi in windows:
        mask |= (grid >= lo) & (grid <= hi)
    return mask


def argmax_hit(attribution, windows) -> float:
    """Compute the pointing game for one 1-D map.

    The score is the share of its maximal points (ties included) inside the ground-truth
    windows, i.e. the hit rate under random tie-breaking. NaN if there is no window
    (nothing to point at).

    Parameters
    ----------
    attribution : array_like
        One map, shape ``(L,)`` or ``(1, ...)`` (only the first entry of a batch is
        used).
    windows : sequence of tuple of float
        Ground-truth ``(lo, hi)`` windows, ends included.

    Returns
    -------
    float
        Score in [0, 1], or NaN if no point lies in a window.

    Raises
    ------
    ValueError
        If the map contains NaN or inf.
    """
    a = _as_maps(attribution)[0]
    inside = window_mask(a.size, windows)
    if not inside.any():
        return float("nan")
    top = a == a.max()
    return float(inside[top].mean())


def mass_in_windows(attribution, windows) -> float:
    """Compute the share of the positive relevance inside the windows.

    This is Quantus' relevance mass accuracy on the positive part. NaN if the map has no
    positive relevance or there is no window.

    Parameters
    ----------
    attribution : array_like
        One map, shape ``(L,)`` or ``(1, ...)`` (only the first entry of a batch is
        used).
    windows : sequence of tuple of float
        Ground-truth ``(lo, hi)`` windows, ends included.

    Returns
    -------
    float
        Share in [0, 1], or NaN.

    Raises
    ------
    ValueError
        If the map contains NaN or inf.
    """
    a = _as_maps(attribution)[0]
    inside = window_mask(a.size, windows)
    pos = np.clip(a, 0, None)
    if not inside.any() or pos.sum() == 0:
        return float("nan")
    return float(pos[inside].sum() / pos.sum())


def mask_hits_window(mask, windows) -> bool:
    """Tell whether a (sufficient-explanation) mask keeps any point inside a window.

    Parameters
    ----------
    mask : array_like
        Mask over the points, any shape (flattened); converted to bool.
    windows : sequence of tuple of float
        Ground-truth ``(lo, hi)`` windows, ends included.

    Returns
    -------
    bool
        True if a kept point lies in a window.
    """
    m = np.asarray(mask, dtype=bool).reshape(-1)
    return bool((m & window_mask(m.size, windows)).any())


def _specs():
    import math

    from .base import MetricSpec

    return {
        "peak_count": MetricSpec("peak_count", count_peaks, False, (0, math.inf),
                                 "peaks per map (SpecReX's measure of a concise explanation; fewer is better)"),
        "argmax_hit": MetricSpec("argmax_hit", argmax_hit, True, (0, 1),
                                 "share of the map's maximal points inside a discriminative peak"),
        "mass_in_peaks": MetricSpec("mass_in_peaks", mass_in_windows, True, (0, 1),
                                    "share of the positive relevance inside the discriminative peaks"),
        "sufficient_hits_peak": MetricSpec("sufficient_hits_peak", mask_hits_window, True, (0, 1),
                                           "the minimal sufficient explanation keeps a point of a peak"),
    }


SPECS = _specs()
