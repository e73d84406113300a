"""Hostile and wrong inputs to the explainers at the cross-modality study's settings
(rexbench.compendium.studies.crossmodal): every one gets
a clear error naming the problem, or a documented, tested result."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.models import Fixed, three_scores
from rexbench.compendium.studies.crossmodal import METHODS, method_settings, rex_settings
from rexbench.explain import make_explainer

CAPTUM = [m for m in METHODS if m != "rex"]
pytestmark = pytest.mark.filterwarnings("ignore:Setting backward hooks:UserWarning")


def _x(n=2, size=12, seed=0):
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed))


def attribute(method, model, x, target, **settings):
    """The study's explainer of ``method`` (its settings for 12-pixel inputs)."""
    explainer = make_explainer(method, model, **method_settings(method, 12, **settings))
    return explainer.attribute(x, target=target)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("fn, message", [
    (lambda h: h.mean((1, 2, 3)), r"returned shape \(2,\) for 2 inputs"),
    (lambda h: three_scores(h) * float("nan"), r"NaN or inf scores for inputs \[0, 1\]"),
    (lambda h: (three_scores(h), None), "must return a tensor of class scores"),
])
def test_a_misbehaving_model_is_named(method, fn, message):
    with pytest.raises((ValueError, TypeError), match=message):
        attribute(method, Fixed(fn), _x(), [0, 1])


@pytest.mark.parametrize("method", METHODS)
def test_targets_outside_the_classes_are_refused(method):
    with pytest.raises(ValueError, match=r"targets \[3\] \(inputs \[1\]\) are out of range for a model with 3 classes"):
        attribute(method, Fixed(three_scores), _x(), [0, 3])
    with pytest.raises(ValueError, match="out of range"):
        attribute(method, Fixed(three_scores), _x(), [-1, 0])


@pytest.mark.parametrize("bad, error, message", [
    (torch.zeros(2, 1, 12, 12, dtype=torch.int64), TypeError, "floating-point"),
    (np.zeros((2, 1, 12, 12), dtype=np.float32), TypeError, "torch.Tensor"),
    # The explainers take 1-, 2- and 3-D inputs: a batch without a channel axis (N, H, W)
    # would be read as 1-D (N, C, L), so only a wrong number of axes is theirs to refuse.
    (torch.zeros(2, 144), ValueError, r"\(N, C, \*spatial\) with 1 or 2 or 3 spatial axes"),
    (torch.zeros(2, 1, 3, 3, 3, 3), ValueError, r"\(N, C, \*spatial\) with 1 or 2 or 3 spatial axes"),
    (torch.full((2, 1, 12, 12), float("inf")), ValueError, "NaN or inf"),
    (torch.zeros(0, 1, 12, 12), ValueError, "empty batch"),
])
def test_wrong_inputs_are_refused(bad, error, message):
    with pytest.raises(error, match=message):
        attribute("saliency", Fixed(three_scores), bad, [0, 0][: len(bad)] or [0])


@pytest.mark.parametrize("method", ["integrated_gradients", "gradient_shap"])
def test_an_input_equal_to_the_baseline_gets_a_zero_map(method):
    """Documented: IG and GradientSHAP explain the difference from the baseline; an input
    that is the baseline (a black image, silence) has nothing to attribute."""
    e = attribute(method, Fixed(three_scores), torch.zeros(1, 1, 12, 12), [0], shap_stdevs=0.0)
    assert e.maps.shape == (1, 1, 12, 12) and torch.equal(e.maps, torch.zeros_like(e.maps))
    assert e.stats["constant"].tolist() == [True]


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(6, 20), w=st.integers(6, 20), method=st.sampled_from(CAPTUM),
       const=st.one_of(st.none(), st.floats(0, 1)))
def test_maps_are_shaped_like_the_inputs_and_finite(n, h, w, method, const):
    torch.manual_seed(0)
    x = torch.full((n, 1, h, w), const) if const is not None else torch.rand(n, 1, h, w)
    a = attribute(method, Fixed(three_scores), x, [1] * n).maps
    assert a.shape == x.shape and torch.isfinite(a).all()


def test_rex_says_when_its_search_is_degenerate():
    """A model that predicts the target even with the whole input occluded: no map."""
    always = Fixed(lambda h: torch.stack([torch.ones(len(h)), torch.zeros(len(h)), h.mean((1, 2, 3)) * 0], 1))
    rex = make_explainer("rex", always, **rex_settings(12, iters=2, base_resolution=12))
    e = rex.attribute(_x(), np.array([0, 0]))
    assert e.stats["status"].tolist() == ["degenerate", "degenerate"] and torch.isnan(e.maps).all()


def test_a_model_in_training_mode_is_warned_about():
    model = Fixed(three_scores).train()
    with pytest.warns(UserWarning, match="training mode"):
        make_explainer("saliency", model).attribute(_x(), [0, 1])
