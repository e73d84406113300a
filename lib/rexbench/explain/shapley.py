"""Shapley-value baselines through captum: GradientSHAP, KernelSHAP (every point a
feature, or groups of points) and DeepLIFT-SHAP. Each input is explained on its own
(KernelSHAP: captum's algorithm, its sampling loop vectorised, optionally an exact fit), with torch's and
numpy's generators seeded from (``seed``, the input's key), so a map never depends on the
other inputs of the batch."""
from __future__ import annotations

import captum.attr as ca
import numpy as np
import scipy.linalg
import torch
from captum._utils.models.linear_model import SkLearnLinearRegression
from captum.attr._core.lime import construct_feature_mask
from torch.utils.data import DataLoader, TensorDataset

from ..io import array_digest
from .base import Explainer, input_seed, seeded_globals
from .rex import batch_size_for


class GradientShap(Explainer):
    """captum ``GradientShap`` from a constant baseline.

    Parameters
    ----------
    forward_func : torch.nn.Module or callable
    n_samples : int
        Random points on the path from the baseline to the input (published: 2,000).
    stdevs : float
        Standard deviation of the Gaussian noise added to each sample (0: none).
    baseline : float
        The value of an absent input.
    batch : int, optional
        Most samples per captum call (memory, and speed on a CPU); the calls' results are
        averaged with weights so that exactly ``n_samples`` count, from the same draws, so
        the batch changes a map only by the average's float rounding. Not part of
        :attr:`params`. None: ReX's default for inputs of this size
        (:func:`~rexbench.explain.rex.default_batch_size`; 512 for an 852-point spectrum,
        where the LRCN's forward and backward pass per sample is cheapest,
        ``book/tables/bench_batch.csv``).
    seed : int
    """

    name = "gradient_shap"
    version = 2  # 2: seeded per input from (seed, key), not per call or by batch position
    stochastic = True

    def __init__(self, forward_func, *, n_samples: int = 2000, stdevs: float = 0.0, baseline: float = 0.0,
                 batch: int | None = None, seed: int = 0):
        super().__init__(forward_func)
        if n_samples < 1 or (batch is not None and batch < 1) or stdevs < 0:
            raise ValueError(f"{self.name}: n_samples and batch must be at least 1 and stdevs non-negative, got "
                             f"n_samples={n_samples}, batch={batch}, stdevs={stdevs}")
        self.n_samples, self.stdevs, self.baseline = int(n_samples), float(stdevs), float(baseline)
        self.batch, self.seed = None if batch is None else int(batch), int(seed)

    def _settings(self):
        return {"n_samples": self.n_samples, "stdevs": self.stdevs, "baseline": self.baseline, "seed": self.seed}

    def _attribute(self, inputs, target, keys):
        explainer = ca.GradientShap(self.forward_func)
        out = []
        step = batch_size_for(self.batch, inputs)
        for i in range(len(inputs)):
            x = inputs[i : i + 1]
            base = torch.full_like(x, self.baseline)
            total = torch.zeros_like(x)
            with seeded_globals(input_seed(self.seed, keys[i])):
                for lo in range(0, self.n_samples, step):
                    k = min(step, self.n_samples - lo)
                    total += k * explainer.attribute(x.clone().requires_grad_(True), baselines=base,
                                                     target=int(target[i]), n_samples=k, stdevs=self.stdevs).detach()
            out.append(total / self.n_samples)
        return torch.cat(out), {}


def cube_feature_mask(shape, size: int) -> torch.Tensor:
    """Feature groups for :class:`KernelShap` on volumes: a label per cube of side ``size``,
    shaped ``(1, 1, *shape)``.

    Parameters
    ----------
    shape : sequence of int
        The spatial shape, e.g. ``(D, H, W)`` (any number of axes).
    size : int
        The cubes' side in points; the last cube along an axis is shorter where ``size`` does
        not divide it.

    Returns
    -------
    torch.Tensor
        ``int64`` labels ``0 .. n_cubes - 1``, numbered in row-major order of the cubes.

    Raises
    ------
    ValueError
        If ``size`` is below 1.
    """
    if size < 1:
        raise ValueError(f"cube size must be at least 1, got {size}")
    idx = [torch.arange(n) // size for n in shape]
    counts = [int(i.max()) + 1 for i in idx]
    grid = torch.meshgrid(*idx, indexing="ij")
    labels = torch.zeros_like(grid[0])
    for g, c in zip(grid, counts):
        labels = labels * c + g
    return labels[None, None]


class KernelShap(Explainer):
    """captum ``KernelShap`` with a constant baseline: every point a feature, or the groups
    of ``feature_mask``. captum's algorithm with its per-coalition Python loop done as
    array operations: for a fixed seed the coalitions, model inputs, batches and weights
    equal ``captum.attr.KernelShap``'s, and with its default fit so does the result
    (tested).

    Parameters
    ----------
    forward_func : torch.nn.Module or callable
    n_samples : int
        Coalitions per input (published: 2,000).
    baseline : float
        The value of an absent feature.
    feature_mask : torch.Tensor, optional
        Integer group labels shaped ``(1, 1, *spatial)`` (e.g. :func:`cube_feature_mask`);
        ``None``: every point its own feature.
    batch : int, optional
        Coalitions per forward pass (speed only; not part of :attr:`params`; the model's
        outputs do not depend on it). None: ReX's default for inputs of this size
        (:func:`~rexbench.explain.rex.default_batch_size`: 512 for an 852-point spectrum,
        where captum's usual 50 leaves the model's time per query well above its best,
        ``book/tables/bench_batch.csv``).
    fit : {"captum", "lstsq"}
        How the weighted least-squares problem is solved. ``"captum"`` (default, as the
        SpecReX authors ran it): captum's own fit (sklearn ``LinearRegression``: float32,
        LAPACK's SVD solver gelsd with a relative singular-value cut of 1e-6). The two rows
        captum weights by 1e6 (the empty and the full coalition) make that system
        ill-conditioned, and the cut drops directions the solution needs: on the Raman
        designs its largest coefficient error is 2-15% of the largest coefficient
        (``book/tables/bench_baselines.csv``). ``"lstsq"``: the same problem solved by
        :func:`weighted_lstsq`, within 1e-4 of the float64 solution (tested) and 1.5-2 times
        as fast.
    seed : int
    """

    name = "kernel_shap"
    version = 2  # 2: seeded per input from (seed, key), not by position
    fits = ("captum", "lstsq")
    stochastic = True

    def __init__(self, forward_func, *, n_samples: int = 2000, baseline: float = 0.0,
                 feature_mask: torch.Tensor | None = None, batch: int | None = None, fit: str = "captum",
                 seed: int = 0):
        super().__init__(forward_func)
        if fit not in self.fits:
            raise ValueError(f"{self.name}: fit must be one of {self.fits}, got {fit!r}")
        if n_samples < 2 or (batch is not None and batch < 1):
            raise ValueError(f"{self.name}: n_samples must be at least 2 and batch at least 1, got "
                             f"n_samples={n_samples}, batch={batch}")
        if feature_mask is not None and (not isinstance(feature_mask, torch.Tensor) or feature_mask.is_floating_point()):
            raise TypeError(f"{self.name}: feature_mask must be an integer tensor (1, 1, *spatial)")
        self.n_samples, self.baseline, self.seed = int(n_samples), float(baseline), int(seed)
        self.batch = None if batch is None else int(batch)
        self.feature_mask, self.fit = feature_mask, fit

    def _settings(self):
        mask = None if self.feature_mask is None else array_digest(self.feature_mask)
        return {"n_samples": self.n_samples, "baseline": self.baseline, "feature_mask": mask, "seed": self.seed,
                # Only when set: maps made with captum's fit keep their cache key.
                **({"fit": self.fit} if self.fit != "captum" else {})}

    def _attribute(self, inputs, target, keys):
        mask = self.feature_mask
        if mask is not None and tuple(mask.shape[2:]) != tuple(inputs.shape[2:]):
            raise ValueError(f"{self.name}: feature_mask has spatial shape {tuple(mask.shape[2:])}, the inputs "
                             f"{tuple(inputs.shape[2:])}")
        out = []
        for i in range(len(inputs)):
            with seeded_globals(input_seed(self.seed, keys[i])):  # captum draws coalitions from torch's RNG
                out.append(self._explain_one(inputs[i : i + 1], int(target[i])))
        return torch.cat(out), {}

    def _explain_one(self, x: torch.Tensor, target: int) -> torch.Tensor:
        """captum's KernelSHAP for one input, its per-coalition Python loop done as array
        operations: the same coalitions, drawn from torch's RNG in the same order (a
        ``Categorical`` draw of the coalition size, then ``randn`` over the features,
        thresholded at its top k), the same model inputs in the same batches, the same
        weights and captum's own weighted linear fit; ``tests/explain/test_shapley.py``
        checks the result equals ``captum.attr.KernelShap``'s."""
        explainer = ca.KernelShap(self.forward_func)
        # captum's own feature groups (default: every element of the input its own feature).
        (feature_mask,), n_features = construct_feature_mask(self.feature_mask, (x,))
        sizes = torch.arange(n_features, dtype=torch.float)
        probs = torch.tensor(n_features - 1) / (sizes * (n_features - sizes))
        probs[0] = 0.0
        # captum's Categorical(probs).sample() is torch.multinomial(p, 1, True) of the
        # normalised p, which for one draw is argmax(p / q) with q ~ Exp(1) (ATen's fast
        # path): the same generator calls without the distribution's per-call overhead
        # (test_shapley checks equality).
        p = probs / probs.sum()
        n_random = self.n_samples - 2
        k = torch.empty(n_random, dtype=torch.long)
        noise = torch.empty(n_random, n_features)
        q = torch.empty_like(p)
        for j in range(n_random):  # the RNG calls of captum's generator, in its order
            q.exponential_(1)
            k[j] = torch.div(p, q, out=q).argmax()
            noise[j].normal_()  # what torch.randn(1, n_features) draws
        # captum's threshold: the (n - k)-th smallest noise value of each row (kthvalue);
        # numpy's introselect per row is 10x cheaper than sorting the whole array.
        ranks = (n_features - k - 1).tolist()
        threshold = torch.tensor([np.partition(r, j)[j] for r, j in zip(noise.numpy(), ranks)])[:, None]
        coalitions = torch.cat([torch.ones(1, n_features, dtype=torch.long),
                                torch.zeros(1, n_features, dtype=torch.long), (noise > threshold).long()])
        outputs = []
        step = batch_size_for(self.batch, x)
        with torch.no_grad():
            for lo in range(0, len(coalitions), step):
                kb = coalitions[lo : lo + step, feature_mask[0]].bool()  # (batch, C or 1, *spatial)
                batch = kb.to(x.dtype) * x + (~kb).to(x.dtype) * self.baseline
                outputs.append(self.forward_func(batch)[:, target].flatten())
        n_on = coalitions.sum(dim=1)
        weights = torch.where((n_on == 0) | (n_on == n_features), explainer.inf_weight, 1.0).float()
        if self.fit == "captum":
            model = SkLearnLinearRegression()
            data = TensorDataset(coalitions.float(), torch.cat(outputs).float(), weights)
            model.fit(DataLoader(data, batch_size=len(coalitions)))
            coef = model.representation().reshape(-1)
        else:
            coef = torch.from_numpy(weighted_lstsq(coalitions.numpy(), torch.cat(outputs).float().numpy(),
                                                   weights.numpy()))
        return coef[feature_mask].to(x.dtype).expand_as(x)


def weighted_lstsq(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Coefficients of the weighted least-squares fit of ``y`` on ``X`` with an intercept,
    the problem sklearn's ``LinearRegression(sample_weight=w)`` poses (columns and ``y``
    centred on their weighted means, rows scaled by ``sqrt(w)``), solved in float32 by
    LAPACK's rank-revealing QR (gelsy, relative cut 1e-6 as sklearn's).

    Parameters
    ----------
    X : numpy.ndarray
        Design ``(n, p)`` (KernelSHAP: 0/1 coalitions).
    y : numpy.ndarray
        Targets ``(n,)``.
    w : numpy.ndarray
        Non-negative row weights ``(n,)``, not all zero.

    Returns
    -------
    numpy.ndarray
        ``float32`` coefficients ``(p,)`` (the intercept is not returned).
    """
    X, y, w = (np.asarray(a, dtype=np.float32) for a in (X, y, w))
    if X.ndim != 2 or y.shape != (len(X),) or w.shape != (len(X),):
        raise ValueError(f"weighted_lstsq: X must be (n, p) with y and w (n,), got {X.shape}, {y.shape}, {w.shape}")
    if (w < 0).any() or not w.any():
        raise ValueError("weighted_lstsq: weights must be non-negative and not all zero")
    root = np.sqrt(w)
    A = (X - np.average(X, axis=0, weights=w)) * root[:, None]
    b = (y - np.average(y, weights=w)) * root
    return scipy.linalg.lstsq(A, b, cond=1e-6, lapack_driver="gelsy", check_finite=False,
                              overwrite_a=True, overwrite_b=True)[0].astype(np.float32)


class DeepLiftShap(Explainer):
    """captum ``DeepLiftShap``: DeepLIFT averaged over a background set.

    Parameters
    ----------
    forward_func : torch.nn.Module
    background : torch.Tensor
        Reference inputs ``(B, C, *spatial)`` (e.g. training inputs).

    Notes
    -----
    ``stats["delta"]`` is each input's mean absolute convergence delta: how far the
    attributions' sum is from the output difference they should explain (near 0 for a
    faithful DeepLIFT; large through an LSTM, whose gating DeepLIFT's rules do not cover).
    """

    name = "deeplift_shap"

    def __init__(self, forward_func, *, background: torch.Tensor):
        super().__init__(forward_func)
        if not isinstance(background, torch.Tensor) or background.ndim < 3 or len(background) < 1:
            raise ValueError(f"{self.name}: background must be a tensor of reference inputs (B, C, *spatial)")
        self.background = background.detach()

    def _settings(self):
        return {"background": array_digest(self.background), "n_background": len(self.background)}

    def _attribute(self, inputs, target, keys):
        if tuple(self.background.shape[1:]) != tuple(inputs.shape[1:]):
            raise ValueError(f"{self.name}: background inputs are {tuple(self.background.shape[1:])}, the inputs "
                             f"{tuple(inputs.shape[1:])}")
        explainer = ca.DeepLiftShap(self.forward_func)
        attrs, deltas = [], []
        for i in range(len(inputs)):
            a, d = explainer.attribute(inputs[i : i + 1].clone().requires_grad_(True), baselines=self.background,
                                       target=int(target[i]), return_convergence_delta=True)
            attrs.append(a.detach())
            deltas.append(float(d.abs().mean()))
        return torch.cat(attrs), {"delta": np.array(deltas)}
