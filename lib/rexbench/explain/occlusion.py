"""Occlusions: what replaces the parts of an input that a mutant hides.

Each occlusion maps one input ``x`` of shape ``(C, *S)`` and boolean keep-masks of shape
``(M, *S)`` to ``M`` mutants of shape ``(M, C, *S)``; kept points are left untouched.
Random occlusions draw from the ``rng`` they are given, so a seeded search is reproducible.
"""
from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator

from ..io import array_digest


def noise_sigma(x: np.ndarray) -> float:
    """Estimate a signal's white-noise level robustly from its first differences.

    The estimate is the median absolute deviation of the differences, scaled for a
    Gaussian (divided by 0.6745 and by sqrt(2)).

    Parameters
    ----------
    x : numpy.ndarray
        The signal (flattened).

    Returns
    -------
    float
        The noise standard deviation; 0.0 for a signal of fewer than 2 points.
    """
    d = np.diff(np.asarray(x, dtype=np.float64).reshape(-1))
    if d.size == 0:
        return 0.0
    return float(np.median(np.abs(d - np.median(d))) / 0.6745 / np.sqrt(2))


class Occlusion:
    """How ReX hides points: ``occlusion(x, masks, rng)`` returns one mutant of ``x``
    ``(C, *spatial)`` per boolean mask ``(M, *spatial)``, keeping the True points.

    ``params`` (a JSON-able dict) keys cached results: every setting that changes a mutant.

    This base class defines the interface; subclasses implement ``__call__``.

    Attributes
    ----------
    name : str
        Short name of the occlusion (used in labels).
    """

    name = "occlusion"

    @property
    def params(self) -> dict:
        """dict: Every setting that changes a mutant (here, the class name)."""
        return {"kind": type(self).__name__}

    def __call__(self, x: np.ndarray, masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return one mutant of ``x`` per mask, keeping the True points.

        Parameters
        ----------
        x : numpy.ndarray
            One input, shape ``(C, *spatial)``.
        masks : numpy.ndarray
            Boolean keep-masks, shape ``(M, *spatial)``.
        rng : numpy.random.Generator
            Source of any randomness.

        Returns
        -------
        numpy.ndarray
            Mutants, shape ``(M, C, *spatial)``.

        Raises
        ------
        NotImplementedError
            Always, in the base class.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ConstantOcclusion(Occlusion):
    """Replace occluded points with a constant (``value``), or with a statistic of the
    input (``"mean"``, ``"min"``).

    Parameters
    ----------
    value : float or {"mean", "min"}, optional
        The fill value, or the statistic of the input (over all channels) to fill with
        (default 0).

    Attributes
    ----------
    value : float or str
        As given.
    name : str
        ``"mean"``, ``"min"``, ``"zero"`` for 0, else ``"value<v>"``.

    Raises
    ------
    ValueError
        If ``value`` is a string other than ``"mean"`` or ``"min"``.
    """

    def __init__(self, value: float | str = 0.0):
        if isinstance(value, str) and value not in ("mean", "min"):
            raise ValueError(f"constant occlusion value must be a number, 'mean' or 'min', got {value!r}")
        self.value = value
        self.name = value if isinstance(value, str) else ("zero" if value == 0 else f"value{value:g}")

    @property
    def params(self) -> dict:
        """dict: ``{"kind": "constant", "value": value}``."""
        return {"kind": "constant", "value": self.value if isinstance(self.value, str) else float(self.value)}

    def fill(self, x: np.ndarray) -> float:
        """Return the value that replaces occluded points of ``x``.

        Parameters
        ----------
        x : numpy.ndarray
            The input.

        Returns
        -------
        float
            ``x.mean()``, ``x.min()`` or the constant.
        """
        if self.value == "mean":
            return float(x.mean())
        if self.value == "min":
            return float(x.min())
        return float(self.value)

    def __call__(self, x, masks, rng):
        keep = masks[:, None]  # broadcast over channels
        return np.where(keep, x[None], np.asarray(self.fill(x), dtype=x.dtype))

    def __repr__(self) -> str:
        return f"ConstantOcclusion({self.value!r})"


class BaselineOcclusion(Occlusion):
    """Replace occluded points with the matching points of a reference input (a
    "context" volume, the log-mel of silence, a black image).

    Parameters
    ----------
    baseline : numpy.ndarray
        The reference input, the same shape ``(C, *spatial)`` as the inputs occluded.

    Attributes
    ----------
    baseline : numpy.ndarray
        The reference input.
    """

    name = "baseline"

    def __init__(self, baseline: np.ndarray):
        self.baseline = np.asarray(baseline)

    @property
    def params(self) -> dict:
        """dict: ``{"kind": "baseline", "sha256": ...}``, a 16-character hash of the
        baseline's dtype, shape and bytes."""
        return {"kind": "baseline", "sha256": array_digest(self.baseline)}

    def __call__(self, x, masks, rng):
        """Return one mutant per mask, occluded points taken from the baseline.

        See :meth:`Occlusion.__call__`; ``rng`` is unused.

        Raises
        ------
        ValueError
            If the baseline's shape differs from ``x``'s.
        """
        if self.baseline.shape != x.shape:
            raise ValueError(f"baseline shape {self.baseline.shape} does not match input shape {x.shape}")
        return np.where(masks[:, None], x[None], self.baseline[None].astype(x.dtype))


class InterpolationOcclusion(Occlusion):
    """SpecReX occlusion for spectra (1 spatial axis): each occluded run is replaced by a
    curve between the kept values just outside it, plus noise, so occlusion adds no
    artificial feature.

    - ``kind="linear"``: straight lines (SpecReX); ``"pchip"``: a monotone piecewise-cubic
      (non-linear, without the overshoot of a plain cubic spline).
    - ``noise="gaussian"``: white noise at the input's own noise level (estimated from its
      first differences, times ``noise_scale``); ``"poisson"``: shot noise whose variance
      grows with the interpolated intensity, calibrated so that its mean variance matches
      the input's noise level; ``None``: no noise.

    Beyond the first/last kept point the nearest kept value is held. If nothing is kept,
    the input's mean is used. Each channel is filled separately. Noise is drawn only at
    occluded points (kept points are never changed), point by point in mutant order.

    Parameters
    ----------
    kind : {"linear", "pchip"}, optional
        Curve through the kept values (default ``"linear"``).
    noise : {"gaussian", "poisson"} or None, optional
        Noise added to the filled points (default ``"gaussian"``).
    noise_scale : float, optional
        Factor on the estimated noise level (default 1).

    Attributes
    ----------
    kind : str
        The curve.
    noise : str or None
        The noise.
    noise_scale : float
        The noise factor.
    name : str
        ``"interp"`` or ``"pchip"``, with ``"_<noise>"`` appended when there is noise.

    Raises
    ------
    ValueError
        If ``kind`` or ``noise`` is not one of the values above, or ``noise_scale`` is
        negative.
    """

    def __init__(self, kind: str = "linear", noise: str | None = "gaussian", noise_scale: float = 1.0):
        if kind not in ("linear", "pchip"):
            raise ValueError(f"interpolation kind must be 'linear' or 'pchip', got {kind!r}")
        if noise not in ("gaussian", "poisson", None):
            raise ValueError(f"noise must be 'gaussian', 'poisson' or None, got {noise!r}")
        if noise_scale < 0:
            raise ValueError(f"noise_scale must be non-negative, got {noise_scale}")
        self.kind, self.noise, self.noise_scale = kind, noise, noise_scale
        self.name = {"linear": "interp", "pchip": "pchip"}[kind] + ("" if noise is None else f"_{noise}")

    @property
    def params(self) -> dict:
        """dict: The curve, noise and noise scale, with ``"kind": "interpolation"``."""
        return {"kind": "interpolation", "curve": self.kind, "noise": self.noise, "noise_scale": self.noise_scale}

    def __repr__(self) -> str:
        return f"InterpolationOcclusion(kind={self.kind!r}, noise={self.noise!r}, noise_scale={self.noise_scale})"

    def _curve(self, grid: np.ndarray, kept: np.ndarray, values: np.ndarray, mean: float) -> np.ndarray:
        if kept.size == 0:
            return np.full(grid.shape, mean)
        if self.kind == "linear" or kept.size < 2:
            return np.interp(grid, kept, values)
        inside = PchipInterpolator(kept, values, extrapolate=False)(grid)
        return np.where(grid < kept[0], values[0], np.where(grid > kept[-1], values[-1], inside))

    @staticmethod
    def _runs(hidden: np.ndarray):
        """The occluded runs of every mask: per run its start, end (exclusive) and row
        start in the flattened masks; and the flat index of every occluded point, mutant
        by mutant, left to right, with its run's length repeated."""
        M, L = hidden.shape
        edges = np.diff(hidden.view(np.int8), axis=1, prepend=np.int8(0), append=np.int8(0)).reshape(-1)
        opens, closes = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # k-th close ends k-th open
        rows, starts = np.divmod(opens, L + 1)
        ends = closes % (L + 1)
        lengths = ends - starts
        first = np.cumsum(lengths) - lengths  # each run's first point among all occluded points
        flat = np.repeat(rows * L + starts - first, lengths) + np.arange(int(lengths.sum()))
        return flat, starts, ends, lengths, first

    def _linear_values(self, xw: np.ndarray, runs, L: int) -> np.ndarray:
        """Straight lines between the kept values just outside each run (held flat beyond
        the first/last kept point; the channel's mean where nothing is kept): (C, H)."""
        flat, starts, ends, lengths, first = runs
        has_prev, has_next = starts > 0, ends < L
        # t = (position - previous kept) / (next kept - previous kept); where a side is
        # missing the line is flat (xn == xp), so t does not matter there.
        t = ((np.arange(flat.size) - np.repeat(first - 1, lengths)) / np.repeat(lengths + 1, lengths)).astype(xw.dtype)
        out = np.empty((xw.shape[0], flat.size), dtype=xw.dtype)
        means = xw.mean(axis=1)
        nothing_kept = ~has_prev & ~has_next
        for c, xc in enumerate(xw):
            before, after = xc[np.maximum(starts - 1, 0)], xc[np.minimum(ends, L - 1)]
            xp = np.where(nothing_kept, means[c], np.where(has_prev, before, after))
            xn = np.where(nothing_kept, means[c], np.where(has_next, after, xp))
            out[c] = np.repeat(xp, lengths) + t * np.repeat(xn - xp, lengths)
        return out

    def __call__(self, x, masks, rng):
        """Return one mutant per mask, occluded runs interpolated (plus noise).

        See :meth:`Occlusion.__call__`; ``rng`` draws the noise, one number per occluded
        point and channel, mutant by mutant.

        Raises
        ------
        ValueError
            If ``masks`` is not 2-D (``(M, L)``, one spatial axis).
        """
        if masks.ndim != 2:
            raise ValueError(f"interpolation occlusion needs 1 spatial axis; masks have shape {masks.shape}")
        # float32 is exact enough for occlusion and halves the memory traffic of float64.
        work = np.float64 if x.dtype == np.float64 else np.float32
        M, L = masks.shape
        C = x.shape[0]
        xw = x.astype(work)
        hidden = ~np.asarray(masks, dtype=bool)
        runs = self._runs(hidden)
        flat = runs[0]
        if self.kind == "linear":
            values = self._linear_values(xw, runs, L)
        else:
            grid = np.arange(L)
            values = np.empty((C, flat.size), dtype=work)
            for c, xc in enumerate(xw):
                fill = np.repeat(xc[None], M, axis=0)
                for m in np.flatnonzero(hidden.any(axis=1)):
                    kept = np.flatnonzero(~hidden[m])
                    fill[m, hidden[m]] = self._curve(grid[hidden[m]], kept, xc[kept], float(xc.mean()))
                values[c] = fill.reshape(-1)[flat]
        # Noise only where points are occluded, drawn point by point in mutant order (all
        # channels of a point together): a sample's mutants split over several calls draw
        # the same numbers as in one call, so ReX's batching never changes a map.
        if self.noise is not None and flat.size:
            sigmas = np.array([noise_sigma(xc) * self.noise_scale for xc in xw], dtype=work)
            if self.noise == "gaussian":
                values += sigmas[:, None] * rng.standard_normal(size=(flat.size, C), dtype=work).T
            else:
                # Shot noise: Var = (signal - floor) / gain, whose mean over the input is sigma^2.
                floors = xw.min(axis=1)
                gains = np.array([max(float((xc - fl).mean()), 1e-12) / sg**2 if sg > 0 else np.inf
                                  for xc, sg, fl in zip(xw, sigmas, floors)])
                finite = np.isfinite(gains)
                lam = np.clip(values - floors[:, None], 0, None) * np.where(finite, gains, 0)[:, None]
                shot = floors[:, None] + rng.poisson(lam.T).T / np.where(finite, gains, 1)[:, None]
                values = np.where(finite[:, None], shot, values).astype(work)
        out = np.broadcast_to(xw[None], (M, C, L)).copy()
        if C == 1:
            out.reshape(-1)[flat] = values[0]
        else:
            rows, cols = np.divmod(flat, L)
            view = out.reshape(M, C * L)
            for c in range(C):
                view[rows, c * L + cols] = values[c]
        return out.astype(x.dtype, copy=False)


OCCLUSIONS = {
    "interp_gaussian": lambda: InterpolationOcclusion("linear", "gaussian"),
    "interp": lambda: InterpolationOcclusion("linear", None),
    "pchip_gaussian": lambda: InterpolationOcclusion("pchip", "gaussian"),
    "interp_poisson": lambda: InterpolationOcclusion("linear", "poisson"),
    "zero": lambda: ConstantOcclusion(0.0),
    "mean": lambda: ConstantOcclusion("mean"),
    "min": lambda: ConstantOcclusion("min"),
}


def make_occlusion(occlusion: str | Occlusion) -> Occlusion:
    """Return an :class:`Occlusion` from a name in :data:`OCCLUSIONS` or an instance.

    Parameters
    ----------
    occlusion : str or Occlusion
        A key of :data:`OCCLUSIONS` (a new instance is made) or an instance (returned
        as is).

    Returns
    -------
    Occlusion
        The occlusion.

    Raises
    ------
    ValueError
        If ``occlusion`` is neither a known name nor an :class:`Occlusion`.
    """
    if isinstance(occlusion, Occlusion):
        return occlusion
    if isinstance(occlusion, str) and occlusion in OCCLUSIONS:
        return OCCLUSIONS[occlusion]()
    raise ValueError(f"unknown occlusion {occlusion!r}; choose from {sorted(OCCLUSIONS)} or pass an Occlusion")
