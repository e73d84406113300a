"""Shapley baselines (rexbench.explain.shapley): GradientSHAP, KernelSHAP and DeepLIFT-SHAP
as the SpecReX authors ran them, and the cube feature groups for volumes."""
import numpy as np
import pytest
import torch

from helpers.models import Linear, small_lrcn
from rexbench.explain import DeepLiftShap, GradientShap, KernelShap, cube_feature_mask

pytestmark = pytest.mark.filterwarnings("ignore:Setting forward, backward hooks:UserWarning")


@pytest.fixture(scope="module")
def model():
    return small_lrcn(120)


def test_baselines_shapes_and_determinism(model):
    x = torch.randn(2, 1, 120, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 1])
    k1 = KernelShap(model, n_samples=60, seed=1).attribute(x, y).maps
    k2 = KernelShap(model, n_samples=60, seed=1).attribute(x, y).maps
    assert k1.shape == x.shape and torch.equal(k1, k2)
    assert not torch.equal(k1, KernelShap(model, n_samples=60, seed=2).attribute(x, y).maps)
    g = GradientShap(model, n_samples=20, batch=10).attribute(x, y).maps
    assert g.shape == x.shape and torch.isfinite(g).all()
    d = DeepLiftShap(model, background=torch.randn(4, 1, 120)).attribute(x, y)
    assert d.maps.shape == x.shape and d.stats["delta"].shape == (2,) and (d.stats["delta"] >= 0).all()


def test_gradient_shap_is_seeded_whatever_numpy_state(model):
    """captum's GradientShap draws path coefficients from numpy's global RNG (and noise
    from torch's): the explainer seeds both per input and gives the caller's states back."""
    x, y = torch.randn(1, 1, 120), torch.tensor([0])
    explainer = GradientShap(model, n_samples=10, stdevs=0.1, seed=3)
    np.random.seed(1), torch.manual_seed(1)
    a = explainer.attribute(x, y).maps
    after = np.random.random(), float(torch.rand(1))
    np.random.seed(2), torch.manual_seed(2)
    b = explainer.attribute(x, y).maps
    assert torch.equal(a, b)
    np.random.seed(1), torch.manual_seed(1)
    assert after == (np.random.random(), float(torch.rand(1)))  # as if the explainer had not run


@pytest.mark.parametrize("n_samples, batch", [(25, 10), (20, 10), (7, 100), (1, 1)])
def test_gradient_shap_batches_use_exactly_n_samples(n_samples, batch):
    """Samples are split into captum calls of at most ``batch``: together they must
    evaluate exactly ``n_samples`` samples, and for a linear model (noise-free path) the
    weighted average is exactly (x - baseline) * w, whatever the split."""
    lin = Linear(12)
    x, y = torch.randn(2, 1, 12), torch.tensor([0, 2])
    explainer = GradientShap(lin, n_samples=n_samples, batch=batch)
    lin.rows = 0
    a = explainer.attribute(x, y).maps
    assert lin.rows == 2 + 2 * n_samples  # the explainer's one check of the scores, then the samples
    expected = x[:, 0] * lin.w.detach()[y]
    torch.testing.assert_close(a[:, 0], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kw, message", [
    ({"n_samples": 0}, "n_samples and batch must be at least 1"),
    ({"batch": 0}, "n_samples and batch must be at least 1"),
    ({"stdevs": -0.1}, "stdevs non-negative"),
])
def test_gradient_shap_rejects_bad_counts(model, kw, message):
    with pytest.raises(ValueError, match=message):
        GradientShap(model, **kw)


def test_kernel_shap_rejects_bad_settings(model):
    with pytest.raises(ValueError, match="n_samples must be at least 2"):
        KernelShap(model, n_samples=1)
    with pytest.raises(ValueError, match=r"fit must be one of \('captum', 'lstsq'\), got 'svd'"):
        KernelShap(model, fit="svd")
    with pytest.raises(TypeError, match="feature_mask must be an integer tensor"):
        KernelShap(model, feature_mask=torch.zeros(1, 1, 120))
    wrong = KernelShap(model, n_samples=4, feature_mask=torch.zeros(1, 1, 60, dtype=torch.long))
    with pytest.raises(ValueError, match=r"feature_mask has spatial shape \(60,\), the inputs \(120,\)"):
        wrong.attribute(torch.randn(1, 1, 120), [0])


def test_deeplift_shap_needs_a_matching_background(model):
    with pytest.raises(ValueError, match="background must be a tensor of reference inputs"):
        DeepLiftShap(model, background=np.zeros((4, 1, 120)))
    with pytest.raises(ValueError, match=r"background inputs are \(1, 60\), the inputs \(1, 120\)"):
        DeepLiftShap(model, background=torch.zeros(4, 1, 60)).attribute(torch.randn(1, 1, 120), [0])


def test_kernel_shap_with_feature_groups_gives_one_value_per_group():
    lin = Linear(16)
    mask = (torch.arange(16) // 4).reshape(1, 1, 16)
    a = KernelShap(lin, n_samples=40, feature_mask=mask).attribute(torch.rand(1, 1, 16), [1]).maps[0, 0]
    for g in range(4):
        assert torch.unique(a[4 * g : 4 * g + 4]).numel() == 1
    # Another mask, another cache key.
    assert KernelShap(lin, feature_mask=mask).params != KernelShap(lin, feature_mask=mask // 2).params


def test_cube_feature_mask():
    mask = cube_feature_mask((6, 6, 6), 3)
    assert mask.shape == (1, 1, 6, 6, 6) and mask.unique().numel() == 8
    assert (mask[0, 0, :3, :3, :3] == mask[0, 0, 0, 0, 0]).all()
    # Any number of axes, uneven sizes: labels 0..k-1, one per (partial) cube.
    m2 = cube_feature_mask((5, 4), 2)
    assert m2.shape == (1, 1, 5, 4) and sorted(m2.unique().tolist()) == list(range(6))
    with pytest.raises(ValueError, match="cube size must be at least 1"):
        cube_feature_mask((6, 6, 6), 0)


class Recording(torch.nn.Module):
    """The model, keeping a copy of every batch it is asked."""

    def __init__(self, model):
        super().__init__()
        self.model, self.batches = model, []

    def forward(self, x):
        self.batches.append(x.detach().clone())
        return self.model(x)


@pytest.mark.parametrize("grouped, n_samples", [(False, 300), (True, 300), (False, 60)])
def test_kernel_shap_equals_captum_for_a_fixed_seed(model, grouped, n_samples):
    """KernelShap does captum's per-coalition loop as array operations; seeded alike it must
    ask the model exactly captum.attr.KernelShap's inputs in the same batches and, with
    captum's fit, give its result exactly, also with fewer coalitions than features (60 < 120)."""
    import captum.attr as ca

    from rexbench.explain.base import input_seed, seeded_globals

    x = torch.randn(2, 1, 120, generator=torch.Generator().manual_seed(3))
    mask = (torch.arange(120) // 7).reshape(1, 1, 120) if grouped else None
    ours_model = Recording(model)
    ours = KernelShap(ours_model, n_samples=n_samples, batch=32, seed=4, feature_mask=mask)
    maps = ours.attribute(x, [0, 1], keys=[5, 9]).maps
    asked = ours_model.batches[1:]  # [0]: the explainer's one check of the scores
    for i, (key, t) in enumerate([(5, 0), (9, 1)]):
        theirs_model = Recording(model)
        with seeded_globals(input_seed(4, (key,))):
            kw = dict(baselines=0.0, target=t, n_samples=n_samples, perturbations_per_eval=32)
            if mask is not None:
                kw["feature_mask"] = mask
            theirs = ca.KernelShap(theirs_model).attribute(x[i : i + 1], **kw)
        mine, asked = asked[: len(theirs_model.batches)], asked[len(theirs_model.batches):]
        assert [b.shape for b in mine] == [b.shape for b in theirs_model.batches]
        assert all(torch.equal(m, c) for m, c in zip(mine, theirs_model.batches))
        assert torch.equal(maps[i : i + 1], theirs)
        assert theirs.abs().max() > 0
    assert asked == []


def test_kernel_shap_groups_broadcast_over_channels():
    """A (1, 1, *spatial) feature mask groups every channel's points alike."""
    lin = Linear(16)
    x = torch.rand(1, 2, 16)
    mask = (torch.arange(16) // 4).reshape(1, 1, 16)
    a = KernelShap(lambda z: lin(z.sum(1, keepdim=True)), n_samples=40, feature_mask=mask).attribute(x, [1]).maps
    assert a.shape == x.shape and torch.equal(a[0, 0], a[0, 1])


def _tiny_lrcn_and_spectra():
    """A small untrained LRCN (eval mode) and two 120-point inputs."""
    from rexbench.models import LRCN

    torch.manual_seed(0)
    lrcn = LRCN(120, kernels=[3, 3], channels=[4, 4], lstm_hidden=8, lstm_layers=1).eval()
    return lrcn, torch.randn(2, 1, 120, generator=torch.Generator().manual_seed(3))


def test_kernel_shap_batch_changes_the_speed_not_the_map():
    # The default batch (the model-size rule) and captum's usual 50 ask the model the same
    # coalitions; an LRCN's outputs do not depend on the batch, so the maps are equal.
    lrcn, x = _tiny_lrcn_and_spectra()
    default = KernelShap(lrcn, n_samples=300, seed=4)
    assert default.batch is None and "batch" not in default.params
    a = default.attribute(x, [0, 1], keys=[5, 9]).maps
    b = KernelShap(lrcn, n_samples=300, batch=50, seed=4).attribute(x, [0, 1], keys=[5, 9]).maps
    assert torch.equal(a, b) and a.abs().max() > 0


def test_gradient_shap_batch_changes_only_the_rounding_of_the_average():
    lrcn, x = _tiny_lrcn_and_spectra()
    default = GradientShap(lrcn, n_samples=600, seed=1)
    assert default.batch is None and "batch" not in default.params
    a = default.attribute(x, [0, 1], keys=[1, 2]).maps
    b = GradientShap(lrcn, n_samples=600, batch=128, seed=1).attribute(x, [0, 1], keys=[1, 2]).maps
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6 * float(a.abs().max()))
    # A different seed is a different map (the tolerance above is not vacuous).
    c = GradientShap(lrcn, n_samples=600, seed=2).attribute(x, [0, 1], keys=[1, 2]).maps
    assert (a - c).abs().max() > 1e-3 * a.abs().max()


def _kernel_design(n=2000, p=300, seed=0):
    """A KernelSHAP-like system: 0/1 coalitions with the empty and the full one weighted
    1e6 as captum weights them, and targets linear in the coalition plus noise."""
    rng = np.random.default_rng(seed)
    X = (rng.random((n, p)) < rng.random((n, 1))).astype(np.float32)
    X[0], X[1] = 1.0, 0.0
    w = np.ones(n, np.float32)
    w[:2] = 1e6
    coef = rng.standard_normal(p)
    y = (X @ coef + 0.3 + 0.1 * rng.standard_normal(n)).astype(np.float32)
    return X, y, w


def _float64_solution(X, y, w):
    X, y, w = X.astype(np.float64), y.astype(np.float64), w.astype(np.float64)
    r = np.sqrt(w)
    A = (X - np.average(X, axis=0, weights=w)) * r[:, None]
    return np.linalg.lstsq(A, (y - np.average(y, weights=w)) * r, rcond=None)[0]


@pytest.mark.parametrize("p", [300, 1200])
def test_weighted_lstsq_matches_the_float64_solution(p):
    """The exact fit solves captum's weighted problem to float32 precision, where captum's
    own fit (float32 SVD cut at 1e-6) is measurably off on the inf-weighted design."""
    from sklearn.linear_model import LinearRegression

    from rexbench.explain.shapley import weighted_lstsq

    X, y, w = _kernel_design(p=p)
    exact = _float64_solution(X, y, w)
    ours = weighted_lstsq(X, y, w)
    assert ours.dtype == np.float32 and ours.shape == (p,)
    err = np.linalg.norm(ours - exact) / np.linalg.norm(exact)
    assert err < 1e-4
    # sklearn in float64 agrees with the reference (the reference is the problem sklearn poses).
    sk64 = LinearRegression().fit(X.astype(np.float64), y.astype(np.float64), sample_weight=w.astype(np.float64))
    np.testing.assert_allclose(sk64.coef_, exact, rtol=1e-6, atol=1e-8)
    captum_err = np.linalg.norm(LinearRegression().fit(X, y, sample_weight=w).coef_ - exact) / np.linalg.norm(exact)
    assert captum_err > 10 * err


def test_weighted_lstsq_rejects_bad_shapes_and_weights():
    from rexbench.explain.shapley import weighted_lstsq

    X, y, w = _kernel_design(n=20, p=5)
    with pytest.raises(ValueError, match=r"X must be \(n, p\) with y and w \(n,\)"):
        weighted_lstsq(X, y[:-1], w)
    with pytest.raises(ValueError, match="weights must be non-negative and not all zero"):
        weighted_lstsq(X, y, -w)


def test_kernel_shap_recovers_a_linear_models_shapley_values():
    """For scores linear in the input and a zero baseline, the Shapley values are w_i x_i
    and the regression has no residual: the exact fit must return them."""
    lin = Linear(40)
    x = torch.rand(1, 1, 40, generator=torch.Generator().manual_seed(1))
    a = KernelShap(lin, n_samples=400, seed=2, fit="lstsq").attribute(x, [2]).maps[0, 0]
    torch.testing.assert_close(a, lin.w[2].detach() * x[0, 0], rtol=1e-3, atol=1e-4)
    # The two fits are different cache keys; captum's keeps the key it had before the option.
    assert KernelShap(lin).params != KernelShap(lin, fit="lstsq").params
    assert "fit" not in KernelShap(lin).params
