"""The cross-modality methods behind one call, and the same call as a Quantus ``explain_func``.

Every method takes the model, a batch ``(N, 1, H, W)`` and one target per input, and
returns attributions shaped like the inputs (numpy float32 for Quantus). ``baseline`` is
the value of an absent input: 0 is black for our images and digital silence for our
scaled log-mel spectrograms (:mod:`rexbench.data.audio`), so "absent" means the same in
both modalities.

* ``saliency``: captum Saliency, |d score / d input|.
* ``integrated_gradients``: captum IntegratedGradients from the baseline (``ig_steps``).
* ``guided_gradcam``: captum GuidedGradCam on the model's last convolution (``layer``: a
  module of the model or a function model -> module; default ``model.last_conv``).
* ``gradient_shap``: captum GradientShap from the baseline with Gaussian input noise
  (``shap_samples``, ``shap_stdevs``).
* ``rex``: our ReX with 2D partitions and occlusion by the baseline. ReX explains the
  class the model predicts; where the model does not predict the target (a random other
  class, a randomised model, a perturbed input that flips the prediction), or where the
  search is degenerate (the fully occluded input keeps the class), there is no
  responsibility map and the result is NaN for that input, which Quantus turns into a NaN
  score that the chapters count and leave out.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

METHODS = ("saliency", "integrated_gradients", "guided_gradcam", "rex", "gradient_shap")


def _layer_of(model, layer):
    if layer is None:
        if not hasattr(model, "last_conv"):
            raise ValueError("guided_gradcam needs layer= (a module of the model, or model -> module); "
                             "the model has no 'last_conv'")
        return model.last_conv
    if isinstance(layer, torch.nn.Module):
        if not any(m is layer for m in model.modules()):
            raise ValueError("layer is not a module of this model (pass a function model -> module to "
                             "follow copies of the model, e.g. Quantus' randomised ones)")
        return layer
    if callable(layer):
        return layer(model)
    raise TypeError(f"layer must be a module or a function model -> module, got {type(layer).__name__}")


def _check(model, inputs, target):
    if not isinstance(inputs, torch.Tensor) or not torch.is_floating_point(inputs):
        raise TypeError("inputs must be a floating-point torch.Tensor (N, 1, H, W)")
    if inputs.ndim != 4:
        raise ValueError(f"inputs must be (N, C, H, W), got shape {tuple(inputs.shape)}")
    if len(inputs) == 0:
        raise ValueError("inputs is an empty batch")
    if not torch.isfinite(inputs).all():
        raise ValueError("inputs contain NaN or inf")
    target = torch.as_tensor(np.array(target), dtype=torch.long).reshape(-1)
    if len(target) == 1 and len(inputs) > 1:
        target = target.expand(len(inputs))
    if len(target) != len(inputs):
        raise ValueError(f"{len(target)} targets for {len(inputs)} inputs")
    return target


def _check_model(model, inputs: torch.Tensor, target: torch.Tensor) -> None:
    """One forward pass: the model must map (N, ...) to finite (N, classes) scores that
    cover the targets, or the attributions would be silently meaningless."""
    with torch.no_grad():
        scores = model(inputs)
    if not isinstance(scores, torch.Tensor):
        raise TypeError(f"the model must return a tensor of class scores, got {type(scores).__name__}")
    if scores.ndim != 2 or len(scores) != len(inputs):
        raise ValueError(f"the model returned shape {tuple(scores.shape)} for {len(inputs)} inputs; "
                         f"expected ({len(inputs)}, classes)")
    bad = (~torch.isfinite(scores).all(1)).nonzero().flatten().tolist()
    if bad:
        raise ValueError(f"the model returned NaN or inf scores for inputs {bad}")
    out = ((target < 0) | (target >= scores.shape[1])).nonzero().flatten().tolist()
    if out:
        raise ValueError(f"targets {target[out].tolist()} (inputs {out}) are out of range for a model with "
                         f"{scores.shape[1]} classes")


def attribute(method: str, model: torch.nn.Module, inputs: torch.Tensor, target, *, baseline: float = 0.0,
              layer=None, seed: int = 0, ig_steps: int = 32, shap_samples: int = 32, shap_stdevs: float = 0.1,
              rex: dict | None = None, internal_batch_size: int = 256) -> torch.Tensor:
    """Attributions of ``method`` (one of :data:`METHODS`), shaped like ``inputs``."""
    from captum.attr import GradientShap, GuidedGradCam, IntegratedGradients, Saliency

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    target = _check(model, inputs, target)
    model.eval()
    _check_model(model, inputs, target)
    inputs = inputs.detach().clone().requires_grad_(method != "rex")
    torch.manual_seed(seed)
    np.random.seed(seed)  # captum's GradientShap draws path points from numpy's global RNG
    if method == "saliency":
        return Saliency(model).attribute(inputs, target=target, abs=True).detach()
    if method == "integrated_gradients":
        return IntegratedGradients(model).attribute(inputs, baselines=baseline, target=target, n_steps=ig_steps,
                                                    internal_batch_size=internal_batch_size).detach()
    if method == "guided_gradcam":
        return GuidedGradCam(model, _layer_of(model, layer)).attribute(inputs, target=target).detach()
    if method == "gradient_shap":
        base = torch.full((1, *inputs.shape[1:]), float(baseline), dtype=inputs.dtype)
        return GradientShap(model).attribute(inputs, baselines=base, target=target, n_samples=shap_samples,
                                             stdevs=shap_stdevs).detach()
    return rex_or_nan(model, inputs, target, baseline=baseline, seed=seed, **(rex or {}))[0]


def rex_or_nan(model, inputs: torch.Tensor, target, *, baseline: float = 0.0, seed: int = 0, **settings):
    """ReX maps for the inputs the model classifies as ``target`` with a non-degenerate
    search; NaN maps for the rest. Returns ``(maps, status)`` with status per input:
    "ok", "not_predicted" or "degenerate"."""
    from .occlusion import ConstantOcclusion
    from .rex import ReX

    target = np.asarray(torch.as_tensor(target).reshape(-1).cpu())
    with torch.no_grad():
        pred = model(inputs).argmax(1).cpu().numpy()
    status = np.where(pred == target, "ok", "not_predicted").astype(object)
    out = torch.full_like(inputs, float("nan"))
    idx = np.flatnonzero(status == "ok")
    if idx.size:
        explainer = ReX(model, occlusion=ConstantOcclusion(float(baseline)), seed=seed, on_degenerate="flag", **settings)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # degenerate searches are reported in status
            maps = explainer.attribute(inputs[idx], target=target[idx])
        degenerate = explainer.stats.degenerate
        maps[torch.as_tensor(degenerate)] = float("nan")
        status[idx[degenerate]] = "degenerate"
        out[idx] = maps
    return out, status


@dataclass
class QuantusExplainer:
    """A Quantus ``explain_func``: ``f(model, inputs, targets, **kwargs) -> np.ndarray``.

    It explains with the model Quantus passes (so randomised copies are explained, not the
    trained model), at the settings given here; Quantus' ``explain_func_kwargs`` are ignored."""

    method: str
    settings: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {METHODS}")

    def __call__(self, model, inputs, targets, **kwargs) -> np.ndarray:
        x = torch.as_tensor(np.asarray(inputs, dtype=np.float32))
        a = attribute(self.method, model, x, np.asarray(targets), **self.settings)
        return a.detach().cpu().numpy().astype(np.float32)
