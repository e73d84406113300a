"""The explainer contract (Captum's): the model and the settings go to the constructor,
the data to :meth:`Explainer.attribute`, which returns an :class:`Explanation` and leaves
nothing on the explainer.

Every stochastic explainer draws each input's random numbers from a generator seeded by
the explainer's ``seed`` and the input's own key (``keys=``, e.g. its index in its data
set; without keys, every input draws the same stream), never by the input's position in
the batch: a map does not depend on batch size, chunking or scheduler.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from ._checks import check_inputs, check_keys, check_scores, warn_if_training


@dataclass
class Explanation:
    """What :meth:`Explainer.attribute` computed.

    Attributes
    ----------
    maps : torch.Tensor
        Attributions shaped like the inputs.
    stats : dict of str to numpy.ndarray
        Per-input statistics, each of length N: e.g. ``queries`` (model queries),
        ``degenerate`` and ``status`` (ReX), ``delta`` (DeepLIFT's convergence delta),
        ``constant`` (the map has one value everywhere).
    seconds : float
        Wall time of the call.
    forward_seconds : float
        Seconds spent in the model's forward passes, where the explainer measures them
        (ReX); NaN otherwise.
    """

    maps: torch.Tensor
    stats: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    forward_seconds: float = float("nan")

    def __post_init__(self):
        n = len(self.maps)
        flat = self.maps.detach().reshape(n, -1)
        if "constant" not in self.stats:
            with torch.no_grad():
                finite = torch.isfinite(flat).all(dim=1)
                self.stats["constant"] = (finite & (flat.amax(dim=1) == flat.amin(dim=1))).cpu().numpy()
        for k, v in self.stats.items():
            v = np.asarray(v)
            if v.shape[:1] != (n,):
                raise ValueError(f"statistic {k!r} has shape {v.shape}; expected one value per input ({n})")
            self.stats[k] = v

    def __len__(self) -> int:
        return len(self.maps)

    def numpy(self) -> np.ndarray:
        """The maps as a float32 numpy array."""
        return self.maps.detach().cpu().numpy().astype(np.float32)


class Explainer:
    """Base class of every method of :data:`rexbench.explain.EXPLAINERS`.

    Parameters
    ----------
    forward_func : torch.nn.Module or callable
        Maps a batch ``(N, C, *spatial)`` to class scores ``(N, classes)``.

    Notes
    -----
    Subclasses set ``name``, ``version`` (bumped whenever a change alters the maps at equal
    settings), ``dims`` (supported numbers of spatial axes) and ``stochastic``, and
    implement ``_attribute(inputs, target, keys) -> (maps, stats)`` and ``_settings()``.
    """

    name: ClassVar[str] = "explainer"
    version: ClassVar[int] = 1
    dims: ClassVar[tuple[int, ...]] = (1, 2, 3)
    stochastic: ClassVar[bool] = False

    def __init__(self, forward_func):
        if not callable(forward_func):
            raise TypeError(f"{self.name}: forward_func must be callable, got {type(forward_func).__name__}")
        self.forward_func = forward_func

    # -- what keys a cached result
    def _settings(self) -> dict[str, Any]:
        return {}

    @property
    def params(self) -> dict[str, Any]:
        """The method, its version and every setting that changes its maps: what a cached
        result is keyed on (execution-only settings such as batch sizes are left out)."""
        return {"method": self.name, "version": self.version, **self._settings()}

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self._settings().items())
        return f"{type(self).__name__}({settings})"

    # -- the contract
    def attribute(self, inputs: torch.Tensor, target=None, keys=None) -> Explanation:
        """Explain ``inputs`` for ``target``.

        Parameters
        ----------
        inputs : torch.Tensor
            ``(N, C, *spatial)``, floating point, finite.
        target : int, sequence of int or None
            One class per input, or one for all; ``None``: the class the model predicts.
        keys : sequence of int, optional
            Each input's own key (e.g. its index in its data set), which seeds its random
            draws together with ``seed``; without keys every input draws the same stream.

        Returns
        -------
        Explanation
            Maps shaped like ``inputs`` and per-input statistics.
        """
        t0 = time.perf_counter()
        inputs, target = check_inputs(inputs, target, dims=self.dims, method=self.name)
        keys = check_keys(keys, len(inputs), method=self.name)
        warn_if_training(self.forward_func, self.name)
        with torch.no_grad():
            scores = check_scores(self.forward_func(inputs), len(inputs), target, method=self.name)
        if target is None:
            target = torch.as_tensor(scores.argmax(axis=1), dtype=torch.long)
        maps, stats = self._attribute(inputs, target, keys)
        out = Explanation(maps.detach(), dict(stats), seconds=time.perf_counter() - t0)
        return out

    def _attribute(self, inputs: torch.Tensor, target: torch.Tensor, keys: list[tuple[int, ...]]):
        raise NotImplementedError


def input_seed(seed: int, key: tuple[int, ...]) -> int:
    """A 32-bit seed for one input from the explainer's seed and the input's key.

    Parameters
    ----------
    seed : int
        The explainer's seed.
    key : tuple of int
        The input's key (empty without keys; see :func:`~rexbench.explain._checks.check_keys`).

    Returns
    -------
    int
        The first 32-bit word of ``numpy.random.SeedSequence([seed, *key])``'s state, in
        ``[0, 2**32)``.
    """
    return int(np.random.SeedSequence([int(seed), *key]).generate_state(1)[0])


@contextmanager
def seeded_globals(seed: int):
    """Seed torch's and numpy's global generators (captum draws from both) for one input,
    and restore their previous states afterwards.

    Only torch's CPU generator is seeded and restored (``torch.random.fork_rng(devices=[])``).

    Parameters
    ----------
    seed : int
        The seed of both generators, in ``[0, 2**32)`` (numpy's range).

    Yields
    ------
    None
        The body of the ``with`` block runs with both generators seeded.

    Raises
    ------
    ValueError
        If numpy rejects ``seed`` (outside its range).
    """
    np_state = np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        np.random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(np_state)


def resolve_layer(model, layer, method: str):
    """A module of ``model``: ``layer`` itself, the submodule of that name, or (``None``)
    ``model.last_conv``.

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    layer : torch.nn.Module, str or None
        One of the model's modules, a submodule's qualified name (e.g. ``"features.3"``),
        or None for ``model.last_conv``.
    method : str
        The method's name, for the messages.

    Returns
    -------
    module : torch.nn.Module
        The layer.
    name : str
        Its qualified name in ``model`` (the first of ``model.named_modules()`` if it has
        several).

    Raises
    ------
    ValueError
        If ``layer`` is None and the model has no ``last_conv``, if no submodule has that
        name, or if the module is not one of the model's.
    TypeError
        If ``layer`` is not a module, a string or None.
    """
    if layer is None:
        if not hasattr(model, "last_conv"):
            raise ValueError(f"{method} needs layer= (a module of the model or its name); the model has no 'last_conv'")
        layer = model.last_conv
    if isinstance(layer, str):
        try:
            return model.get_submodule(layer), layer
        except AttributeError:
            raise ValueError(f"{method}: the model has no submodule {layer!r}") from None
    if isinstance(layer, torch.nn.Module):
        for name, m in model.named_modules():
            if m is layer:
                return layer, name
        raise ValueError(f"{method}: layer is not a module of this model (pass its name to follow copies of the "
                         "model, e.g. Quantus' randomised ones)")
    raise TypeError(f"{method}: layer must be a module of the model or its name, got {type(layer).__name__}")
