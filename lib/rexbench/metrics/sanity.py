"""Checks to run before trusting an occlusion or an explanation on a model.

* :func:`blank_in_class_rate`: whether an input occluded entirely is still classed as the
  target (ReX's degeneracy check, for any occlusion).
* :func:`occlusion_in_class_rate`: how often a heavily occluded input (a small random
  window kept, the rest occluded) is still classed as the target. A search that keeps
  almost nothing and still passes learns nothing about the input: an occlusion whose rate
  is high on a model *creates* the class by itself, and ReX's responsibility on it is not
  evidence of what the model uses.
"""
from __future__ import annotations

import numpy as np
import torch

from ..explain._checks import check_keys


def _checked(inputs, target, occlusion, keys, method: str):
    """The occlusion, inputs as numpy, one target and one key per input, checked."""
    from ..explain.occlusion import make_occlusion

    if not isinstance(inputs, torch.Tensor) or inputs.ndim < 3:
        raise ValueError("inputs must be a tensor (N, C, *spatial)")
    x = inputs.detach().cpu().numpy()
    t = np.broadcast_to(np.asarray(target, dtype=np.int64), (len(x),))
    return make_occlusion(occlusion), x, t, check_keys(keys, len(x), method=method)


def random_window_masks(shape: tuple[int, ...], keep_fraction: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` boolean masks that keep one random box of about ``keep_fraction`` of the points.

    The box has the same fraction of every axis (``keep_fraction ** (1 / d)`` of each of the
    ``d`` axes, at least one point), placed uniformly.

    Parameters
    ----------
    shape : tuple of int
        The spatial shape of an input.
    keep_fraction : float
        Share of the points kept, in (0, 1).
    n : int
        Number of masks.
    rng : numpy.random.Generator
        Source of the boxes' positions.

    Returns
    -------
    numpy.ndarray
        ``bool`` masks, shape ``(n, *shape)``; True where kept.

    Raises
    ------
    ValueError
        If ``keep_fraction`` is not in (0, 1) or ``n`` is below 1.
    """
    if not 0 < keep_fraction < 1:
        raise ValueError(f"keep_fraction must be in (0, 1), got {keep_fraction}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    edge = [max(1, int(round(s * keep_fraction ** (1 / len(shape))))) for s in shape]
    masks = np.zeros((n, *shape), dtype=bool)
    starts = np.stack([rng.integers(0, s - e + 1, size=n) for s, e in zip(shape, edge)], axis=1)
    for m, start in zip(masks, starts):
        m[tuple(slice(a, a + e) for a, e in zip(start, edge))] = True
    return masks


def occlusion_in_class_rate(model, inputs: torch.Tensor, target, occlusion, *, keep_fraction: float = 0.03,
                            n_masks: int = 20, seed: int = 0, keys=None, batch_size: int = 128) -> np.ndarray:
    """Share of heavily occluded mutants of each input still classed as its target.

    Each input gets ``n_masks`` mutants that keep one random box of ``keep_fraction`` of its
    points and occlude the rest with ``occlusion`` (an :class:`~rexbench.explain.occlusion.Occlusion`
    or a name of :data:`~rexbench.explain.OCCLUSIONS`); the boxes and any occlusion noise
    are drawn from a generator seeded by ``(seed, key)``, so the rate of an input does not
    depend on the batch it comes in.

    Parameters
    ----------
    model : torch.nn.Module or callable
        Maps a batch ``(N, C, *S)`` to class scores.
    inputs : torch.Tensor
        Inputs, shape ``(N, C, *S)``.
    target : int or array_like
        The class each input is checked against.
    occlusion : str or Occlusion
        How the occluded points are filled.
    keep_fraction : float, optional
        Share of the points kept (default 0.03: "heavily occluded", 1-5%).
    n_masks : int, optional
        Mutants per input (default 20).
    seed : int, optional
        Seed of the boxes and of the occlusion's noise (default 0).
    keys : sequence of int, optional
        Each input's own key (e.g. its index in its data set); default: none (every input
        draws the same boxes).
    batch_size : int, optional
        Mutants per forward pass (default 128).

    Returns
    -------
    numpy.ndarray
        ``float64`` rates in [0, 1], shape ``(N,)``.

    Raises
    ------
    ValueError
        If ``inputs`` is not at least 3-D, ``target`` does not match it, the keys are bad,
        or as :func:`random_window_masks`.
    """
    occlusion, x, t, keys = _checked(inputs, target, occlusion, keys, "occlusion_in_class_rate")
    rates = np.empty(len(x))
    with torch.no_grad():
        for i, (xi, ti, key) in enumerate(zip(x, t, keys)):
            rng = np.random.default_rng([seed, 4, *key])
            mutants = occlusion(xi, random_window_masks(xi.shape[1:], keep_fraction, n_masks, rng), rng)
            hits = 0
            for lo in range(0, n_masks, batch_size):
                scores = model(torch.as_tensor(mutants[lo : lo + batch_size], dtype=inputs.dtype))
                hits += int((scores.argmax(dim=1).cpu().numpy() == ti).sum())
            rates[i] = hits / n_masks
    return rates


def blank_in_class_rate(model, inputs: torch.Tensor, target, occlusion, *, seed: int = 0, keys=None,
                        batch_size: int = 128) -> np.ndarray:
    """Whether each input, occluded entirely with ``occlusion``, is still classed as its target.

    The degeneracy check of a ReX search with that occlusion: where it is 1, the model calls
    the blank input the target and the search cannot single out a cause. Any occlusion noise
    is drawn from a generator seeded by ``(seed, key)``. Parameters and errors as
    :func:`occlusion_in_class_rate` (which adds ``keep_fraction`` and ``n_masks``).

    Returns
    -------
    numpy.ndarray
        ``float64`` 0 or 1 per input, shape ``(N,)``.
    """
    occlusion, x, t, keys = _checked(inputs, target, occlusion, keys, "blank_in_class_rate")
    empty = np.zeros((1, *x.shape[2:]), dtype=bool)
    blanks = np.concatenate([occlusion(xi, empty, np.random.default_rng([seed, 5, *key])) for xi, key in zip(x, keys)])
    with torch.no_grad():
        pred = np.concatenate([model(torch.as_tensor(blanks[lo : lo + batch_size], dtype=inputs.dtype)).argmax(dim=1)
                               .cpu().numpy() for lo in range(0, len(blanks), batch_size)])
    return (pred == t).astype(np.float64)


def map_rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps of the same input (e.g. on a trained and on a
    randomised model); NaN if either map is missing (holds a NaN) or constant.

    Parameters
    ----------
    a, b : numpy.ndarray
        The maps, of one shape.

    Returns
    -------
    float
        The correlation in [-1, 1], or NaN.
    """
    from scipy.stats import spearmanr

    a, b = np.ravel(a), np.ravel(b)
    if not (np.isfinite(a).all() and np.isfinite(b).all()) or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


RANDOM_MAP_TAG = 1_000_007


def random_maps(shape: tuple[int, ...], keys, *, seed: int = 0, stream: int = 0) -> np.ndarray:
    """Maps of independent uniform noise, one per key: the chance level of a metric.

    A metric that scores these as well as an explainer's maps does not tell that
    explainer's maps from noise. Each map is drawn from a generator seeded by ``(seed,
    key)``, so an input's random map does not depend on the others.

    Parameters
    ----------
    shape : tuple of int
        One map's shape, e.g. ``(L,)`` for a spectrum.
    keys : sequence of int
        The inputs' keys (non-negative integers, e.g. their indices in their split).
    seed : int, optional
        Seed (default 0).
    stream : int, optional
        Separates sets of inputs that share keys (e.g. the index of their data set), so
        their random maps differ (default 0).

    Returns
    -------
    numpy.ndarray
        ``float64`` maps in [0, 1), shape ``(len(keys), *shape)``.

    Raises
    ------
    ValueError
        If a key is not a non-negative integer.
    """
    if len(keys) == 0:
        return np.zeros((0, *shape))
    keys = check_keys(keys, len(keys), method="random_maps")
    # A tag no other generator of the library uses in that place (ReX and SpecReX put an
    # iteration there, the sanity checks 4 and 5).
    return np.stack([np.random.default_rng([seed, RANDOM_MAP_TAG, stream, *key]).random(shape) for key in keys])


def randomised_copy(model: torch.nn.Module, *, seed: int = 0) -> torch.nn.Module:
    """A copy of ``model`` with every parameter re-initialised: the model of the
    model-parameter randomisation test (Adebayo et al. 2018, all layers at once).

    Every submodule that has ``reset_parameters`` (convolutions, linear layers, LSTMs,
    batch norms) is reset from torch's generator seeded by ``(seed, 6)`` through numpy's
    ``SeedSequence`` (not ``seed`` itself, which would redraw the initial weights of a model
    built under that seed); batch norms' running statistics are reset too. An explanation that looks the same on this model does not
    depend on what the model learned. torch's global generator is restored afterwards.

    Parameters
    ----------
    model : torch.nn.Module
        The trained model (not changed).
    seed : int, optional
        Seed of the new weights (default 0).

    Returns
    -------
    torch.nn.Module
        The randomised copy, in eval mode.

    Raises
    ------
    ValueError
        If no submodule of ``model`` can reset its parameters.
    """
    import copy

    twin = copy.deepcopy(model)
    resettable = [m for m in twin.modules() if callable(getattr(m, "reset_parameters", None))]
    if not resettable:
        raise ValueError(f"randomised_copy: no submodule of {type(model).__name__} has reset_parameters()")
    state = torch.random.get_rng_state()
    try:
        # A stream of its own: torch.manual_seed(seed) would redraw the very initial weights
        # of a model built under the same seed.
        torch.manual_seed(int(np.random.SeedSequence([seed, 6]).generate_state(1)[0]))
        for m in resettable:
            m.reset_parameters()
            if callable(getattr(m, "reset_running_stats", None)):
                m.reset_running_stats()
    finally:
        torch.random.set_rng_state(state)
    return twin.eval()
