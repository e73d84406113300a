"""One module per study: where its artifacts live, which inputs it explains, and the task
functions its sweeps run. The only code that knows the chapters' file layout."""
from __future__ import annotations

import numpy as np


def first_correct(pred, labels, cls: int, n: int) -> np.ndarray:
    """Indices of the first ``n`` inputs of class ``cls`` (in data order) that the model
    classifies correctly; fewer if there are fewer."""
    pred, labels = np.asarray(pred), np.asarray(labels)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    return np.flatnonzero((labels == cls) & (pred == cls))[:n]


def require(path, chapter: str):
    """``path`` if it is a complete artifact, else a FileNotFoundError naming the chapter
    that makes it."""
    from ..artifacts import is_complete

    if not is_complete(path):
        raise FileNotFoundError(f"{path} is missing or incomplete: run chapter {chapter} first")
    return path
