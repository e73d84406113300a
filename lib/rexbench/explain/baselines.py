"""The SHAP baselines as the SpecReX authors ran them, through captum.

Only glue: each function builds the captum explainer with the published settings and
returns attributions shaped like the inputs (plus DeepLIFT's convergence delta).
"""
from __future__ import annotations

import numpy as np
import torch
from captum.attr import DeepLiftShap, GradientShap, KernelShap


def kernel_shap(model, inputs, target, n_samples: int = 2000, baseline: float = 0.0, batch: int = 50,
                seed: int = 0, feature_mask: torch.Tensor | None = None):
    """captum KernelShap with a constant (zero) baseline: every point a feature, or the
    groups of ``feature_mask`` (labels shaped (1, 1, *spatial), e.g. supervoxels).
    ``batch``: coalitions per forward pass (small batches are faster per query on a CPU;
    ``benchmarks/bench_batch.py``); it does not change the result."""
    explainer = KernelShap(model)
    out = []
    for i in range(len(inputs)):
        torch.manual_seed(seed + i)  # captum draws its coalitions from torch's RNG
        kw = dict(baselines=baseline, target=int(target[i]), n_samples=n_samples, perturbations_per_eval=batch)
        if feature_mask is None:
            out.append(explainer.attribute(inputs[i : i + 1], **kw))
        else:
            # Per-group coefficients, scattered to points by indexing: captum's own conversion
            # loops over every group with a full-input comparison (slow for volumes).
            coef = explainer.attribute(inputs[i : i + 1], feature_mask=feature_mask, return_input_shape=False, **kw)
            out.append(coef.reshape(-1)[feature_mask].to(inputs.dtype))
    return torch.cat(out)


def gradient_shap(model, inputs, target, n_samples: int = 2000, baseline: float = 0.0, stdevs: float = 0.0, seed: int = 0, batch: int = 128):
    """captum GradientShap from a zero baseline: ``n_samples`` random points on the path,
    in captum calls of at most ``batch`` samples (bounded memory, and faster per sample on
    a CPU than one large call), averaged with weights so that exactly ``n_samples`` count."""
    if n_samples < 1 or batch < 1:
        raise ValueError(f"n_samples and batch must be at least 1, got n_samples={n_samples}, batch={batch}")
    explainer = GradientShap(model)
    out = []
    for i in range(len(inputs)):
        # captum draws the noise from torch's RNG but the path coefficients from numpy's
        # global RNG (np.random.uniform): seed both, or results depend on unseeded state.
        torch.manual_seed(seed + i)
        np.random.seed(seed + i)
        base = torch.full_like(inputs[i : i + 1], baseline)
        total = torch.zeros_like(inputs[i : i + 1])
        for lo in range(0, n_samples, batch):
            k = min(batch, n_samples - lo)
            total += k * explainer.attribute(inputs[i : i + 1], baselines=base, target=int(target[i]), n_samples=k,
                                             stdevs=stdevs)
        out.append(total / n_samples)
    return torch.cat(out)


def deeplift_shap(model, inputs, target, background: torch.Tensor):
    """captum DeepLiftShap over a background set; returns (attributions, |delta| per input).

    The convergence delta is how far the attributions' sum is from the output difference
    they should explain: near 0 for a faithful DeepLIFT, large through an LSTM, whose
    gating DeepLIFT's rules do not cover.
    """
    explainer = DeepLiftShap(model)
    attrs, deltas = [], []
    for i in range(len(inputs)):
        a, d = explainer.attribute(inputs[i : i + 1], baselines=background, target=int(target[i]), return_convergence_delta=True)
        attrs.append(a)
        deltas.append(d.abs().mean())
    return torch.cat(attrs), torch.stack(deltas)


def cube_feature_mask(shape, size: int) -> torch.Tensor:
    """Supervoxels for KernelSHAP on volumes: a label per ``size``^3 cube, shaped (1, 1, *shape)."""
    idx = [torch.arange(n) // size for n in shape]
    counts = [int(i.max()) + 1 for i in idx]
    grid = torch.meshgrid(*idx, indexing="ij")
    labels = grid[0] * counts[1] * counts[2] + grid[1] * counts[2] + grid[2]
    return labels[None, None]


def volume_baseline(method: str, model, inputs, target, *, layer=None, n_steps: int = 32,
                    n_samples: int = 20, stdevs: float = 0.05, cube: int = 6, kshap_samples: int = 400,
                    internal_batch_size: int = 16, seed: int = 0):
    """The volume study's baselines through captum, attributions shaped like ``inputs``:
    ``saliency`` (|gradient|), ``integrated_gradients`` (zero baseline), ``gradcam``
    (LayerGradCam on ``layer``, trilinearly upsampled), ``gradient_shap`` (zero baseline,
    ``n_samples`` noisy samples) and ``kernel_shap`` over ``cube``^3 supervoxels."""
    from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Saliency

    target = torch.as_tensor(target)
    torch.manual_seed(seed)
    if method == "saliency":
        return Saliency(model).attribute(inputs, target=target, abs=True)
    if method == "integrated_gradients":
        return IntegratedGradients(model).attribute(inputs, baselines=0.0, target=target, n_steps=n_steps,
                                                    internal_batch_size=internal_batch_size)
    if method == "gradcam":
        if layer is None:
            raise ValueError("gradcam needs the layer (a module of the model) to take activations from")
        cam = LayerGradCam(model, layer).attribute(inputs, target=target, relu_attributions=True)
        return LayerAttribution.interpolate(cam, tuple(inputs.shape[2:]), interpolate_mode="trilinear")
    if method == "gradient_shap":
        return gradient_shap(model, inputs, target, n_samples=n_samples, stdevs=stdevs, seed=seed, batch=max(n_samples, 1))
    if method == "kernel_shap":
        return kernel_shap(model, inputs, target, n_samples=kshap_samples, batch=internal_batch_size, seed=seed,
                           feature_mask=cube_feature_mask(inputs.shape[2:], cube))
    raise ValueError(f"unknown baseline {method!r}")
