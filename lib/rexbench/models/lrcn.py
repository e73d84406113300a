"""The LRCN spectrum classifier of SpecReX: conv blocks, a stacked LSTM, dense head."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._inference import run_blocks


class LRCN(nn.Module):
    """Conv1d -> ReLU -> MaxPool1d -> BatchNorm blocks, then an LSTM and a dense head.

    The published model uses 4 blocks, a 3-layer LSTM with 500 hidden units and kernels
    chosen by a hyper-parameter search. The defaults here keep that shape but are sized
    to train on a 2-core CPU (see the Models chapter for the parameter count).

    Input ``(N, 1, L)``; output ``(N, n_classes)`` logits. The LSTM's outputs at every
    time step are flattened into the dense head.

    Parameters
    ----------
    length : int
        Input length ``L`` (fixed: the dense head's size depends on it).
    n_classes : int, optional
        Number of output classes (default 3).
    kernels : sequence of int, optional
        Kernel size of each block's convolution (default ``(5, 5, 3, 3)``).
    pools : sequence of int, optional
        Max-pool size of each block; defaults to ``kernels``, as published.
    channels : sequence of int, optional
        Output channels of each block (default ``(16, 32, 32, 32)``).
    lstm_hidden : int, optional
        LSTM hidden units (default 64).
    lstm_layers : int, optional
        Stacked LSTM layers (default 2).
    dense : int, optional
        Width of the two hidden dense layers (default 64).
    dropout : float, optional
        Dropout probability on the LSTM outputs (default 0.3).

    Attributes
    ----------
    config : dict
        The constructor arguments (used by :func:`save_lrcn`).
    features : torch.nn.Sequential
        The conv blocks.
    lstm : torch.nn.LSTM
        The stacked LSTM (batch first).
    dropout : torch.nn.Dropout
        Dropout after the LSTM.
    head : torch.nn.Sequential
        Flatten and three linear layers.
    length : int
        The input length.

    Raises
    ------
    ValueError
        If ``kernels`` and ``channels`` differ in length, or ``length`` is too short for
        the pools.
    """

    def __init__(
        self,
        length: int,
        n_classes: int = 3,
        kernels: Sequence[int] = (5, 5, 3, 3),
        pools: Sequence[int] | None = None,
        channels: Sequence[int] = (16, 32, 32, 32),
        lstm_hidden: int = 64,
        lstm_layers: int = 2,
        dense: int = 64,
        dropout: float = 0.3,
    ):
        super().__init__()
        self.config = {
            "length": length, "n_classes": n_classes, "kernels": list(kernels),
            "pools": None if pools is None else list(pools), "channels": list(channels),
            "lstm_hidden": lstm_hidden, "lstm_layers": lstm_layers, "dense": dense, "dropout": dropout,
        }
        if len(kernels) != len(channels):
            raise ValueError(f"kernels ({len(kernels)}) and channels ({len(channels)}) differ in length")
        # The published blocks pool with the conv kernel size; pooling 1 is a no-op there.
        pools = tuple(kernels) if pools is None else tuple(pools)
        blocks, c_in, n = [], 1, length
        for k, p, c in zip(kernels, pools, channels):
            blocks += [nn.Conv1d(c_in, c, k, padding=k // 2), nn.ReLU(), nn.MaxPool1d(p), nn.BatchNorm1d(c)]
            c_in, n = c, n // p
        if n < 1:
            raise ValueError(f"input length {length} is too short for pools {pools}")
        self.features = nn.Sequential(*blocks)
        self.lstm = nn.LSTM(c_in, lstm_hidden, num_layers=lstm_layers, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(n * lstm_hidden, dense),
            nn.ReLU(),
            nn.Linear(dense, dense),
            nn.ReLU(),
            nn.Linear(dense, n_classes),
        )
        self.length = length

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits for a batch of spectra.

        Parameters
        ----------
        x : torch.Tensor
            Spectra, shape ``(N, 1, length)``.

        Returns
        -------
        torch.Tensor
            Logits, shape ``(N, n_classes)``.

        Raises
        ------
        ValueError
            If ``x`` does not have shape ``(N, 1, length)``.
        """
        if x.ndim != 3 or x.shape[1] != 1 or x.shape[2] != self.length:
            raise ValueError(f"LRCN expects input of shape (N, 1, {self.length}), got {tuple(x.shape)}")
        h = run_blocks(self.features, x)     # (N, C, T); = self.features(x), cheaper without gradients
        h, _ = self.lstm(h.transpose(1, 2))  # (N, T, H)
        return self.head(self.dropout(h))


def save_lrcn(model: LRCN, path) -> None:
    """Save weights and constructor arguments (see :func:`rexbench.training.save_model`).

    Parameters
    ----------
    model : LRCN
        Model to save.
    path : str or os.PathLike
        Weights file; the arguments go to ``path`` + ``.config.json``.
    """
    from ..training import save_model

    save_model(model, path)


def load_lrcn(path) -> LRCN:
    """Rebuild an LRCN saved by :func:`save_lrcn` (weights loaded with ``weights_only``).

    Parameters
    ----------
    path : str or os.PathLike
        Weights file written by :func:`save_lrcn`.

    Returns
    -------
    LRCN
        The model, in eval mode.

    Raises
    ------
    FileNotFoundError
        If ``path`` + ``.config.json`` is missing.
    """
    from ..training import load_model

    return load_model(LRCN, path)
