"""Part III: spoken-digit loaders, the log-mel pipeline, the DigitCNN, the attribution
front end and the Quantus metric suite."""
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from rexbench.crossmodal import balanced_correct, rex_settings, to_resolution
from rexbench.data import DataIntegrityError, fetch
from rexbench.data.audio import (MelConfig, audiomnist_speaker_folds, fsdd_files, fsdd_split, load_audiomnist,
                                 log_mel, parse_audiomnist_name, parse_fsdd_name, read_wav)
from rexbench.data.registry import load_registry
from rexbench.explain.attribution import METHODS, QuantusExplainer, attribute, rex_or_nan
from rexbench.metrics.quantus_suite import HIGHER_IS_BETTER, METRICS, SuiteSettings, rank_methods, score
from rexbench.models import DigitCNN, stem_stride

MIRROR = os.environ.get("REXBENCH_DATA_MIRROR")
FIXTURE = Path(MIRROR, "audiomnist-fixture") if MIRROR else None
needs_fixture = pytest.mark.skipif(not FIXTURE or not FIXTURE.exists(), reason="no AudioMNIST fixture in the mirror")
needs_fsdd = pytest.mark.skipif(not MIRROR or not Path(MIRROR, "fsdd").exists(), reason="no FSDD mirror")


# ----------------------------------------------------------------------------- loaders
def test_fsdd_registry_and_official_split():
    names = fsdd_files()
    assert len(names) == 3000
    parsed = [parse_fsdd_name(n) for n in names]
    index = np.array([p[2] for p in parsed])
    split = fsdd_split(index)
    assert (split == "test").sum() == 300 and (split == "val").sum() == 300 and (split == "train").sum() == 2400
    assert set(index[split == "test"]) == {0, 1, 2, 3, 4}
    assert {p[1] for p in parsed} == {"george", "jackson", "lucas", "nicolas", "theo", "yweweler"}


def test_name_parsing_rejects_other_names():
    assert parse_fsdd_name("7_jackson_32.wav") == (7, "jackson", 32)
    assert parse_audiomnist_name("51/3_51_37.wav") == (3, "51", 37)
    with pytest.raises(ValueError, match="not an FSDD"):
        parse_fsdd_name("seven_jackson.wav")
    with pytest.raises(ValueError, match="lies in folder 52"):
        parse_audiomnist_name("52/3_51_37.wav")


@needs_fsdd
def test_fsdd_file_checksum_failure(tmp_path):
    name = fsdd_files()[0]
    good = fetch(name)
    bad = tmp_path / name
    bad.parent.mkdir(parents=True)
    data = bytearray(good.read_bytes())
    data[100] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(DataIntegrityError, match=Path(name).name):
        fetch(name, mirror=tmp_path)


@needs_fixture
def test_audiomnist_fixture_names_and_resampling():
    data = load_audiomnist(FIXTURE, sr=16_000)
    assert len(data) == 6 and data.sr == 16_000
    assert sorted(data.speakers.tolist()) == ["01", "02", "08", "42", "51", "56"]
    for f, label, spk, w in zip(data.files, data.labels, data.speakers, data.waves):
        d, s, _ = parse_audiomnist_name(str(Path(f).relative_to(FIXTURE / "data")))
        assert (d, s) == (label, spk)
        native = sf.info(f)
        assert native.samplerate == 48_000
        # 48 kHz -> 16 kHz keeps the duration
        assert abs(len(w) / 16_000 - native.frames / 48_000) < 1e-3
        assert w.dtype == np.float32 and np.abs(w).max() <= 1.0
    sub = load_audiomnist(FIXTURE, sr=8_000, digits=[0, 5])
    assert sorted(sub.labels.tolist()) == [0, 5]


@needs_fixture
def test_audiomnist_corrupt_file_is_named(tmp_path):
    root = tmp_path / "am"
    shutil.copytree(FIXTURE, root)
    victim = root / "data" / "08" / "2_08_8.wav"
    raw = bytearray(victim.read_bytes())
    raw[-10] ^= 0xFF
    victim.write_bytes(bytes(raw))
    with pytest.raises(DataIntegrityError, match="2_08_8.wav"):
        load_audiomnist(root)


def test_wav_with_wrong_rate_or_channels(tmp_path):
    stereo = tmp_path / "0_01_0.wav"
    sf.write(stereo, np.zeros((800, 2), dtype=np.float32), 48_000)
    with pytest.raises(DataIntegrityError, match="2 channels"):
        read_wav(stereo, expect_sr=48_000)
    slow = tmp_path / "slow.wav"
    sf.write(slow, np.zeros(800, dtype=np.float32), 22_050)
    with pytest.raises(DataIntegrityError, match="22050 Hz, expected 48000"):
        read_wav(slow, expect_sr=48_000)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"<html>not found</html>")
    with pytest.raises(DataIntegrityError, match="junk.wav: not a readable WAV"):
        read_wav(junk)


def test_speaker_folds_partition_speakers():
    speakers = [f"{i:02d}" for i in range(1, 61)]
    folds = audiomnist_speaker_folds(speakers, fold=2, seed=0)
    assert [len(folds[k]) for k in ("train", "val", "test")] == [36, 12, 12]
    assert set(folds["train"]) | set(folds["val"]) | set(folds["test"]) == set(speakers)
    assert not set(folds["test"]) & set(folds["train"])
    assert folds == audiomnist_speaker_folds(speakers, fold=2, seed=0)


# ----------------------------------------------------------------------------- log-mel
@pytest.mark.parametrize("n_mels", [32, 64, 128])
def test_log_mel_shape_and_silence(n_mels):
    sr = 8000
    t = np.arange(int(0.3 * sr)) / sr
    tone = 0.5 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
    cfg = MelConfig(sr=sr, n_mels=n_mels, n_frames=n_mels, duration=0.8)
    X, trimmed = log_mel([tone, np.zeros(sr, dtype=np.float32)], cfg)
    assert X.shape == (2, 1, n_mels, n_mels) and X.dtype == np.float32
    assert trimmed.tolist() == [False, True]
    assert np.all(X[1] == 0)  # digital silence is exactly 0
    assert X[0].max() > 0.5
    # the tone's band is the loudest in the voiced frames
    band = np.abs(cfg.mel_frequencies() - 440).argmin()
    assert abs(int(X[0, 0, :, 2].argmax()) - band) <= max(1, n_mels // 32)
    assert cfg.frame_times()[-1] <= cfg.duration + 1e-9


def test_log_mel_rejects_nan():
    cfg = MelConfig(sr=8000, n_mels=32, n_frames=32)
    with pytest.raises(ValueError, match="NaN"):
        log_mel([np.full(100, np.nan, dtype=np.float32)], cfg)


# ----------------------------------------------------------------------------- model
@pytest.mark.parametrize("size", [28, 32, 64, 128])
def test_digit_cnn_any_resolution(size):
    model = DigitCNN(stride=stem_stride(size)).eval()
    out = model(torch.zeros(3, 1, size, size))
    assert out.shape == (3, 10)
    assert model.last_conv(model.features(torch.zeros(1, 1, size, size))).shape[-1] in (7, 8)
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        model(torch.zeros(3, size, size))


def test_to_resolution_keeps_black_black():
    img = np.zeros((2, 28, 28), dtype=np.uint8)
    img[:, 10:18, 10:18] = 255
    x = to_resolution(img, 128)
    assert x.shape == (2, 1, 128, 128) and float(x.max()) == pytest.approx(1.0) and float(x[0, 0, 0, 0]) == 0.0


def test_balanced_correct():
    labels = np.repeat(np.arange(10), 5)
    pred = labels.copy()
    pred[0] = 3  # first 0 misclassified: skipped
    idx = balanced_correct(pred, labels, 20)
    assert len(idx) == 20 and 0 not in idx and np.all(np.bincount(labels[idx]) == 2)
    with pytest.raises(ValueError, match="class 0 has 4"):
        balanced_correct(pred, labels, 50)


# ----------------------------------------------------------------------------- explainers
class QuadrantModel(torch.nn.Module):
    """10 classes; the score of class 1 is the mean of the top-left quadrant minus 0.3,
    class 0 is constant 0, the others far below: class 1 iff the quadrant is bright."""

    def __init__(self, size=16):
        super().__init__()
        self.size = size
        self.last_conv = torch.nn.Conv2d(1, 2, 3, padding=1)
        with torch.no_grad():
            self.last_conv.weight.zero_()
            self.last_conv.weight[0, 0, 1, 1] = 1.0
            self.last_conv.bias.zero_()
        self.act = torch.nn.ReLU()
        self.eval()

    def forward(self, x):
        h = self.act(self.last_conv(x))[:, 0]
        q = h[:, : self.size // 2, : self.size // 2].mean((1, 2))
        # The other classes are unlikely but still depend on the input (non-zero gradients).
        scores = -5.0 + 0.01 * torch.arange(10.0) * x.mean((1, 2, 3))[:, None]
        scores[:, 0] = 0.0
        scores[:, 1] = q - 0.3
        return scores


def quadrant_data(n=6, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = 0.05 * torch.rand(n, 1, size, size, generator=g)
    x[:, :, : size // 2, : size // 2] += 0.9
    return x, np.ones(n, dtype=np.int64)


@pytest.mark.parametrize("method", METHODS)
def test_attribute_shapes_and_focus(method):
    x, y = quadrant_data()
    model = QuadrantModel()
    kw = {"rex": rex_settings(16, iters=4, base_box=2, base_resolution=16)} if method == "rex" else {}
    a = attribute(method, model, x, y, **kw)
    assert a.shape == x.shape and torch.isfinite(a).all()
    inside = a[:, 0, :8, :8].abs().sum((1, 2))
    outside = a[:, 0, 8:, 8:].abs().sum((1, 2))
    assert torch.all(inside > outside)


def test_attribute_rejects_bad_input():
    model = QuadrantModel()
    x, y = quadrant_data(2)
    with pytest.raises(ValueError, match="unknown method"):
        attribute("lime", model, x, y)
    with pytest.raises(ValueError, match="NaN"):
        attribute("saliency", model, x * float("nan"), y)
    with pytest.raises(ValueError, match="3 targets for 2 inputs"):
        attribute("saliency", model, x, [1, 1, 1])
    with pytest.raises(ValueError, match="not a module of this model"):
        attribute("guided_gradcam", model, x, y, layer=torch.nn.Conv2d(1, 1, 3))
    with pytest.raises(ValueError, match="empty batch"):
        attribute("saliency", model, x[:0], y[:0])


def test_rex_has_no_map_where_it_cannot_explain():
    model = QuadrantModel()
    x, _ = quadrant_data(3)
    x[2] = 0.0  # dark: predicted class 0, and the blank input is class 0 too
    maps, status = rex_or_nan(model, x, np.array([1, 2, 0]), **rex_settings(16, iters=2, base_resolution=16))
    assert status.tolist() == ["ok", "not_predicted", "degenerate"]
    assert torch.isfinite(maps[0]).all() and torch.isnan(maps[1]).all() and torch.isnan(maps[2]).all()


# ----------------------------------------------------------------------------- metrics
def _fixed(maps):
    """A Quantus explain_func returning fixed maps (perturbations do not change them)."""
    def f(model, inputs, targets, **kw):
        return np.asarray(maps[: len(inputs)], dtype=np.float32)
    return f


@pytest.fixture
def good_and_bad():
    x, y = quadrant_data(8)
    good = np.zeros(x.shape, dtype=np.float32)
    good[:, :, :8, :8] = x[:, :, :8, :8].numpy()  # the quadrant the model reads
    bad = np.zeros(x.shape, dtype=np.float32)
    bad[:, :, 8:, 8:] = 1.0  # a quadrant the model ignores
    return QuadrantModel(), x.numpy(), y, good, bad


def test_faithfulness_ranks_good_above_bad(good_and_bad):
    model, x, y, good, bad = good_and_bad
    settings = SuiteSettings(subset_fraction=0.2, faithfulness_runs=30)
    s_good = score("faithfulness_correlation", model, x, y, good, _fixed(good), settings)
    s_bad = score("faithfulness_correlation", model, x, y, bad, _fixed(bad), settings)
    assert np.nanmean(s_good) > 0.5 and np.nanmean(s_good) > np.nanmean(s_bad) + 0.3


def test_sparseness_ranks_concentrated_above_spread(good_and_bad):
    model, x, y, good, _ = good_and_bad
    spread = 1.0 + 0.01 * np.random.default_rng(0).random(good.shape).astype(np.float32)
    s_good = score("sparseness", model, x, y, good, _fixed(good))
    s_spread = score("sparseness", model, x, y, spread, _fixed(spread))
    assert np.all(s_good > 0.6) and np.all(s_spread < 0.05)


def test_sensitivity_ranks_stable_above_noisy(good_and_bad):
    model, x, y, good, _ = good_and_bad
    settings = SuiteSettings(sensitivity_samples=3)
    rng = np.random.default_rng(0)

    def noisy(model, inputs, targets, **kw):
        return rng.random(np.shape(inputs)).astype(np.float32)

    stable = score("avg_sensitivity", model, x, y, good, _fixed(good), settings)
    jumpy = score("avg_sensitivity", model, x, y, good, noisy, settings)
    assert np.nanmean(stable) < 1e-6 < np.nanmean(jumpy)
    assert not HIGHER_IS_BETTER["avg_sensitivity"]


def test_random_logit_and_mprt_run_and_skip_missing_maps(good_and_bad):
    model, x, y, good, _ = good_and_bad
    explainer = QuantusExplainer("saliency")
    a = explainer(model, x, y)
    a[0] = np.nan  # an input without a map scores NaN, the others are scored
    for metric in ("random_logit", "mprt"):
        s = score(metric, model, x, y, a, explainer)
        assert s.shape == (len(x),) and np.isnan(s[0]) and np.isfinite(s[1:]).all()


def test_score_rejects_mismatched_attributions(good_and_bad):
    model, x, y, good, _ = good_and_bad
    with pytest.raises(ValueError, match="must match inputs"):
        score("sparseness", model, x, y, good[:, :, :4], _fixed(good))
    with pytest.raises(ValueError, match="unknown metric"):
        score("accuracy", model, x, y, good, _fixed(good))


@pytest.mark.parametrize("value", [0.0, 1.0, 0.3])
def test_constant_attributions_score_nan(good_and_bad, value):
    model, x, y, good, _ = good_and_bad
    const = np.full_like(good, value)
    const[0] = good[0]  # one real map in the batch is still scored
    s = score("sparseness", model, x, y, const, _fixed(good))
    assert np.isfinite(s[0]) and np.isnan(s[1:]).all()


def test_rank_methods_honours_direction():
    import pandas as pd

    t = pd.DataFrame({"dataset": "mnist", "resolution": 28, "method": ["a", "b", "c"] * 2,
                      "metric": ["faithfulness_correlation"] * 3 + ["avg_sensitivity"] * 3,
                      "mean": [0.9, 0.1, np.nan, 0.9, 0.1, 0.5]})
    r = rank_methods(t).set_index(["metric", "method"])["rank"]
    assert r["faithfulness_correlation", "a"] == 1 and r["faithfulness_correlation", "b"] == 2
    assert np.isnan(r["faithfulness_correlation", "c"])
    assert r["avg_sensitivity", "b"] == 1 and r["avg_sensitivity", "a"] == 3
    assert set(METRICS) == set(HIGHER_IS_BETTER)
