"""Uncertainty and comparisons for the book's headline numbers, over inputs and model seeds.

* :func:`bootstrap_ci`: a percentile interval from a two-level (cluster) bootstrap: model
  seeds are drawn with replacement, then inputs within each drawn seed, so the interval
  covers both sources of variation (with one seed it is the ordinary bootstrap over inputs).
* :func:`crossed_bootstrap_ci`: the same for a crossed design, where every model scores the
  same inputs (models and inputs are resampled independently, one input draw shared by all
  models), with a p-value (bootstrap standard error against Student's t) for Holm's adjustment.
* :func:`paired_wilcoxon` and :func:`mcnemar`: paired tests between two methods on the
  same inputs (scores, and hits such as the pointing game), from scipy.
* :func:`holm`: Holm's step-down adjustment of a family of p-values (scipy has none).
"""
from __future__ import annotations

import numpy as np


def bootstrap_ci(values, groups=None, *, n_boot: int = 2000, level: float = 0.95, statistic=np.mean,
                 seed: int = 0) -> tuple[float, float, float, int]:
    """Estimate and percentile interval of ``statistic`` over inputs (and groups).

    NaN values (an input a method could not score) are left out and counted.

    Parameters
    ----------
    values : array_like
        One value per input, 1-D.
    groups : array_like, optional
        The group of each value (e.g. the model seed that made it); groups are resampled
        first, then values within each drawn group.
    n_boot : int, optional
        Bootstrap replicates (default 2000).
    level : float, optional
        Coverage of the interval, in (0, 1) (default 0.95).
    statistic : callable, optional
        Reduces a 1-D array to a number (default ``numpy.mean``; ``numpy.median`` for
        heavy-tailed scores).
    seed : int, optional
        Seed of the resampling (default 0).

    Returns
    -------
    tuple of (float, float, float, int)
        ``(estimate, low, high, n)``: the statistic of the finite values, the interval's
        ends and the number of finite values; NaNs and 0 when there is none.

    Raises
    ------
    ValueError
        If ``values`` is not 1-D, ``groups`` has another length, ``n_boot`` is below 1
        or ``level`` is outside (0, 1).
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {v.shape}")
    g = np.zeros(len(v), dtype=np.int64) if groups is None else np.asarray(groups)
    if len(g) != len(v):
        raise ValueError(f"{len(g)} groups for {len(v)} values")
    if n_boot < 1 or not 0 < level < 1:
        raise ValueError(f"n_boot must be at least 1 and level in (0, 1), got {n_boot} and {level}")
    ok = np.isfinite(v)
    v, g = v[ok], g[ok]
    if v.size == 0:
        return float("nan"), float("nan"), float("nan"), 0
    members = [v[g == k] for k in np.unique(g)]
    rng = np.random.default_rng(seed)
    reps = np.empty(n_boot)
    for b in range(n_boot):
        drawn = rng.integers(len(members), size=len(members))
        reps[b] = statistic(np.concatenate([members[k][rng.integers(len(members[k]), size=len(members[k]))]
                                            for k in drawn]))
    alpha = (1 - level) / 2
    lo, hi = np.quantile(reps, [alpha, 1 - alpha])
    return float(statistic(v)), float(lo), float(hi), int(v.size)


def crossed_bootstrap_ci(values, rows, cols, *, n_boot: int = 2000, level: float = 0.95,
                         seed: int = 0) -> tuple[float, float, float, int, float]:
    """Mean and percentile interval over a crossed design: models (``rows``) that score the
    same inputs (``cols``).

    When several models explain the same inputs, their scores share each input's
    difficulty: resampling inputs independently within each model (the nested bootstrap
    of :func:`bootstrap_ci`) treats them as new inputs and makes the interval too narrow.
    Here each replicate draws models with replacement and inputs with replacement, one
    input draw for every model (the two-way bootstrap of a crossed random-effects design),
    and averages the finite cells of the drawn grid. A model that lacks an input (NaN, or
    no row) is left out of that input's cells. With one model it is the ordinary bootstrap
    over inputs.

    Parameters
    ----------
    values : array_like
        One value per (model, input) pair, 1-D; NaN: not scored.
    rows, cols : array_like
        Each value's model and input (any hashable labels), as long as ``values``.
    n_boot : int, optional
        Bootstrap replicates (default 2000).
    level : float, optional
        Coverage of the interval, in (0, 1) (default 0.95).
    seed : int, optional
        Seed of the resampling (default 0).

    Returns
    -------
    tuple of (float, float, float, int, float)
        ``(mean, low, high, n, p)``: the mean of the finite values, the interval's ends,
        their number, and the two-sided p-value of a zero mean: the mean over its
        bootstrap standard error against Student's t with ``min(models, inputs) - 1``
        degrees of freedom (``inputs - 1`` for one model). With few models a normal
        reference would reject a true zero far too often; the smaller dimension's
        degrees of freedom keep the test conservative. NaN where there are too few
        models or inputs (one of each), or where the standard error is 0 (every drawn
        grid has the same mean: no spread to test against); NaNs and 0 when no value
        is finite.

    Raises
    ------
    ValueError
        If the arrays are not 1-D and of one length, a (model, input) pair repeats,
        ``n_boot`` is below 1 or ``level`` is outside (0, 1).
    """
    from scipy.stats import t as t_dist

    v = np.asarray(values, dtype=np.float64)
    r, c = np.asarray(rows), np.asarray(cols)
    if v.ndim != 1 or r.shape != v.shape or c.shape != v.shape:
        raise ValueError(f"values, rows and cols must be 1-D of one length, got {v.shape}, {r.shape}, {c.shape}")
    if n_boot < 1 or not 0 < level < 1:
        raise ValueError(f"n_boot must be at least 1 and level in (0, 1), got {n_boot} and {level}")
    ok = np.isfinite(v)
    if not ok.any():
        return float("nan"), float("nan"), float("nan"), 0, float("nan")
    v, r, c = v[ok], r[ok], c[ok]
    ri, ci = np.unique(r, return_inverse=True)[1], np.unique(c, return_inverse=True)[1]
    m, k = ri.max() + 1, ci.max() + 1
    if len(set(zip(ri.tolist(), ci.tolist()))) != len(v):
        raise ValueError("crossed_bootstrap_ci: a (model, input) pair occurs more than once")
    total, count = np.zeros((m, k)), np.zeros((m, k))
    np.add.at(total, (ri, ci), v)
    np.add.at(count, (ri, ci), 1.0)
    rng = np.random.default_rng(seed)
    # Multiplicities of each model and input in a replicate: the grid's weighted mean.
    wr = np.stack([np.bincount(rng.integers(m, size=m), minlength=m) for _ in range(n_boot)]).astype(np.float64)
    wc = np.stack([np.bincount(rng.integers(k, size=k), minlength=k) for _ in range(n_boot)]).astype(np.float64)
    num = np.einsum("bi,ij,bj->b", wr, total, wc)
    den = np.einsum("bi,ij,bj->b", wr, count, wc)
    reps = num[den > 0] / den[den > 0]
    alpha = (1 - level) / 2
    lo, hi = np.quantile(reps, [alpha, 1 - alpha])
    est, se = float(v.mean()), float(reps.std(ddof=1)) if len(reps) > 1 else 0.0
    df = (min(m, k) if m > 1 else k) - 1
    p = float(2 * t_dist.sf(abs(est) / se, df)) if se > 0 and df >= 1 else float("nan")
    return est, float(lo), float(hi), int(v.size), p


def proportion_ci(successes: int, n: int, *, level: float = 0.95) -> tuple[float, float, float]:
    """A proportion and its exact (Clopper-Pearson) interval.

    For shares of binary outcomes (flip rates): unlike a percentile bootstrap, the interval
    does not collapse to a point when every outcome is the same (100 of 100 gives
    [0.964, 1]).

    Parameters
    ----------
    successes : int
        Outcomes counted.
    n : int
        Trials (0: NaNs).
    level : float, optional
        Coverage, in (0, 1) (default 0.95).

    Returns
    -------
    tuple of float
        ``(successes / n, low, high)``.

    Raises
    ------
    ValueError
        If ``successes`` is not in ``[0, n]`` or ``level`` is outside (0, 1).
    """
    from scipy.stats import binomtest

    if not 0 <= successes <= n or not 0 < level < 1:
        raise ValueError(f"proportion_ci: need 0 <= successes <= n and level in (0, 1), got {successes}, {n}, {level}")
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=level, method="exact")
    return successes / n, float(ci.low), float(ci.high)


def _paired(a, b, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The pairs of ``a`` and ``b`` with a finite value on both sides."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired {what} differ in shape: {a.shape} and {b.shape}")
    ok = np.isfinite(a) & np.isfinite(b)
    return a[ok], b[ok]


def paired_wilcoxon(a, b) -> float:
    """Two-sided Wilcoxon signed-rank p-value for paired scores of two methods.

    Pairs with a NaN on either side are left out; zero differences are kept in the ranking
    (Pratt's method). 1.0 when every difference is zero or fewer than 2 pairs remain.

    Parameters
    ----------
    a, b : array_like
        Scores of the two methods on the same inputs, in the same order.

    Returns
    -------
    float
        The p-value.

    Raises
    ------
    ValueError
        If ``a`` and ``b`` differ in length.
    """
    from scipy.stats import wilcoxon

    a, b = _paired(a, b, "scores")
    d = a - b
    if d.size < 2 or not d.any():
        return 1.0
    return float(wilcoxon(d, zero_method="pratt").pvalue)


def mcnemar(a, b) -> float:
    """Exact McNemar p-value for paired hits (0/1) of two methods on the same inputs.

    Parameters
    ----------
    a, b : array_like
        Hits (booleans or 0/1) of the two methods, in the same order; pairs with a NaN
        are left out.

    Returns
    -------
    float
        The two-sided exact binomial p-value on the discordant pairs; 1.0 when there is none.

    Raises
    ------
    ValueError
        If ``a`` and ``b`` differ in length.
    """
    from scipy.stats import binomtest

    a, b = _paired(a, b, "hits")
    only_a = int(((a > 0.5) & (b <= 0.5)).sum())
    only_b = int(((a <= 0.5) & (b > 0.5)).sum())
    if only_a + only_b == 0:
        return 1.0
    return float(binomtest(only_a, only_a + only_b, 0.5).pvalue)


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error), in the input's order.

    Parameters
    ----------
    pvalues : array_like
        Unadjusted p-values; NaNs stay NaN and do not count towards the family.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, capped at 1.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out
