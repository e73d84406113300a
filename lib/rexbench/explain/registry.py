"""Every explainer the book uses, by the name the chapters, sweeps and tables use."""
from __future__ import annotations

from .base import Explainer
from .gradients import GradCam, GuidedGradCam, IntegratedGradients, Saliency
from .rex import ReX
from .shapley import DeepLiftShap, GradientShap, KernelShap
from .specrex import SpecReX

#: The explainer class of each method name the book uses: ``rex``, ``specrex``, ``saliency``,
#: ``integrated_gradients``, ``guided_gradcam``, ``gradcam``, ``gradient_shap``,
#: ``kernel_shap`` and ``deeplift_shap`` (each class's ``name``).
EXPLAINERS: dict[str, type[Explainer]] = {
    cls.name: cls
    for cls in (ReX, SpecReX, Saliency, IntegratedGradients, GuidedGradCam, GradCam, GradientShap, KernelShap, DeepLiftShap)
}

#: The label of each method of :data:`EXPLAINERS` in the book's tables and figures.
LABELS = {"rex": "ReX", "specrex": "SpecReX", "saliency": "Saliency", "integrated_gradients": "Integrated Gradients",
          "guided_gradcam": "Guided GradCAM", "gradcam": "GradCAM", "gradient_shap": "GradientSHAP",
          "kernel_shap": "KernelSHAP", "deeplift_shap": "DeepLIFT-SHAP"}


def make_explainer(name: str, forward_func, **settings) -> Explainer:
    """The explainer called ``name`` (a key of :data:`EXPLAINERS`) for ``forward_func``.

    Parameters
    ----------
    name : str
        The method's name.
    forward_func : torch.nn.Module or callable
        The model (the class's first argument); the layer methods (GradCAM, Guided
        GradCAM) need a module.
    **settings
        Keyword arguments of the class's constructor.

    Returns
    -------
    Explainer
        A new instance of ``EXPLAINERS[name]``.

    Raises
    ------
    ValueError
        If ``name`` is not a key of :data:`EXPLAINERS` (the constructor raises its own
        errors for bad settings).
    """
    if name not in EXPLAINERS:
        raise ValueError(f"unknown explainer {name!r}; choose one of {sorted(EXPLAINERS)}")
    return EXPLAINERS[name](forward_func, **settings)
