"""One CNN family for digit images and spoken-digit spectrograms, at any input size."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._inference import run_blocks


def stem_stride(size: int) -> int:
    """Return the first convolution's stride for inputs of ``size`` pixels.

    About size / 32 (28 and 32 -> 1, 64 -> 2, 128 -> 4), so every resolution reaches the
    same feature-map size.

    Parameters
    ----------
    size : int
        Input side in pixels (or bands).

    Returns
    -------
    int
        ``max(1, round(size / 32))``.
    """
    return max(1, int(round(size / 32)))


class DigitCNN(nn.Module):
    """Three convolutions with ReLU, the first two followed by 2x2 max-pooling; the last
    (``self.last_conv``, the GradCAM layer) keeps its resolution (7x7 for 28-pixel MNIST).
    The first convolution has stride ``stride`` and kernel ``stride + 2`` (every pixel is
    seen, none skipped): like the stem of an image network, it brings large inputs down to
    about 32x32 so that a 128x128 input costs about what a 32x32 one does.
    An adaptive average pool to a ``grid`` x ``grid`` layout keeps where things are (which
    band, which moment, which part of the digit) whatever the input size, so the same
    network serves 28- to 128-pixel images and 32- to 128-band spectrograms; then dropout
    and a linear layer.

    Every ReLU is its own module (captum's guided backpropagation hooks them).
    Input ``(N, 1, H, W)``; output ``(N, n_classes)`` logits.

    Parameters
    ----------
    n_classes : int, optional
        Number of output classes (default 10).
    channels : sequence of int, optional
        Output channels of the three convolutions (default ``(16, 32, 64)``).
    grid : int, optional
        Side of the adaptive average pool's output (default 4).
    dropout : float, optional
        Dropout probability before the linear layer (default 0.25).
    stride : int, optional
        Stride of the first convolution (default 1; see :func:`stem_stride`).

    Attributes
    ----------
    config : dict
        The constructor arguments (used by :func:`save_digit_cnn`).
    features : torch.nn.Sequential
        The first two convolutions with ReLU and max-pooling.
    last_conv : torch.nn.Conv2d
        The third convolution, the layer GradCAM uses.
    last_act : torch.nn.ReLU
        Activation after ``last_conv``.
    head : torch.nn.Sequential
        Adaptive average pool, dropout and the linear layer.

    Raises
    ------
    ValueError
        If ``channels`` does not have three entries or ``stride`` is below 1.
    """

    def __init__(self, n_classes: int = 10, channels: Sequence[int] = (16, 32, 64), grid: int = 4,
                 dropout: float = 0.25, stride: int = 1):
        super().__init__()
        if len(channels) != 3:
            raise ValueError(f"DigitCNN has three conv layers, got channels={list(channels)}")
        if stride < 1:
            raise ValueError(f"stride must be at least 1, got {stride}")
        self.config = {"n_classes": n_classes, "channels": list(channels), "grid": grid, "dropout": dropout,
                       "stride": stride}
        c1, c2, c3 = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, stride + 2, stride=stride, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.last_conv = nn.Conv2d(c2, c3, 3, padding=1)
        self.last_act = nn.ReLU()
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(grid), nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(c3 * grid * grid, n_classes))
        # Channels-last convolutions and pooling are about twice as fast on a CPU (oneDNN),
        # for training and for explainers' queries alike (benchmarks/bench_batch.py).
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits for a batch of images or spectrograms.

        Parameters
        ----------
        x : torch.Tensor
            Inputs, shape ``(N, 1, H, W)``, at least 8x8.

        Returns
        -------
        torch.Tensor
            Logits, shape ``(N, n_classes)``.

        Raises
        ------
        ValueError
            If ``x`` is not 4-D with one channel, or smaller than 8x8.
        """
        if x.ndim != 4 or x.shape[1] != 1:
            raise ValueError(f"DigitCNN expects input of shape (N, 1, H, W), got {tuple(x.shape)}")
        if min(x.shape[2:]) < 8:
            raise ValueError(f"DigitCNN needs inputs of at least 8x8, got {tuple(x.shape[2:])}")
        x = x.contiguous(memory_format=torch.channels_last)
        return self.head(self.last_act(self.last_conv(run_blocks(self.features, x))))


def save_digit_cnn(model: DigitCNN, path) -> None:
    """Save weights and constructor arguments (see :func:`rexbench.training.save_model`).

    Parameters
    ----------
    model : DigitCNN
        Model to save.
    path : str or os.PathLike
        Weights file; the arguments go to ``path`` + ``.config.json``.
    """
    from ..training import save_model

    save_model(model, path)


def load_digit_cnn(path) -> DigitCNN:
    """Rebuild a DigitCNN saved by :func:`save_digit_cnn` (weights loaded with ``weights_only``).

    Parameters
    ----------
    path : str or os.PathLike
        Weights file written by :func:`save_digit_cnn`.

    Returns
    -------
    DigitCNN
        The model, in eval mode.

    Raises
    ------
    FileNotFoundError
        If ``path`` + ``.config.json`` is missing.
    """
    from ..training import load_model

    return load_model(DigitCNN, path)
