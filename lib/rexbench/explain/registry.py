"""Every explainer the book uses, by the name the chapters, sweeps and tables use."""
from __future__ import annotations

from .base import Explainer
from .gradients import GradCam, GuidedGradCam, IntegratedGradients, Saliency
from .rex import ReX
from .shapley import DeepLiftShap, GradientShap, KernelShap

EXPLAINERS: dict[str, type[Explainer]] = {
    cls.name: cls
    for cls in (ReX, Saliency, IntegratedGradients, GuidedGradCam, GradCam, GradientShap, KernelShap, DeepLiftShap)
}

LABELS = {"rex": "ReX", "saliency": "Saliency", "integrated_gradients": "Integrated Gradients",
          "guided_gradcam": "Guided GradCAM", "gradcam": "GradCAM", "gradient_shap": "GradientSHAP",
          "kernel_shap": "KernelSHAP", "deeplift_shap": "DeepLIFT-SHAP"}


def make_explainer(name: str, forward_func, **settings) -> Explainer:
    """The explainer called ``name`` (a key of :data:`EXPLAINERS`) for ``forward_func``."""
    if name not in EXPLAINERS:
        raise ValueError(f"unknown explainer {name!r}; choose one of {sorted(EXPLAINERS)}")
    return EXPLAINERS[name](forward_func, **settings)
