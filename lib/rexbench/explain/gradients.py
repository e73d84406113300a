"""Gradient methods through captum, for 1-D, 2-D and 3-D inputs: Saliency, Integrated
Gradients, Guided GradCAM and GradCAM (upsampled to the input)."""
from __future__ import annotations

import captum.attr as ca
from .base import Explainer, resolve_layer

_UPSAMPLE = {1: "linear", 2: "bilinear", 3: "trilinear"}


class Saliency(Explainer):
    """captum ``Saliency``: the absolute gradient of the target score, ``|d score / d x|``."""

    name = "saliency"

    def _attribute(self, inputs, target, keys):
        x = inputs.clone().requires_grad_(True)
        return ca.Saliency(self.forward_func).attribute(x, target=target, abs=True), {}


class IntegratedGradients(Explainer):
    """captum ``IntegratedGradients`` from a constant baseline.

    Parameters
    ----------
    forward_func : torch.nn.Module or callable
    baseline : float
        The value of an absent input (0: black image, silent spectrogram, empty volume).
    n_steps : int
        Points of the Riemann sum along the path.
    internal_batch_size : int
        Path points per forward pass (memory only; not part of :attr:`params`).
    """

    name = "integrated_gradients"

    def __init__(self, forward_func, *, baseline: float = 0.0, n_steps: int = 32, internal_batch_size: int = 256):
        super().__init__(forward_func)
        if n_steps < 2 or internal_batch_size < 1:
            raise ValueError(f"{self.name}: n_steps must be at least 2 and internal_batch_size at least 1, got "
                             f"n_steps={n_steps}, internal_batch_size={internal_batch_size}")
        self.baseline, self.n_steps, self.internal_batch_size = float(baseline), int(n_steps), int(internal_batch_size)

    def _settings(self):
        return {"baseline": self.baseline, "n_steps": self.n_steps}

    def _attribute(self, inputs, target, keys):
        x = inputs.clone().requires_grad_(True)
        a = ca.IntegratedGradients(self.forward_func).attribute(
            x, baselines=self.baseline, target=target, n_steps=self.n_steps,
            internal_batch_size=self.internal_batch_size)
        return a, {}


class _LayerMethod(Explainer):
    """A method that reads a layer of the model: ``layer`` is a module of it, its name, or
    ``None`` for ``model.last_conv``; a name (or ``None``) follows copies of the model, such as
    Quantus' randomised ones."""

    def __init__(self, forward_func, *, layer=None):
        super().__init__(forward_func)
        self.layer, self.layer_name = resolve_layer(forward_func, layer, self.name)

    def _settings(self):
        return {"layer": self.layer_name}


class GuidedGradCam(_LayerMethod):
    """captum ``GuidedGradCam``: guided backpropagation times GradCAM of ``layer``.

    Parameters
    ----------
    forward_func : torch.nn.Module
    layer : torch.nn.Module, str or None
        A convolution of the model, or its name; ``None``: ``model.last_conv``.
    """

    name = "guided_gradcam"

    def _attribute(self, inputs, target, keys):
        x = inputs.clone().requires_grad_(True)
        return ca.GuidedGradCam(self.forward_func, self.layer).attribute(x, target=target), {}


class GradCam(_LayerMethod):
    """captum ``LayerGradCam`` of ``layer`` (ReLU of the weighted activations), upsampled to
    the input (linear, bilinear or trilinear by the number of spatial axes).

    Parameters
    ----------
    forward_func : torch.nn.Module
    layer : torch.nn.Module, str or None
        As for :class:`GuidedGradCam`.
    """

    name = "gradcam"

    def _attribute(self, inputs, target, keys):
        x = inputs.clone().requires_grad_(True)
        cam = ca.LayerGradCam(self.forward_func, self.layer).attribute(x, target=target, relu_attributions=True)
        spatial = tuple(inputs.shape[2:])
        up = ca.LayerAttribution.interpolate(cam, spatial, interpolate_mode=_UPSAMPLE[len(spatial)])
        return up.expand_as(inputs) if up.shape[1] != inputs.shape[1] else up, {}
