"""The one input validator of every explainer: errors that name the sample and the
parameter, raised before any model query."""
from __future__ import annotations

import warnings

import numpy as np
import torch


def check_inputs(inputs, target=None, *, dims=(1, 2, 3), method: str = "explainer"):
    """Validate a batch ``(N, C, *spatial)`` and its targets.

    Parameters
    ----------
    inputs : torch.Tensor
        Floating-point batch with ``len(spatial)`` in ``dims``.
    target : int, sequence of int, tensor or None
        One class per input, or one for all; ``None`` is returned as ``None`` (the caller
        explains the predicted class).
    dims : tuple of int
        Numbers of spatial axes the method supports.
    method : str
        The method's name, for the messages.

    Returns
    -------
    inputs : torch.Tensor
        Detached from any graph.
    target : torch.Tensor or None
        ``(N,)`` long tensor (a single target is repeated for every input).

    Raises
    ------
    TypeError
        If ``inputs`` is not a floating-point tensor, or ``target`` holds floats or
        booleans.
    ValueError
        If the number of spatial axes is not in ``dims``, the batch is empty, an input
        contains NaN or inf, or the number of targets differs from the number of inputs.
    """
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f"{method}: inputs must be a torch.Tensor (N, C, *spatial), got {type(inputs).__name__}")
    if not torch.is_floating_point(inputs):
        raise TypeError(f"{method}: inputs must be a floating-point tensor, got {inputs.dtype}")
    if inputs.ndim - 2 not in dims:
        raise ValueError(f"{method}: inputs must be (N, C, *spatial) with {' or '.join(map(str, dims))} spatial axes, "
                         f"got shape {tuple(inputs.shape)}")
    if inputs.shape[0] == 0:
        raise ValueError(f"{method}: inputs is an empty batch")
    bad = ~torch.isfinite(inputs.detach().reshape(len(inputs), -1)).all(dim=1)
    if bad.any():
        raise ValueError(f"{method}: inputs contain NaN or inf (samples {bad.nonzero().flatten().tolist()})")
    if target is None:
        return inputs.detach(), None
    t = torch.as_tensor(np.asarray(target.cpu() if isinstance(target, torch.Tensor) else target)).reshape(-1)
    if t.is_floating_point() or t.dtype == torch.bool:
        raise TypeError(f"{method}: target must hold integer class indices, got {t.dtype}")
    t = t.long()
    if len(t) == 1 and len(inputs) > 1:
        t = t.expand(len(inputs))
    if len(t) != len(inputs):
        raise ValueError(f"{method}: {len(t)} targets for {len(inputs)} inputs")
    return inputs.detach(), t


def check_scores(scores, n: int, target: torch.Tensor | None = None, *, method: str = "explainer") -> np.ndarray:
    """Validate a model's answer to ``n`` inputs.

    The answer must be a finite ``(n, classes)`` tensor whose classes cover ``target``.

    Parameters
    ----------
    scores : torch.Tensor
        The model's output.
    n : int
        Number of inputs the model was given.
    target : torch.Tensor, optional
        Target classes to check against the number of classes.
    method : str, optional
        The method's name, for the messages.

    Returns
    -------
    numpy.ndarray
        The scores as a ``float32`` array, detached and on the CPU.

    Raises
    ------
    TypeError
        If ``scores`` is not a tensor.
    ValueError
        If the shape is not ``(n, classes)``, a score is NaN or inf, or a target is out
        of range.
    """
    if not isinstance(scores, torch.Tensor):
        raise TypeError(f"{method}: the model must return a tensor of class scores (N, classes), "
                        f"got {type(scores).__name__}")
    if scores.ndim != 2 or scores.shape[0] != n:
        raise ValueError(f"{method}: the model returned shape {tuple(scores.shape)} for {n} inputs; "
                         f"expected ({n}, classes)")
    out = scores.detach().float().cpu().numpy()
    bad = np.flatnonzero(~np.isfinite(out).all(axis=1))
    if bad.size:
        raise ValueError(f"{method}: the model returned NaN or inf scores for inputs {bad.tolist()}")
    if target is not None:
        t = np.asarray(target.cpu())
        out_of_range = np.flatnonzero((t < 0) | (t >= out.shape[1]))
        if out_of_range.size:
            raise ValueError(f"{method}: targets {t[out_of_range].tolist()} (inputs {out_of_range.tolist()}) are out "
                             f"of range for a model with {out.shape[1]} classes")
    return out


def check_keys(keys, n: int, *, method: str = "explainer") -> list[tuple[int, ...]]:
    """Return one key per input.

    ``()`` for every input when ``keys`` is None, else ``(key,)`` with a non-negative
    integer key (e.g. the input's index in its data set).

    Parameters
    ----------
    keys : sequence of int, tensor or None
        One key per input.
    n : int
        Number of inputs.
    method : str, optional
        The method's name, for the messages.

    Returns
    -------
    list of tuple of int
        ``n`` tuples, empty or of one ``int``.

    Raises
    ------
    ValueError
        If there are not ``n`` keys, or they are not non-negative integers.
    """
    if keys is None:
        return [()] * n
    k = np.asarray(keys.cpu() if isinstance(keys, torch.Tensor) else keys).reshape(-1)
    if len(k) != n:
        raise ValueError(f"{method}: {len(k)} keys for {n} inputs")
    if not np.issubdtype(k.dtype, np.integer) or (k < 0).any():
        raise ValueError(f"{method}: keys must be non-negative integers (e.g. each input's index in its data set), "
                         f"got {k[:5].tolist()}")
    return [(int(v),) for v in k]


def warn_if_training(model, method: str) -> None:
    """Warn if a torch model is in training mode (its answers would be random).

    Parameters
    ----------
    model : object
        The model; only a :class:`torch.nn.Module` with ``training`` set warns.
    method : str
        The method's name, for the message.

    Warns
    -----
    UserWarning
        If ``model`` is in training mode.
    """
    if isinstance(model, torch.nn.Module) and model.training:
        warnings.warn(f"{method}: the model is in training mode (dropout/batch-norm make its answers random); "
                      "call model.eval()", stacklevel=4)


def check_checkpoints(checkpoints, iters: int, *, method: str = "explainer") -> tuple[int, ...]:
    """Return the distinct iteration checkpoints, sorted (``()`` for None).

    Parameters
    ----------
    checkpoints : sequence of int or None
        Iteration counts at which a search's combined map is also returned.
    iters : int
        The search's iterations: every checkpoint must lie in ``[1, iters]``.
    method : str, optional
        The method's name, for the message.

    Returns
    -------
    tuple of int

    Raises
    ------
    ValueError
        If a checkpoint is not an integer in ``[1, iters]``.
    """
    if checkpoints is None:
        return ()
    values = list(checkpoints)
    bad = [k for k in values if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= iters]
    if bad:
        raise ValueError(f"{method}: checkpoints must be integers in [1, iters={iters}], got {bad}")
    return tuple(sorted({int(k) for k in values}))
