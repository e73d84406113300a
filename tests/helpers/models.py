"""Toy models for the tests, with known answers: each predicts from a region of its input
that the tests know, so an explanation can be checked against it."""
from __future__ import annotations

import numpy as np
import torch

# A region per number of spatial axes and the input size it sits in (see region_batch).
SPATIAL = {1: (32,), 2: (12, 12), 3: (8, 8, 8)}
REGIONS = {1: (slice(8, 16),), 2: (slice(2, 6), slice(6, 10)), 3: (slice(1, 4), slice(4, 7), slice(2, 5))}


class RegionModel(torch.nn.Module):
    """Predicts class 1 iff the mean of the input over ``region`` (a tuple of slices over
    the spatial axes) exceeds 0.5; class 0 otherwise; class 2 never."""

    def __init__(self, region):
        super().__init__()
        self.region = region
        self.eval()

    def forward(self, x):
        m = x[(slice(None), 0, *self.region)].reshape(len(x), -1).mean(1)
        return torch.stack([0.5 - m, m - 0.5, torch.full_like(m, -1.0)], 1)


class RegionConvNet(torch.nn.Module):
    """A 1-D, 2-D or 3-D convolution, a tanh and 3 classes: class 1 iff the mean of the
    tanh of channel 0 (the input itself) over ``region`` exceeds 0.5, class 0 otherwise,
    class 2 never (its score depends weakly on channel 1, a fixed random filter).

    Every explainer can run on it: it has a ``last_conv`` (GradCAM), only DeepLIFT-supported
    non-linearities, and it is non-linear along any path from 0 (so GradientSHAP's random
    draws change its maps). A zero input is class 0: ReX with zero occlusion is not degenerate.
    """

    def __init__(self, ndim: int, region=None, seed: int = 0):
        super().__init__()
        conv = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)[ndim - 1]
        self.region = REGIONS[ndim] if region is None else region
        self.last_conv = conv(1, 2, 3, padding=1)
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            self.last_conv.weight.zero_()
            self.last_conv.weight[(0, 0, *([1] * ndim))] = 1.0  # channel 0: the input
            self.last_conv.weight[1] = 0.3 * torch.randn(self.last_conv.weight[1].shape, generator=g)
            self.last_conv.bias.zero_()
        self.act = torch.nn.Tanh()
        self.eval()

    def forward(self, x):
        h = self.act(self.last_conv(x))
        m = h[(slice(None), 0, *self.region)].reshape(len(x), -1).mean(1)
        other = h[:, 1].reshape(len(x), -1).mean(1)
        return torch.stack([0.5 - m, m - 0.5, -1.0 + 0.1 * other], 1)


def region_batch(ndim: int, n: int = 3, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    """``n`` inputs ``(n, 1, *SPATIAL[ndim])``: small noise, bright (about 1) in the region
    of :class:`RegionConvNet`, so the model predicts class 1 for each; inputs differ."""
    g = torch.Generator().manual_seed(seed)
    x = 0.05 * torch.rand(n, 1, *SPATIAL[ndim], generator=g, dtype=dtype)
    x[(slice(None), slice(None), *REGIONS[ndim])] += 0.9 + 0.2 * torch.rand(n, 1, *([1] * ndim), generator=g, dtype=dtype)
    return x


class QuadrantModel(torch.nn.Module):
    """10 classes; the score of class 1 is the mean of the top-left quadrant minus 0.3,
    class 0 is constant 0, the others far below: class 1 iff the quadrant is bright."""

    def __init__(self, size=16):
        super().__init__()
        self.size = size
        self.last_conv = torch.nn.Conv2d(1, 2, 3, padding=1)
        with torch.no_grad():
            self.last_conv.weight.zero_()
            self.last_conv.weight[0, 0, 1, 1] = 1.0
            self.last_conv.bias.zero_()
        self.act = torch.nn.ReLU()
        self.eval()

    def forward(self, x):
        h = self.act(self.last_conv(x))[:, 0]
        q = h[:, : self.size // 2, : self.size // 2].mean((1, 2))
        # The other classes are unlikely but still depend on the input (non-zero gradients).
        scores = -5.0 + 0.01 * torch.arange(10.0) * x.mean((1, 2, 3))[:, None]
        scores[:, 0] = 0.0
        scores[:, 1] = q - 0.3
        return scores


def quadrant_data(n=6, size=16, seed=0):
    """Inputs :class:`QuadrantModel` classifies as class 1, and their labels."""
    g = torch.Generator().manual_seed(seed)
    x = 0.05 * torch.rand(n, 1, size, size, generator=g)
    x[:, :, : size // 2, : size // 2] += 0.9
    return x, np.ones(n, dtype=np.int64)


class Fixed(torch.nn.Module):
    """Scores from a fixed function of a convolution of the input, for models that
    misbehave on purpose (2-D inputs, one channel)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.conv = torch.nn.Conv2d(1, 2, 3, padding=1)  # a last conv for Guided GradCAM
        self.last_conv = self.conv
        self.eval()

    def forward(self, x):
        return self.fn(self.conv(x))


def three_scores(h):
    """3 class scores from a 2-channel activation, for :class:`Fixed`."""
    return torch.stack([h[:, 0].mean((1, 2)), h[:, 1].mean((1, 2)), -h.mean((1, 2, 3))], 1)


class Linear(torch.nn.Module):
    """Class scores linear in the input, counting the samples it is asked about."""

    def __init__(self, n: int):
        super().__init__()
        self.w = torch.nn.Parameter(torch.linspace(-1, 1, 3 * n).reshape(3, n))
        self.rows = 0
        self.eval()

    def forward(self, x):
        self.rows += len(x)
        return x.flatten(1) @ self.w.T


def small_lrcn(length: int = 120):
    """A small LRCN for Raman-length spectra, seeded, in eval mode."""
    from rexbench.models import LRCN

    torch.manual_seed(0)
    return LRCN(length, kernels=(3, 3, 1, 1), channels=(4, 4, 4, 4), lstm_hidden=8, lstm_layers=1, dense=8).eval()


class TwoChannelPeak(torch.nn.Module):
    """Two channels, 2 classes: class 0 while points 100-130 of both channels stay bright
    (mean above 0.2)."""

    def forward(self, x):
        s = x[:, :, 100:130].mean((1, 2))
        return torch.stack([s, 0.2 + 0 * s], 1)
