"""The contract every explainer of rexbench.explain.EXPLAINERS keeps (Captum's, plus ours):
an Explanation shaped like the inputs with one statistic per input, the same maps on every
call, maps that do not depend on the rest of the batch, random draws keyed by each input's
key, JSON-able ``params``, and clear errors before any work on bad input."""
import json

import numpy as np
import pytest
import torch

from helpers.models import SPATIAL, RegionConvNet, region_batch
from rexbench.explain import EXPLAINERS, Explanation, make_explainer

# Small settings per method (a new explainer fails test_every_explainer_has_settings here
# until it is given some).
SETTINGS = {
    "rex": lambda ndim: {"iters": 2, "occlusion": "zero", "min_box_size": 2},
    "specrex": lambda ndim: {"iters": 3, "min_size": 4, "noise": "gaussian"},
    "saliency": lambda ndim: {},
    "integrated_gradients": lambda ndim: {"n_steps": 8},
    "guided_gradcam": lambda ndim: {},  # layer=None: the model's last_conv
    "gradcam": lambda ndim: {},
    "gradient_shap": lambda ndim: {"n_samples": 8, "stdevs": 0.1, "batch": 4},
    "kernel_shap": lambda ndim: {"n_samples": 20},
    "deeplift_shap": lambda ndim: {
        "background": 0.05 * torch.rand(3, 1, *SPATIAL[ndim], generator=torch.Generator().manual_seed(7))},
}
# Stochastic methods whose maps visibly change with the draws even on a toy model.
DIFFER_BY_KEY = {"gradient_shap", "kernel_shap", "rex", "specrex"}

# captum announces the hooks it sets on the toy model's activations.
pytestmark = pytest.mark.filterwarnings("ignore:Setting .*hooks:UserWarning")

CASES = [pytest.param(name, ndim, id=f"{name}-{ndim}d") for name in sorted(EXPLAINERS) for ndim in EXPLAINERS[name].dims]
NAMES = [pytest.param(name, id=name) for name in sorted(EXPLAINERS)]


def nd(name):
    """The number of spatial axes the one-input tests use: 2 where the method allows it."""
    return 2 if 2 in EXPLAINERS[name].dims else EXPLAINERS[name].dims[0]


def make(name, ndim=2, **override):
    return make_explainer(name, RegionConvNet(ndim), **{**SETTINGS[name](ndim), **override})


def same(name, a, b):
    """Stochastic methods must reproduce exactly; deterministic ones up to float rounding
    (a batched backward pass may round differently)."""
    if EXPLAINERS[name].stochastic:
        return torch.equal(a, b)
    return torch.allclose(a, b, rtol=1e-5, atol=1e-6 * float(a.abs().max()))


def test_every_explainer_has_settings_here():
    assert set(SETTINGS) == set(EXPLAINERS)
    assert all(cls.name == name for name, cls in EXPLAINERS.items())
    assert DIFFER_BY_KEY <= {n for n, cls in EXPLAINERS.items() if cls.stochastic}
    with pytest.raises(ValueError, match="unknown explainer 'lime'"):
        make_explainer("lime", RegionConvNet(2))


@pytest.mark.parametrize("name, ndim", CASES)
def test_result_is_an_explanation_shaped_like_the_inputs(name, ndim):
    x = region_batch(ndim)
    e = make(name, ndim).attribute(x, target=1)
    assert isinstance(e, Explanation) and len(e) == len(x)
    assert e.maps.shape == x.shape and e.maps.dtype.is_floating_point
    assert torch.isfinite(e.maps).all()
    assert not e.stats["constant"].any()  # the toy model gives every method something to show
    assert e.stats and all(np.asarray(v).shape[:1] == (len(x),) for v in e.stats.values()), {
        k: np.shape(v) for k, v in e.stats.items()}
    assert isinstance(e.seconds, float) and e.seconds >= 0
    assert e.numpy().dtype == np.float32 and e.numpy().shape == x.shape
    # target=None explains the predicted class, here class 1 for every input.
    assert same(name, make(name, ndim).attribute(x).maps, e.maps)


@pytest.mark.parametrize("name, ndim", CASES)
def test_two_calls_give_the_same_maps(name, ndim):
    """Whatever the global generators hold: stochastic methods seed their own draws."""
    x = region_batch(ndim)
    explainer = make(name, ndim)
    torch.manual_seed(1), np.random.seed(1)
    first = explainer.attribute(x, target=1).maps
    torch.manual_seed(2), np.random.seed(2)
    second = explainer.attribute(x, target=1).maps
    third = make(name, ndim).attribute(x, target=1).maps  # a fresh explainer, same settings
    assert torch.equal(first, second) and torch.equal(first, third)


@pytest.mark.parametrize("name, ndim", CASES)
def test_a_map_does_not_depend_on_the_rest_of_the_batch(name, ndim):
    """Input 0 explained alone, first in a batch of 3, and second in the same batch
    reordered: the same map (each input keeps its own key)."""
    x, keys = region_batch(ndim), [5, 6, 7]
    explainer = make(name, ndim)
    alone = explainer.attribute(x[:1], target=[1], keys=keys[:1]).maps[0]
    batch = explainer.attribute(x, target=[1, 1, 1], keys=keys).maps[0]
    order = [2, 0, 1]
    moved = explainer.attribute(x[order], target=1, keys=[keys[i] for i in order]).maps[1]
    assert same(name, alone, batch), (alone - batch).abs().max()
    assert same(name, alone, moved), (alone - moved).abs().max()
    # Without keys every input draws the same stream: still independent of the batch.
    assert same(name, explainer.attribute(x[:1], target=1).maps[0], explainer.attribute(x, target=1).maps[0])


@pytest.mark.parametrize("name, ndim", CASES)
def test_keys_choose_the_draws_of_stochastic_explainers(name, ndim):
    x = region_batch(ndim, n=1)
    explainer = make(name, ndim)
    a = explainer.attribute(x, target=1, keys=[3]).maps
    assert torch.equal(a, explainer.attribute(x, target=1, keys=[3]).maps)  # the same key: the same map
    b = explainer.attribute(x, target=1, keys=[4]).maps
    if name in DIFFER_BY_KEY:
        assert not torch.equal(a, b), "another key must give other draws"
    elif not EXPLAINERS[name].stochastic:
        assert same(name, a, b)  # deterministic methods ignore keys

@pytest.mark.parametrize("name", NAMES)
def test_bad_keys_fail_before_any_model_query(name):
    calls = []
    model = RegionConvNet(nd(name))
    model.register_forward_hook(lambda *a: calls.append(1))
    explainer = make_explainer(name, model, **SETTINGS[name](nd(name)))
    x = region_batch(nd(name), n=1)
    with pytest.raises(ValueError, match="2 keys for 1 inputs"):
        explainer.attribute(x, target=1, keys=[3, 4])
    with pytest.raises(ValueError, match="keys must be non-negative integers"):
        explainer.attribute(x, target=1, keys=[-3])
    assert not calls


@pytest.mark.parametrize("name", NAMES)
def test_float64_inputs_give_float64_maps(name):
    model = RegionConvNet(1).double()
    settings = SETTINGS[name](1)
    if "background" in settings:
        settings["background"] = settings["background"].double()
    x = region_batch(1, dtype=torch.float64)
    e = make_explainer(name, model, **settings).attribute(x, target=1)
    assert e.maps.dtype == torch.float64 and torch.isfinite(e.maps).all()


@pytest.mark.parametrize("occlusion", ["interp_gaussian", "interp_poisson", "pchip_gaussian"])
def test_rex_with_a_noisy_occlusion_keeps_the_contract(occlusion):
    """The noisy occlusions draw from each input's noise stream: maps still do not depend on
    the batch, and another key gives other noise (so another map)."""
    x, keys = region_batch(1), [5, 6, 7]
    rex = make("rex", 1, occlusion=occlusion)
    alone = rex.attribute(x[:1], target=[1], keys=keys[:1]).maps[0]
    order = [2, 0, 1]
    moved = rex.attribute(x[order], target=1, keys=[keys[i] for i in order]).maps[1]
    assert torch.equal(alone, moved)
    other = rex.attribute(x[:1], target=[1], keys=[8]).maps[0]
    assert not torch.equal(alone, other)


@pytest.mark.parametrize("name", NAMES)
def test_params_are_json_with_method_and_version(name):
    explainer = make(name)
    params = explainer.params
    blob = json.dumps(params, sort_keys=True)
    assert params["method"] == name and isinstance(params["version"], int)
    assert json.loads(blob) == params
    assert make(name).params == params  # equal settings, equal cache key
    if explainer.stochastic:
        assert make(name, seed=1).params != params
    assert repr(explainer).startswith(type(explainer).__name__ + "(")


def _nan(x):
    x = x.clone()
    x[(1, 0) + (0,) * (x.ndim - 2)] = float("nan")
    return x


BAD_INPUTS = [
    pytest.param(_nan, {}, ValueError, r"NaN or inf \(samples \[1\]\)", id="nan"),
    pytest.param(lambda x: x.reshape(len(x), -1), {}, ValueError, r"spatial axes, got shape \(3, \d+\)", id="no-spatial-axis"),
    pytest.param(lambda x: torch.rand(3, 1, *[2] * 6), {}, ValueError, "spatial axes, got shape", id="six-spatial-axes"),
    pytest.param(lambda x: x[:0], {}, ValueError, "empty batch", id="empty-batch"),
    pytest.param(lambda x: x, {"target": [1, 1]}, ValueError, "2 targets for 3 inputs", id="two-targets-for-three"),
    pytest.param(lambda x: x, {"target": 3}, ValueError, r"targets \[3, 3, 3\] .* out of range for a model with 3 classes",
                 id="target-out-of-range"),
    pytest.param(lambda x: x, {"target": [1, -1, 1]}, ValueError, "out of range", id="negative-target"),
    pytest.param(lambda x: x, {"target": 1.0}, TypeError, "integer class indices", id="float-target"),
    pytest.param(lambda x: x.numpy(), {}, TypeError, "must be a torch.Tensor", id="numpy-input"),
    pytest.param(lambda x: x.tolist(), {}, TypeError, "must be a torch.Tensor", id="list-input"),
    pytest.param(lambda x: (x * 255).long(), {}, TypeError, "floating-point", id="integer-input"),
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad, kwargs, error, message", BAD_INPUTS)
def test_bad_input_gets_a_clear_error_before_any_model_query(name, bad, kwargs, error, message):
    calls = []
    model = RegionConvNet(nd(name))
    model.register_forward_hook(lambda *a: calls.append(1))
    explainer = make_explainer(name, model, **SETTINGS[name](nd(name)))
    x = region_batch(nd(name))
    with pytest.raises(error, match=message):
        explainer.attribute(bad(x), **{"target": 1, **kwargs})
    # Input errors come before the model is asked anything; target errors after one query.
    assert len(calls) <= (1 if "target" in kwargs else 0)
