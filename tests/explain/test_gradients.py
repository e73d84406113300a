"""Gradient explainers (rexbench.explain.gradients): Saliency, Integrated Gradients, GradCAM
upsampled to 1-, 2- and 3-D inputs, Guided GradCAM, and how a layer is named."""
import pytest
import torch

from helpers.models import Linear, QuadrantModel, RegionConvNet, quadrant_data, region_batch
from rexbench.explain import GradCam, GuidedGradCam, IntegratedGradients, Saliency, make_explainer

pytestmark = pytest.mark.filterwarnings("ignore:Setting backward hooks:UserWarning")


def test_saliency_is_the_absolute_gradient():
    lin = Linear(12)
    x = torch.randn(2, 1, 12)
    a = Saliency(lin).attribute(x, [0, 2]).maps
    torch.testing.assert_close(a[:, 0], lin.w.detach()[[0, 2]].abs())


def test_integrated_gradients_completeness():
    """The attributions sum to f(x) - f(baseline) (exact for a linear model, close for a
    smooth one with enough steps)."""
    lin = Linear(12)
    x = torch.randn(2, 1, 12)
    a = IntegratedGradients(lin, baseline=0.5, n_steps=4).attribute(x, [1, 2]).maps
    with torch.no_grad():
        gap = lin(x)[[0, 1], [1, 2]] - lin(torch.full_like(x, 0.5))[[0, 1], [1, 2]]
    torch.testing.assert_close(a.sum((1, 2)), gap, rtol=1e-4, atol=1e-5)
    model = RegionConvNet(2)
    x = region_batch(2)
    a = IntegratedGradients(model, n_steps=64, internal_batch_size=16).attribute(x, 1).maps
    with torch.no_grad():
        gap = model(x)[:, 1] - model(torch.zeros_like(x))[:, 1]
    torch.testing.assert_close(a.sum((1, 2, 3)), gap, rtol=1e-2, atol=1e-3)
    with pytest.raises(ValueError, match="n_steps must be at least 2"):
        IntegratedGradients(lin, n_steps=1)
    # Memory-only settings are not part of the cache key.
    assert IntegratedGradients(lin, internal_batch_size=1).params == IntegratedGradients(lin).params


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_gradcam_is_upsampled_to_the_input_and_non_negative(ndim):
    model = RegionConvNet(ndim)
    x = region_batch(ndim)
    a = GradCam(model).attribute(x, 1).maps
    assert a.shape == x.shape and (a >= 0).all() and a.abs().sum() > 0
    g = GuidedGradCam(model).attribute(x, 1).maps
    assert g.shape == x.shape and torch.isfinite(g).all()


def test_gradient_methods_focus_on_what_the_model_reads():
    x, y = quadrant_data()
    for cls in (Saliency, IntegratedGradients, GuidedGradCam, GradCam):
        a = cls(QuadrantModel()).attribute(x, y).maps
        inside, outside = a[:, 0, :8, :8].abs().sum((1, 2)), a[:, 0, 8:, 8:].abs().sum((1, 2))
        assert torch.all(inside > outside), cls.__name__


def test_layers_by_module_or_name():
    model = QuadrantModel()
    by_default, by_name = GuidedGradCam(model), GuidedGradCam(model, layer="last_conv")
    by_module = GuidedGradCam(model, layer=model.last_conv)
    assert by_default.params == by_name.params == by_module.params == {
        "method": "guided_gradcam", "version": 1, "layer": "last_conv"}
    x, y = quadrant_data(2)
    assert torch.equal(by_default.attribute(x, y).maps, by_name.attribute(x, y).maps)
    with pytest.raises(ValueError, match="not a module of this model"):
        GuidedGradCam(model, layer=torch.nn.Conv2d(1, 1, 3))
    with pytest.raises(ValueError, match="has no submodule 'conv9'"):
        GradCam(model, layer="conv9")
    with pytest.raises(TypeError, match="layer must be a module of the model or its name"):
        GradCam(model, layer=3)
    with pytest.raises(ValueError, match="needs layer=.*no 'last_conv'"):
        make_explainer("gradcam", Linear(4))
    with pytest.raises(TypeError, match="forward_func must be callable"):
        Saliency("model")
