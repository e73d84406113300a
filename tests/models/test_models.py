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


@pytest.mark.parametrize("kind, shape", [("digit", (3, 1, 28, 28)), ("digit", (3, 1, 64, 64)), ("cnn3d", (2, 1, 16, 16, 16))])
def test_channels_last_cnns_match_the_default_layout_and_survive_save_load(kind, shape, tmp_path):
    """The CNNs keep weights channels-last (faster on a CPU): outputs must equal a
    default-layout copy's, gradients must come back shaped like the input, and a saved and
    reloaded model must be channels-last again and give the same outputs."""
    import copy

    from rexbench.models import CNN3D, DigitCNN, load_cnn3d, load_digit_cnn, save_cnn3d, save_digit_cnn
    from rexbench.models.digit_cnn import stem_stride

    torch.manual_seed(0)
    if kind == "digit":
        model, save, load, fmt = DigitCNN(stride=stem_stride(shape[-1])), save_digit_cnn, load_digit_cnn, torch.channels_last
    else:
        model, save, load, fmt = CNN3D(), save_cnn3d, load_cnn3d, torch.channels_last_3d
    model.eval()
    conv = next(m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d)))
    assert conv.weight.is_contiguous(memory_format=fmt)
    # The same weights in the default layout, through the same layers (forward's checks and
    # layout conversion bypassed): the layout may change float rounding, nothing more.
    plain = copy.deepcopy(model).to(memory_format=torch.contiguous_format)
    x = torch.rand(shape, requires_grad=True)
    with torch.no_grad():
        h = torch.cat([x, x - torch.flip(x, dims=[2])], dim=1) if kind == "cnn3d" else x
        ref = plain.head(plain.last_act(plain.last_conv(plain.features(h.contiguous()))))
    out = model(x)
    torch.testing.assert_close(out.detach(), ref, rtol=1e-4, atol=1e-5)
    assert out.shape == (shape[0], model.config["n_classes"]) and torch.isfinite(out).all()
    (grad,) = torch.autograd.grad(out[:, 0].sum(), x)
    assert grad.shape == x.shape and grad.abs().sum() > 0
    save(model, tmp_path / "m.pt")
    again = load(tmp_path / "m.pt").eval()
    conv2 = next(m for m in again.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d)))
    assert conv2.weight.is_contiguous(memory_format=fmt)
    with torch.no_grad():
        torch.testing.assert_close(again(x), model(x), rtol=0, atol=0)
