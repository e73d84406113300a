"""Explainers with Captum's contract: the model and settings to the constructor, the data
to ``attribute(inputs, target=..., keys=...)``, which returns an :class:`Explanation`.

ReX is ours; the others call captum underneath. :data:`EXPLAINERS` maps each name the book
uses to its class.
"""
from .base import Explainer, Explanation
from .gradients import GradCam, GuidedGradCam, IntegratedGradients, Saliency
from .occlusion import (
    OCCLUSIONS,
    BaselineOcclusion,
    ConstantOcclusion,
    InterpolationOcclusion,
    Occlusion,
    make_occlusion,
)
from .registry import EXPLAINERS, LABELS, make_explainer
from .rex import PUBLISHED_REX_ITERS, PUBLISHED_REX_SEARCH_LIMIT, DegenerateSearchError, ReX, SufficientExplanation
from .shapley import DeepLiftShap, GradientShap, KernelShap, cube_feature_mask
from .specrex import SpecReX

__all__ = [
    "Explainer", "Explanation", "EXPLAINERS", "LABELS", "make_explainer",
    "ReX", "SpecReX", "SufficientExplanation", "DegenerateSearchError", "PUBLISHED_REX_ITERS", "PUBLISHED_REX_SEARCH_LIMIT",
    "Saliency", "IntegratedGradients", "GuidedGradCam", "GradCam",
    "GradientShap", "KernelShap", "DeepLiftShap", "cube_feature_mask",
    "Occlusion", "ConstantOcclusion", "BaselineOcclusion", "InterpolationOcclusion", "OCCLUSIONS", "make_occlusion",
]
