"""A small 3D CNN lesion detector (MONAI-free; any torch 3D classifier can replace it)."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._inference import run_blocks


class CNN3D(nn.Module):
    """A stride-2 Conv3d stem and a max-pool (4x downsampling at once: full-resolution 3D
    convolutions with several input channels are very slow to train on a CPU), blocks of
    Conv3d -> BatchNorm -> ReLU -> MaxPool3d(2), a last Conv3d (the GradCAM layer,
    ``self.last_conv``), global max pooling (a lesion anywhere should fire it) and a linear layer.

    With ``mirror=True`` (default) the network sees a second channel, the volume minus its
    left-right mirror image (axis D is left-right): lesions are one-sided, anatomy is
    roughly symmetric, so the difference makes a lesion stand out from the normally dark
    structures (ventricles, sulci) that a translation-invariant network cannot otherwise
    tell apart from it. The mirroring happens inside ``forward``: explainers still see
    and perturb one input volume.

    Input ``(N, 1, D, H, W)``; output ``(N, n_classes)`` logits.

    Parameters
    ----------
    n_classes : int, optional
        Number of output classes (default 2).
    channels : sequence of int, optional
        Output channels of the stem and of each following block (default ``(16, 32)``).
    last : int, optional
        Output channels of the last convolution (default 32).
    dropout : float, optional
        Dropout probability before the linear layer (default 0.2).
    mirror : bool, optional
        Add the volume-minus-mirror channel (default True).

    Attributes
    ----------
    config : dict
        The constructor arguments (used by :func:`save_cnn3d`).
    mirror : bool
        Whether the mirror-difference channel is added.
    features : torch.nn.Sequential
        Stem and blocks.
    last_conv : torch.nn.Conv3d
        The last convolution, the layer GradCAM uses.
    last_act : torch.nn.ReLU
        Activation after ``last_conv``.
    head : torch.nn.Sequential
        Global max pooling, dropout and the linear layer.
    """

    def __init__(self, n_classes: int = 2, channels: Sequence[int] = (16, 32), last: int = 32,
                 dropout: float = 0.2, mirror: bool = True):
        super().__init__()
        self.config = {"n_classes": n_classes, "channels": list(channels), "last": last, "dropout": dropout, "mirror": mirror}
        self.mirror = mirror
        layers = [nn.Conv3d(2 if mirror else 1, channels[0], 4, stride=2, padding=1), nn.BatchNorm3d(channels[0]), nn.ReLU(), nn.MaxPool3d(2)]
        c_in = channels[0]
        for c in channels[1:]:
            layers += [nn.Conv3d(c_in, c, 3, padding=1), nn.BatchNorm3d(c), nn.ReLU(), nn.MaxPool3d(2)]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.last_conv = nn.Conv3d(c_in, last, 3, padding=1)
        self.last_act = nn.ReLU()
        self.head = nn.Sequential(nn.AdaptiveMaxPool3d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(last, n_classes))
        # Channels-last 3D convolutions are ~1.2x faster on a CPU (oneDNN), training and queries alike.
        self.to(memory_format=torch.channels_last_3d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits for a batch of volumes.

        Parameters
        ----------
        x : torch.Tensor
            Volumes, shape ``(N, 1, D, H, W)``.

        Returns
        -------
        torch.Tensor
            Logits, shape ``(N, n_classes)``.

        Raises
        ------
        ValueError
            If ``x`` is not 5-D with one channel.
        """
        if x.ndim != 5 or x.shape[1] != 1:
            raise ValueError(f"CNN3D expects input of shape (N, 1, D, H, W), got {tuple(x.shape)}")
        if self.mirror and not torch.is_grad_enabled():
            # Queries (no gradient): both channels written once, straight into the
            # channels-last layout the stem reads, instead of cat and then a layout copy; the
            # same values with the same strides (bit for bit; out= has no autograd, so
            # gradients and training keep the path below).
            both = torch.empty((x.shape[0], 2, *x.shape[2:]), dtype=x.dtype, device=x.device,
                               memory_format=torch.channels_last_3d)
            both[:, :1] = x
            torch.sub(x, torch.flip(x, dims=[2]), out=both[:, 1:])
            x = both
        elif self.mirror:
            x = torch.cat([x, x - torch.flip(x, dims=[2])], dim=1)
        x = x.contiguous(memory_format=torch.channels_last_3d)
        return self.head(self.last_act(self.last_conv(run_blocks(self.features, x))))


def save_cnn3d(model: CNN3D, path) -> None:
    """Save weights and constructor arguments (see :func:`rexbench.training.save_model`).

    Parameters
    ----------
    model : CNN3D
        Model to save.
    path : str or os.PathLike
        Weights file; the arguments go to ``path`` + ``.config.json``.
    """
    from ..training import save_model

    save_model(model, path)


def load_cnn3d(path) -> CNN3D:
    """Rebuild a CNN3D saved by :func:`save_cnn3d` (weights loaded with ``weights_only``).

    Parameters
    ----------
    path : str or os.PathLike
        Weights file written by :func:`save_cnn3d`.

    Returns
    -------
    CNN3D
        The model, in eval mode.

    Raises
    ------
    FileNotFoundError
        If ``path`` + ``.config.json`` is missing.
    """
    from ..training import load_model

    return load_model(CNN3D, path)
