import torch
import pytest

from rexbench.explain.baselines import deeplift_shap, gradient_shap, kernel_shap
from rexbench.models import LRCN, load_lrcn, save_lrcn


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return LRCN(120, kernels=(3, 3, 1, 1), channels=(4, 4, 4, 4), lstm_hidden=8, lstm_layers=1, dense=8).eval()


def test_lrcn_shapes_and_errors(model):
    assert model(torch.randn(5, 1, 120)).shape == (5, 3)
    with pytest.raises(ValueError, match="expects input of shape"):
        model(torch.randn(5, 120))


def test_save_and_load(model, tmp_path):
    save_lrcn(model, tmp_path / "m.pt")
    loaded = load_lrcn(tmp_path / "m.pt")
    x = torch.randn(3, 1, 120)
    assert torch.equal(loaded(x), model(x))


def test_baselines_shapes_and_determinism(model):
    x = torch.randn(2, 1, 120)
    y = torch.tensor([0, 1])
    k1 = kernel_shap(model, x, y, n_samples=60, seed=1)
    k2 = kernel_shap(model, x, y, n_samples=60, seed=1)
    assert k1.shape == x.shape and torch.equal(k1, k2)
    g = gradient_shap(model, x, y, n_samples=20, batch=10)
    assert g.shape == x.shape and torch.isfinite(g).all()
    d, delta = deeplift_shap(model, x, y, background=torch.randn(4, 1, 120))
    assert d.shape == x.shape and delta.shape == (2,)


def test_gradient_shap_is_seeded_whatever_numpy_state(model):
    """captum's GradientShap draws path coefficients from numpy's global RNG."""
    import numpy as np

    x, y = torch.randn(1, 1, 120), torch.tensor([0])
    np.random.seed(1)
    a = gradient_shap(model, x, y, n_samples=10, seed=3)
    np.random.seed(2)
    b = gradient_shap(model, x, y, n_samples=10, seed=3)
    assert torch.equal(a, b)


class _Linear(torch.nn.Module):
    """Class scores linear in the input, counting the samples it is asked about."""

    def __init__(self, n: int):
        super().__init__()
        self.w = torch.nn.Parameter(torch.linspace(-1, 1, 3 * n).reshape(3, n))
        self.rows = 0

    def forward(self, x):
        self.rows += len(x)
        return x.flatten(1) @ self.w.T


@pytest.mark.parametrize("n_samples, batch", [(25, 10), (20, 10), (7, 100), (1, 1)])
def test_gradient_shap_batches_use_exactly_n_samples(n_samples, batch):
    """Samples are split into captum calls of at most ``batch``: together they must
    evaluate exactly ``n_samples`` samples, and for a linear model (noise-free path) the
    weighted average is exactly (x - baseline) * w, whatever the split."""
    lin = _Linear(12)
    x, y = torch.randn(2, 1, 12), torch.tensor([0, 2])
    a = gradient_shap(lin, x, y, n_samples=n_samples, batch=batch)
    assert lin.rows == 2 * n_samples
    expected = x[:, 0] * lin.w.detach()[y]
    torch.testing.assert_close(a[:, 0], expected, rtol=1e-5, atol=1e-6)


def test_gradient_shap_rejects_bad_counts(model):
    with pytest.raises(ValueError, match="n_samples and batch"):
        gradient_shap(model, torch.randn(1, 1, 120), torch.tensor([0]), n_samples=0)
