"""Part III's study module (rexbench.compendium.studies.crossmodal): inputs at any
resolution, choosing the inputs to explain, each method's settings, and the sweep tasks."""
import json

import numpy as np
import pytest
import torch

from helpers.models import QuadrantModel, quadrant_data
from rexbench.compendium.studies.crossmodal import (METHODS, balanced_correct, explain_chunk, method_settings, modality,
                                                    rex_settings, to_resolution)
from rexbench.explain import EXPLAINERS, ConstantOcclusion, make_explainer

pytestmark = pytest.mark.filterwarnings("ignore:Setting backward hooks:UserWarning")


def test_to_resolution_keeps_black_black():
    img = np.zeros((2, 28, 28), dtype=np.uint8)
    img[:, 10:18, 10:18] = 255
    x = to_resolution(img, 128)
    assert x.shape == (2, 1, 128, 128) and float(x.max()) == pytest.approx(1.0) and float(x[0, 0, 0, 0]) == 0.0
    with pytest.raises(ValueError, match=r"images must be \(N, H, W\)"):
        to_resolution(img[0], 28)


def test_balanced_correct():
    labels = np.repeat(np.arange(10), 5)
    pred = labels.copy()
    pred[0] = 3  # first 0 misclassified: skipped
    idx = balanced_correct(pred, labels, 20)
    assert len(idx) == 20 and 0 not in idx and np.all(np.bincount(labels[idx]) == 2)
    with pytest.raises(ValueError, match="class 0 has 4"):
        balanced_correct(pred, labels, 50)
    with pytest.raises(ValueError, match="n must be at least 1"):
        balanced_correct(pred, labels, 0)


def test_modality():
    assert modality("mnist") == "image" and modality("fsdd") == modality("audiomnist") == "audio"
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        modality("cifar")


def test_method_settings_are_constructor_settings():
    """One place for the explanations and the metrics chapters: every method's settings
    build its explainer, with the same absent-input value for all."""
    assert set(METHODS) <= set(EXPLAINERS)
    for method in METHODS:
        explainer = make_explainer(method, QuadrantModel(), **method_settings(method, 28, baseline=0.25))
        json.dumps(explainer.params)
    assert method_settings("integrated_gradients", 28, baseline=0.25, ig_steps=8)["baseline"] == 0.25
    assert method_settings("gradient_shap", 28, baseline=0.25)["baseline"] == 0.25
    occ = method_settings("rex", 28, baseline=0.25)["occlusion"]
    assert isinstance(occ, ConstantOcclusion) and occ.value == 0.25
    with pytest.raises(ValueError, match="unknown method 'lime'"):
        method_settings("lime", 28)


def test_rex_settings_scale_the_smallest_box_and_give_nan_where_rex_has_no_map():
    s = rex_settings(112, base_box=2, base_resolution=28)
    assert s["min_box_size"] == 8 and rex_settings(14, base_box=2, base_resolution=28)["min_box_size"] == 1
    assert s["on_degenerate"] == "nan" and s["on_mispredicted"] == "nan" and s["seed"] == 0
    assert isinstance(s["occlusion"], ConstantOcclusion) and s["occlusion"].value == 0.0


@pytest.mark.parametrize("method", METHODS)
def test_every_method_focuses_on_what_the_model_reads(method):
    x, y = quadrant_data()
    settings = (rex_settings(16, iters=4, base_box=2, base_resolution=16) if method == "rex"
                else method_settings(method, 16))
    a = make_explainer(method, QuadrantModel(), **settings).attribute(x, y).maps
    assert a.shape == x.shape and torch.isfinite(a).all()
    inside = a[:, 0, :8, :8].abs().sum((1, 2))
    outside = a[:, 0, 8:, 8:].abs().sum((1, 2))
    assert torch.all(inside > outside)


def test_bad_input_is_refused():
    model = QuadrantModel()
    x, y = quadrant_data(2)
    with pytest.raises(ValueError, match="unknown explainer 'lime'"):
        make_explainer("lime", model)
    with pytest.raises(ValueError, match="NaN"):
        make_explainer("saliency", model).attribute(x * float("nan"), y)
    with pytest.raises(ValueError, match="3 targets for 2 inputs"):
        make_explainer("saliency", model).attribute(x, [1, 1, 1])
    with pytest.raises(ValueError, match="not a module of this model"):
        make_explainer("guided_gradcam", model, layer=torch.nn.Conv2d(1, 1, 3))
    with pytest.raises(ValueError, match="empty batch"):
        make_explainer("saliency", model).attribute(x[:0], y[:0])


def test_rex_has_no_map_where_it_cannot_explain():
    model = QuadrantModel()
    x, _ = quadrant_data(3)
    x[2] = 0.0  # dark: predicted class 0, and the blank input is class 0 too
    e = make_explainer("rex", model, **rex_settings(16, iters=2, base_resolution=16)).attribute(x, np.array([1, 2, 0]))
    assert e.stats["status"].tolist() == ["ok", "not_predicted", "degenerate"]
    maps = e.maps
    assert torch.isfinite(maps[0]).all() and torch.isnan(maps[1]).all() and torch.isnan(maps[2]).all()


def test_explain_chunk_returns_maps_status_and_seconds():
    model = QuadrantModel()
    x, _ = quadrant_data(3)
    x[2] = 0.0
    out = explain_chunk("rex", model, x, np.array([1, 1, 0]), rex_settings(16, iters=2, base_resolution=16))
    assert out["a"].dtype == np.float32 and out["a"].shape == x.shape
    assert out["status"].tolist() == ["ok", "ok", "degenerate"] and out["seconds"].shape == ()
    sal = explain_chunk("saliency", model, x, np.array([1, 1, 0]), {})
    assert sal["status"].tolist() == ["ok"] * 3 and np.isfinite(sal["a"]).all()


def test_spectrograms_are_computed_once_per_setting(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import rexbench.data.audio as audio_mod
    from rexbench.compendium.studies.crossmodal import spectrograms
    from rexbench.data.audio import MelConfig

    rng = np.random.default_rng(0)
    audio = SimpleNamespace(waves=[rng.standard_normal(4000).astype(np.float32) for _ in range(3)],
                            labels=np.array([0, 1, 2]), speakers=np.array(["a", "b", "c"]), sr=8000)
    cfg = MelConfig(sr=8000, n_mels=16, n_frames=16, duration=0.5, n_fft=256)
    first = spectrograms(tmp_path, "fsdd", audio, ["train", "val", "test"], cfg)
    assert first["X"].shape == (3, 1, 16, 16) and first["split"].tolist() == ["train", "val", "test"]
    monkeypatch.setattr(audio_mod, "log_mel", lambda *a, **k: pytest.fail("recomputed a cached spectrogram"))
    again = spectrograms(tmp_path, "fsdd", audio, ["train", "val", "test"], cfg)
    assert np.array_equal(first["X"], again["X"])


def test_train_digit_cnn_trains_once_and_loads_after(tmp_path, monkeypatch):
    import rexbench.training as training
    from rexbench.compendium.studies.crossmodal import model_path, train_digit_cnn

    g = torch.Generator().manual_seed(0)
    X, y = torch.rand(40, 1, 16, 16, generator=g), np.arange(40) % 10
    kw = dict(epochs=1, batch_size=20, max_lr=1e-3, seed=0, notebook="test", params={"k": 1})
    model, history = train_digit_cnn(tmp_path, "mnist", 32, X, y, X[:20], y[:20], upsample=True, **kw)
    assert model_path(tmp_path, "mnist", 32).exists() and not model.training and len(history) == 1
    assert model(torch.rand(2, 1, 32, 32)).shape == (2, 10)  # trained upsampled: takes 32 x 32 inputs
    monkeypatch.setattr(training, "train_classifier", lambda *a, **k: pytest.fail("retrained a cached model"))
    again, history2 = train_digit_cnn(tmp_path, "mnist", 32, X, y, X[:20], y[:20], upsample=True, **kw)
    assert history2 == history
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
