"""The models (rexbench.models): the Raman LRCN, the DigitCNN at any resolution, the 3D
CNN, channels-last layouts, and weights saved and loaded without unpickling objects."""
import pickle

import pytest
import torch

from helpers.models import small_lrcn
from rexbench.models import CNN3D, DigitCNN, load_cnn3d, load_digit_cnn, load_lrcn, save_cnn3d, save_digit_cnn, save_lrcn
from rexbench.models.digit_cnn import stem_stride


@pytest.fixture(scope="module")
def model():
    return small_lrcn(120)


def test_lrcn_shapes_and_errors(model):
    assert model(torch.randn(5, 1, 120)).shape == (5, 3)
    with pytest.raises(ValueError, match="expects input of shape"):
        model(torch.randn(5, 120))


def test_save_and_load(model, tmp_path):
    save_lrcn(model, tmp_path / "m.pt")
    loaded = load_lrcn(tmp_path / "m.pt")
    x = torch.randn(3, 1, 120)
    assert torch.equal(loaded(x), model(x))


@pytest.mark.parametrize("kind, shape", [("digit", (3, 1, 28, 28)), ("digit", (3, 1, 64, 64)), ("cnn3d", (2, 1, 16, 16, 16))])
def test_channels_last_cnns_match_the_default_layout_and_survive_save_load(kind, shape, tmp_path):
    """The CNNs keep weights channels-last (faster on a CPU): outputs must equal a
    default-layout copy's, gradients must come back shaped like the input, and a saved and
    reloaded model must be channels-last again and give the same outputs."""
    import copy

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


@pytest.mark.parametrize("size", [28, 32, 64, 128])
def test_digit_cnn_any_resolution(size):
    model = DigitCNN(stride=stem_stride(size)).eval()
    out = model(torch.zeros(3, 1, size, size))
    assert out.shape == (3, 10)
    assert model.last_conv(model.features(torch.zeros(1, 1, size, size))).shape[-1] in (7, 8)
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        model(torch.zeros(3, size, size))


def test_cnn3d_shapes_errors_and_save_load(tmp_path):
    torch.manual_seed(0)
    m = CNN3D(channels=(4, 8), last=8).eval()
    x = torch.rand(2, 1, 16, 16, 16)
    assert m(x).shape == (2, 2)
    with pytest.raises(ValueError, match="expects input"):
        m(x[:, 0])
    save_cnn3d(m, tmp_path / "m.pt")
    assert torch.equal(load_cnn3d(tmp_path / "m.pt")(x), m(x))


class Payload:
    def __reduce__(self):
        return (print, ("this should never run",))


def test_weights_are_loaded_without_unpickling_objects(tmp_path):
    path = tmp_path / "model.pt"
    save_digit_cnn(DigitCNN(), path)
    load_digit_cnn(path)  # the real thing loads
    torch.save({"conv": Payload()}, path)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        load_digit_cnn(path)


def test_cnn3d_query_path_equals_the_gradient_path():
    """Without gradients CNN3D writes its two input channels straight into the channels-last
    layout; the scores must equal, bit for bit, those of the path training and the gradient
    explainers take (cat, then a layout copy)."""
    torch.manual_seed(0)
    m = CNN3D(channels=(4, 8), last=8).eval()
    x = torch.rand(3, 1, 12, 12, 12, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        queried = m(x)
    traced = m(x.clone().requires_grad_(True))
    assert traced.requires_grad and torch.equal(queried, traced.detach())
