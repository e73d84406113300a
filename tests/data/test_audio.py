"""Spoken digits (rexbench.data.audio): FSDD and AudioMNIST loaders, checksums, speaker
folds and the log-mel pipeline."""
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rexbench.data import DataIntegrityError, fetch
from rexbench.data.audio import (MelConfig, audiomnist_speaker_folds, fsdd_files, fsdd_split, load_audiomnist,
                                 log_mel, parse_audiomnist_name, parse_fsdd_name, read_wav)

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
