"""One module per study: where its artifacts live, which inputs it explains, and the task
functions its sweeps run. The only code that knows the chapters' file layout."""
from __future__ import annotations

import numpy as np


def first_correct(pred, labels, cls: int, n: int) -> np.ndarray:
    """Return the indices of the first ``n`` inputs of class ``cls`` that the model classifies correctly.

    Inputs are taken in data order; fewer are returned if there are fewer.

    Parameters
    ----------
    pred : array_like of int
        Predicted class of each input.
    labels : array_like of int
        True class of each input.
    cls : int
        The class.
    n : int
        How many to return at most.

    Returns
    -------
    numpy.ndarray
        Integer indices, ascending.

    Raises
    ------
    ValueError
        If ``n`` is below 1.
    """
    pred, labels = np.asarray(pred), np.asarray(labels)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    return np.flatnonzero((labels == cls) & (pred == cls))[:n]


def require(path, chapter: str):
    """Return ``path`` if it is a complete artifact, else fail naming the chapter that makes it.

    Parameters
    ----------
    path : str or os.PathLike
        The artifact (see :func:`~rexbench.compendium.artifacts.is_complete`).
    chapter : str
        The chapter that writes it, for the message.

    Returns
    -------
    str or os.PathLike
        ``path``, unchanged.

    Raises
    ------
    FileNotFoundError
        If the artifact is missing or incomplete.
    """
    from ..artifacts import is_complete

    if not is_complete(path):
        raise FileNotFoundError(f"{path} is missing or incomplete: run chapter {chapter} first")
    return path
