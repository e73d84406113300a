"""Spoken digits: the Free Spoken Digit Dataset (FSDD) and AudioMNIST, and log-mel spectrograms.

Both corpora are read from their upstream layout:

* FSDD (``Jakobovski/free-spoken-digit-dataset``, pinned commit): ``recordings/{digit}_{speaker}_{index}.wav``,
  8 kHz mono. Every file is in the SHA-256 registry and comes through :func:`~rexbench.data.registry.fetch`
  (local mirror or checksum-verified download). Official split: index 0-4 test, the rest training.
* AudioMNIST (``soerenab/AudioMNIST``, pinned commit): ``data/{speaker:02d}/{digit}_{speaker:02d}_{rep}.wav``,
  48 kHz mono, plus ``data/audioMNIST_meta.txt`` (JSON). Read from a folder laid out like upstream (the
  ``root`` argument or ``REXBENCH_AUDIOMNIST``); missing recordings are downloaded from the pinned commit.
  The full corpus's hashes are not published, so files listed in our registry are verified against it and
  every other downloaded file is checked as a WAV of the right format and its SHA-256 recorded in
  ``root/SHA256SUMS`` (trust on first download); a ``SHA256SUMS`` in ``root`` is verified on every load.

Recordings are resampled with librosa (soxr) to a common rate; AudioMNIST to 16 kHz by default (it keeps the
fricatives above 4 kHz that the original 8 kHz resampling lost).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io import sha256_file
from .registry import DataIntegrityError, cache_dir, fetch, load_registry

FSDD_COMMIT = "26eb9aaf76e81b692f806f9140c2d2777410d7a1"
AUDIOMNIST_COMMIT = "6c5eb77d8e9242d6ce31af807f0409d36a246f51"
AUDIOMNIST_META_COMMIT = "ce04129aaa56d47d11a8d9cc1247bac2cafac9b7"
AUDIOMNIST_URL = "https://raw.githubusercontent.com/soerenab/AudioMNIST/{commit}/data/{path}"
AUDIOMNIST_ENV = "REXBENCH_AUDIOMNIST"
AUDIOMNIST_SR = 48_000
FSDD_SR = 8_000

_FSDD_NAME = re.compile(r"^(?P<digit>\d)_(?P<speaker>[a-z]+)_(?P<index>\d+)\.wav$")
_AMNIST_NAME = re.compile(r"^(?P<digit>\d)_(?P<speaker>\d{2})_(?P<rep>\d{1,2})\.wav$")


@dataclass
class SpokenDigits:
    """Recordings of one corpus at one sample rate.

    Attributes
    ----------
    name : str
        Corpus name, ``"fsdd"`` or ``"audiomnist"``.
    sr : int
        Sample rate of ``waves``, in Hz.
    waves : list of numpy.ndarray
        One 1-D ``float32`` array in [-1, 1] per recording (lengths differ).
    labels : numpy.ndarray
        Spoken digit of each recording.
    speakers : numpy.ndarray
        Speaker of each recording, as strings (FSDD names, AudioMNIST two-digit ids).
    index : numpy.ndarray
        Repetition index of each recording.
    files : list of str
        Path of each recording's WAV file (default empty).
    """

    name: str
    sr: int
    waves: list
    labels: np.ndarray
    speakers: np.ndarray
    index: np.ndarray
    files: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.waves)

    def subset(self, mask) -> "SpokenDigits":
        """Return the recordings selected by a mask.

        Parameters
        ----------
        mask : array_like of bool
            One entry per recording; the recordings at its non-zero (True) entries are
            kept.

        Returns
        -------
        SpokenDigits
            A new object with the selected recordings, in their original order.
        """
        idx = np.flatnonzero(np.asarray(mask))
        return SpokenDigits(self.name, self.sr, [self.waves[i] for i in idx], self.labels[idx],
                            self.speakers[idx], self.index[idx], [self.files[i] for i in idx])


# ---------------------------------------------------------------------------- WAV input
def read_wav(path: str | os.PathLike, expect_sr: int | None = None, expect_channels: int = 1) -> tuple[np.ndarray, int]:
    """Read a WAV as float32 in [-1, 1].

    Parameters
    ----------
    path : str or os.PathLike
        The WAV file.
    expect_sr : int, optional
        Required sample rate in Hz; not checked if None.
    expect_channels : int, optional
        Required number of channels (default 1, mono).

    Returns
    -------
    wave : numpy.ndarray
        The first channel's samples, ``float32``, shape ``(n_samples,)``.
    sr : int
        The file's sample rate in Hz.

    Raises
    ------
    DataIntegrityError
        If the file is not a readable WAV, has another sample rate or channel count than
        expected, or has no samples; the message names the file.
    """
    import soundfile as sf

    try:
        info = sf.info(str(path))
        wave, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as err:
        raise DataIntegrityError(f"{path}: not a readable WAV file ({err})") from err
    if info.channels != expect_channels:
        raise DataIntegrityError(f"{path}: has {info.channels} channels, expected {expect_channels} (mono)")
    if expect_sr is not None and sr != expect_sr:
        raise DataIntegrityError(f"{path}: sample rate {sr} Hz, expected {expect_sr} Hz")
    if len(wave) == 0:
        raise DataIntegrityError(f"{path}: contains no samples")
    return wave[:, 0], sr


def resample(wave: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """Resample a recording, band-limited (librosa with soxr, high quality).

    Parameters
    ----------
    wave : numpy.ndarray
        1-D samples.
    sr : int
        Sample rate of ``wave`` in Hz.
    target_sr : int
        Sample rate wanted, in Hz.

    Returns
    -------
    numpy.ndarray
        ``float32`` samples at ``target_sr`` (a ``float32`` copy of ``wave`` if the rates
        are equal).
    """
    if sr == target_sr:
        return wave.astype(np.float32)
    import librosa

    return librosa.resample(wave.astype(np.float32), orig_sr=sr, target_sr=target_sr, res_type="soxr_hq")


# ---------------------------------------------------------------------------- FSDD
def fsdd_files(registry: dict[str, str] | None = None) -> list[str]:
    """Return the registry names of every FSDD recording, sorted.

    Parameters
    ----------
    registry : dict of str to str, optional
        Registry to search; defaults to :func:`~rexbench.data.registry.load_registry`.

    Returns
    -------
    list of str
        Names starting with ``fsdd/recordings/``.
    """
    registry = load_registry() if registry is None else registry
    return sorted(k for k in registry if k.startswith("fsdd/recordings/"))


def parse_fsdd_name(name: str) -> tuple[int, str, int]:
    """Parse an FSDD file name: ``'7_jackson_32.wav'`` -> (7, 'jackson', 32).

    Parameters
    ----------
    name : str
        File name or path; only the final component is parsed.

    Returns
    -------
    digit : int
        Spoken digit.
    speaker : str
        Speaker name.
    index : int
        Recording index.

    Raises
    ------
    ValueError
        If the name is not ``{digit}_{speaker}_{index}.wav``.
    """
    m = _FSDD_NAME.match(Path(name).name)
    if not m:
        raise ValueError(f"{name!r} is not an FSDD recording name ('{{digit}}_{{speaker}}_{{index}}.wav')")
    return int(m["digit"]), m["speaker"], int(m["index"])


def fsdd_split(index: np.ndarray, val_indices: range = range(5, 10)) -> np.ndarray:
    """Return the official FSDD split by recording index, with a validation hold-out.

    Indices 0-4 are test, the rest training; we hold out ``val_indices`` of the training
    recordings for validation.

    Parameters
    ----------
    index : array_like of int
        Recording index of each recording.
    val_indices : range, optional
        Training indices (above 4) held out for validation (default 5-9).

    Returns
    -------
    numpy.ndarray
        Object array of ``"train"``, ``"val"`` or ``"test"``, one per recording.
    """
    index = np.asarray(index)
    split = np.where(index <= 4, "test", "train").astype(object)
    split[np.isin(index, list(val_indices)) & (index > 4)] = "val"
    return split


def load_fsdd(sr: int = FSDD_SR, mirror: str | os.PathLike | None = None) -> SpokenDigits:
    """Load all FSDD recordings (3,000), checksum-verified, resampled to ``sr``.

    Parameters
    ----------
    sr : int, optional
        Sample rate to resample to (default 8 kHz, the native rate).
    mirror : str or os.PathLike, optional
        Local mirror folder passed to :func:`~rexbench.data.registry.fetch`.

    Returns
    -------
    SpokenDigits
        The recordings in registry order, ``name="fsdd"``.

    Raises
    ------
    DataIntegrityError
        If the registry lists no FSDD recordings, or a file is missing, corrupt, or not an
        8 kHz mono WAV.
    """
    registry = load_registry()
    waves, labels, speakers, index, files = [], [], [], [], []
    for name in fsdd_files(registry):
        digit, speaker, idx = parse_fsdd_name(name)
        path = fetch(name, mirror, registry)
        wave, native = read_wav(path, expect_sr=FSDD_SR)
        waves.append(resample(wave, native, sr))
        labels.append(digit), speakers.append(speaker), index.append(idx), files.append(str(path))
    if not waves:
        raise DataIntegrityError("the data registry lists no FSDD recordings")
    return SpokenDigits("fsdd", sr, waves, np.array(labels), np.array(speakers), np.array(index), files)


# ---------------------------------------------------------------------------- AudioMNIST
def parse_audiomnist_name(name: str) -> tuple[int, str, int]:
    """Parse an AudioMNIST file name: ``'3_51_37.wav'`` -> (3, '51', 37).

    Parameters
    ----------
    name : str
        File name, or a path; if the parent folder's name is all digits, it must equal
        the speaker.

    Returns
    -------
    digit : int
        Spoken digit.
    speaker : str
        Two-digit speaker id.
    rep : int
        Repetition.

    Raises
    ------
    ValueError
        If the name is not ``{digit}_{speaker:02d}_{rep}.wav``, or the folder names a
        different speaker.
    """
    p = Path(name)
    m = _AMNIST_NAME.match(p.name)
    if not m:
        raise ValueError(f"{name!r} is not an AudioMNIST recording name ('{{digit}}_{{speaker:02d}}_{{rep}}.wav')")
    if p.parent.name and p.parent.name.isdigit() and p.parent.name != m["speaker"]:
        raise ValueError(f"{name!r}: recording of speaker {m['speaker']} lies in folder {p.parent.name}")
    return int(m["digit"]), m["speaker"], int(m["rep"])


def audiomnist_root(root: str | os.PathLike | None = None) -> Path:
    """Return the AudioMNIST folder.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Folder to use; if None, ``REXBENCH_AUDIOMNIST``.

    Returns
    -------
    pathlib.Path
        The folder with ``~`` expanded, or ``cache_dir() / "audiomnist"`` when neither is
        set.
    """
    root = root if root is not None else os.environ.get(AUDIOMNIST_ENV)
    return Path(root).expanduser() if root else cache_dir() / "audiomnist"


def _read_sums(path: Path) -> dict[str, str]:
    sums = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                digest, rel = line.split(maxsplit=1)
                sums[rel.strip().lstrip("*")] = digest
    return sums


def _verify_against(path: Path, rel: str, sums: dict[str, str], registry: dict[str, str]) -> None:
    expected = registry.get(f"audiomnist/{rel}") or sums.get(rel)
    if expected is None:
        return
    actual = sha256_file(path)
    if actual != expected:
        raise DataIntegrityError(f"{path}: corrupt or not the pinned version: sha256 {actual}, expected {expected}")


def download_audiomnist(root: str | os.PathLike, speakers, digits=range(10), repetitions=range(50)) -> list[Path]:
    """Fetch the chosen recordings (and the metadata) from the pinned upstream commit.

    Files go into ``root`` in the upstream layout; already present files are kept (and
    not re-checked). Needs internet. Files in the registry are verified against it; every
    newly downloaded recording is checked as a 48 kHz mono WAV, and each new file's
    SHA-256 is added to ``root/SHA256SUMS`` (rewritten atomically).

    Parameters
    ----------
    root : str or os.PathLike
        Destination folder.
    speakers : iterable of int or str
        Speaker numbers (1-60).
    digits : iterable of int, optional
        Digits to fetch (default all ten).
    repetitions : iterable of int, optional
        Repetitions to fetch (default 0-49).

    Returns
    -------
    list of pathlib.Path
        The metadata file, then every selected recording.

    Raises
    ------
    DataIntegrityError
        If a downloaded recording is not a readable 48 kHz mono WAV.
    ValueError
        If a downloaded file does not match its registered hash (raised by pooch).
    """
    import pooch

    from ..io import atomic_write_text

    root = Path(root)
    registry = load_registry()
    sums_path = root / "SHA256SUMS"
    sums = _read_sums(sums_path)
    wanted = ["data/audioMNIST_meta.txt"] + [
        f"data/{int(s):02d}/{d}_{int(s):02d}_{r}.wav" for s in speakers for d in digits for r in repetitions
    ]
    paths = []
    for rel in wanted:
        path = root / rel
        if not path.exists():
            commit = AUDIOMNIST_META_COMMIT if rel.endswith("meta.txt") else AUDIOMNIST_COMMIT
            known = registry.get(f"audiomnist/{rel}")
            pooch.retrieve(AUDIOMNIST_URL.format(commit=commit, path=rel[len("data/"):]),
                           known_hash=f"sha256:{known}" if known else None,
                           fname=path.name, path=path.parent, progressbar=False)
            if rel.endswith(".wav"):
                read_wav(path, expect_sr=AUDIOMNIST_SR)  # a failed or HTML download is not a WAV
            sums.setdefault(rel, sha256_file(path))
        paths.append(path)
    atomic_write_text(sums_path, "".join(f"{h}  {r}\n" for r, h in sorted(sums.items())))
    return paths


def audiomnist_speaker_folds(speakers, fold: int = 0, seed: int = 0) -> dict[str, list[str]]:
    """Split speakers into train/val/test as the AudioMNIST digit task does.

    Gives 5 folds of 36/12/12 speakers for the full 60: a seeded permutation cut into 5
    groups (fewer if there are fewer than 5 speakers), fold ``k`` tests on group ``k``
    and validates on group ``k+1`` (cyclically); the rest train.

    Parameters
    ----------
    speakers : iterable
        Speaker ids (duplicates allowed; compared as strings).
    fold : int, optional
        Fold, 0-4 (default 0).
    seed : int, optional
        Seed of the permutation (default 0).

    Returns
    -------
    dict of str to list of str
        Speakers under ``"train"``, ``"val"`` and ``"test"``.

    Raises
    ------
    ValueError
        If there are fewer than 3 distinct speakers or ``fold`` is not in 0-4.
    """
    speakers = sorted({str(s) for s in speakers})
    if len(speakers) < 3:
        raise ValueError(f"a speaker split needs at least 3 speakers, got {len(speakers)}")
    if not 0 <= fold < 5:
        raise ValueError(f"fold must be in 0..4, got {fold}")
    perm = [speakers[i] for i in np.random.default_rng(seed).permutation(len(speakers))]
    groups = np.array_split(np.array(perm, dtype=object), min(5, len(perm)))
    k = fold % len(groups)
    test, val = list(groups[k]), list(groups[(k + 1) % len(groups)])
    train = [s for s in speakers if s not in test and s not in val]
    return {"train": train, "val": val, "test": test}


def load_audiomnist(root: str | os.PathLike | None = None, sr: int = 16_000, speakers=None, digits=None,
                    repetitions=None, download: bool = False) -> SpokenDigits:
    """Load the AudioMNIST recordings found under ``root`` (upstream layout).

    Recordings are resampled from 48 kHz to ``sr``. ``speakers``/``digits``/``repetitions``
    select a subset; with ``download=True`` missing ones are fetched first (all 60
    speakers if ``speakers`` is None). Each recording listed in the registry or in
    ``root/SHA256SUMS`` is verified against its hash.

    Parameters
    ----------
    root : str or os.PathLike, optional
        AudioMNIST folder; see :func:`audiomnist_root`.
    sr : int, optional
        Sample rate to resample to (default 16 kHz).
    speakers : iterable of int or str, optional
        Speaker numbers to keep; all if None.
    digits : iterable of int, optional
        Digits to keep; all if None.
    repetitions : iterable of int, optional
        Repetitions to keep; all if None.
    download : bool, optional
        Fetch missing recordings first with :func:`download_audiomnist` (default False).

    Returns
    -------
    SpokenDigits
        The selected recordings, sorted by path, ``name="audiomnist"``.

    Raises
    ------
    DataIntegrityError
        If ``root`` has no ``data/`` folder, no recording matches the selection, or a
        recording is corrupt or not a 48 kHz mono WAV.
    ValueError
        If a WAV under ``data/`` does not have an AudioMNIST name.
    """
    root = audiomnist_root(root)
    if download:
        download_audiomnist(root, speakers if speakers is not None else range(1, 61),
                            digits if digits is not None else range(10),
                            repetitions if repetitions is not None else range(50))
    if not (root / "data").is_dir():
        raise DataIntegrityError(f"{root}: no AudioMNIST 'data/' folder here (set {AUDIOMNIST_ENV} or download=True)")
    registry = load_registry()
    sums = _read_sums(root / "SHA256SUMS")
    want_s = None if speakers is None else {f"{int(s):02d}" for s in speakers}
    want_d = None if digits is None else set(digits)
    want_r = None if repetitions is None else set(repetitions)
    waves, labels, spk, reps, files = [], [], [], [], []
    for path in sorted((root / "data").glob("*/*.wav")):
        digit, speaker, rep = parse_audiomnist_name(str(path.relative_to(root / "data")))
        if (want_s and speaker not in want_s) or (want_d and digit not in want_d) or (want_r and rep not in want_r):
            continue
        _verify_against(path, str(path.relative_to(root)), sums, registry)
        wave, native = read_wav(path, expect_sr=AUDIOMNIST_SR)
        waves.append(resample(wave, native, sr))
        labels.append(digit), spk.append(speaker), reps.append(rep), files.append(str(path))
    if not waves:
        raise DataIntegrityError(f"{root}: no AudioMNIST recordings match the selection")
    return SpokenDigits("audiomnist", sr, waves, np.array(labels), np.array(spk), np.array(reps), files)


def audiomnist_metadata(root: str | os.PathLike | None = None) -> dict:
    """Load the per-speaker metadata (accent, age, gender, ...) from ``data/audioMNIST_meta.txt``.

    Parameters
    ----------
    root : str or os.PathLike, optional
        AudioMNIST folder; see :func:`audiomnist_root`.

    Returns
    -------
    dict
        The parsed JSON, by speaker.

    Raises
    ------
    DataIntegrityError
        If the file is missing, does not match its registered or recorded hash, or is
        not valid JSON.
    """
    root = audiomnist_root(root)
    path = root / "data" / "audioMNIST_meta.txt"
    if not path.exists():
        raise DataIntegrityError(f"{path} is missing")
    _verify_against(path, "data/audioMNIST_meta.txt", _read_sums(root / "SHA256SUMS"), load_registry())
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DataIntegrityError(f"{path}: not valid JSON ({err})") from err


# ---------------------------------------------------------------------------- log-mel
# Silence in dB: power is floored at AMIN, so digital silence is exactly DB_FLOOR and maps
# to 0 after scaling: the explainers' zero baseline is silence, as black is for images.
AMIN = 1e-10
DB_FLOOR = -100.0
DB_RANGE = 120.0


@dataclass(frozen=True)
class MelConfig:
    """A log-mel resolution: ``n_mels`` bands, ``n_frames`` frames over ``duration`` s.

    Recordings are cut to ``duration`` (the end trimmed) or padded with digital silence at
    the end; the hop is the largest that fits ``n_frames`` centred frames in the duration.

    Attributes
    ----------
    sr : int
        Sample rate in Hz.
    n_mels : int
        Number of mel bands.
    n_frames : int
        Number of time frames.
    duration : float
        Length recordings are cut or padded to, in seconds (default 0.8).
    n_fft : int
        FFT window length in samples (default 512).
    fmin : float
        Lowest mel frequency in Hz (default 0).
    """

    sr: int
    n_mels: int
    n_frames: int
    duration: float = 0.8
    n_fft: int = 512
    fmin: float = 0.0

    @property
    def n_samples(self) -> int:
        """int: Samples in ``duration`` at ``sr`` (rounded)."""
        return int(round(self.duration * self.sr))

    @property
    def hop(self) -> int:
        """int: Hop length in samples, ``max(1, n_samples // (n_frames - 1))``."""
        # The largest hop whose n_frames centred frames all lie within the duration.
        return max(1, self.n_samples // (self.n_frames - 1))

    @property
    def fmax(self) -> float:
        """float: Highest mel frequency in Hz (the Nyquist frequency, ``sr / 2``)."""
        return self.sr / 2

    def mel_frequencies(self) -> np.ndarray:
        """Return the centre frequency of each mel band.

        Returns
        -------
        numpy.ndarray
            ``n_mels`` frequencies in Hz, ascending.
        """
        import librosa

        return librosa.mel_frequencies(self.n_mels + 2, fmin=self.fmin, fmax=self.fmax)[1:-1]

    def frame_times(self) -> np.ndarray:
        """Return the centre time of each frame.

        Returns
        -------
        numpy.ndarray
            ``n_frames`` times in seconds, ``k * hop / sr``.
        """
        return np.arange(self.n_frames) * self.hop / self.sr


def fix_length(wave: np.ndarray, n_samples: int) -> tuple[np.ndarray, bool]:
    """Trim the end or pad with zeros (silence) to ``n_samples``.

    Parameters
    ----------
    wave : numpy.ndarray
        1-D samples.
    n_samples : int
        Length wanted.

    Returns
    -------
    wave : numpy.ndarray
        The recording, exactly ``n_samples`` long.
    trimmed : bool
        Whether samples were cut off.
    """
    if len(wave) >= n_samples:
        return wave[:n_samples], len(wave) > n_samples
    return np.pad(wave, (0, n_samples - len(wave))), False


def log_mel(waves, cfg: MelConfig) -> tuple[np.ndarray, np.ndarray]:
    """Compute scaled log-mel spectrograms of recordings.

    Each recording is cut or padded to ``cfg.n_samples`` (:func:`fix_length`). Scale:
    ``(dB - DB_FLOOR) / DB_RANGE`` with power in dB re 1 (full-scale), clipped at 0, so
    silence is 0 and loud speech about 1.

    Parameters
    ----------
    waves : iterable of array_like
        1-D recordings at ``cfg.sr``.
    cfg : MelConfig
        Resolution.

    Returns
    -------
    mels : numpy.ndarray
        ``float32`` spectrograms, shape ``(N, 1, n_mels, n_frames)``.
    trimmed : numpy.ndarray
        ``bool`` array, shape ``(N,)``: which recordings were trimmed.

    Raises
    ------
    ValueError
        If there are no recordings, or they contain NaN or inf samples.
    """
    import librosa

    fixed = [fix_length(np.asarray(w, dtype=np.float32), cfg.n_samples) for w in waves]
    if not fixed:
        raise ValueError("no recordings to transform")
    batch = np.stack([w for w, _ in fixed])
    if not np.isfinite(batch).all():
        raise ValueError("recordings contain NaN or inf samples")
    mel = librosa.feature.melspectrogram(y=batch, sr=cfg.sr, n_fft=cfg.n_fft, hop_length=cfg.hop,
                                         n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax, power=2.0)
    db = librosa.power_to_db(mel, ref=1.0, amin=AMIN, top_db=None)
    out = np.maximum((db - DB_FLOOR) / DB_RANGE, 0.0)  # float rounding can dip below silence
    out = out[..., : cfg.n_frames]
    if out.shape[-1] < cfg.n_frames:  # pad with silence frames
        out = np.pad(out, [(0, 0), (0, 0), (0, cfg.n_frames - out.shape[-1])])
    return out[:, None].astype(np.float32), np.array([t for _, t in fixed])


def load_corpus(corpus: str, sr: int | None = None, mirror=None, audiomnist_root=None, fold: int = 0, seed: int = 0,
                download: bool = False, repetitions=None) -> tuple[SpokenDigits, np.ndarray]:
    """Load a spoken-digit corpus and its split.

    FSDD comes with its official split (:func:`fsdd_split`, 8 kHz unless ``sr``);
    AudioMNIST is split by speaker (:func:`audiomnist_speaker_folds`, 16 kHz unless
    ``sr``; ``repetitions`` selects a subset, e.g. ``range(10)``).

    Parameters
    ----------
    corpus : {"fsdd", "audiomnist"}
        Corpus to load.
    sr : int, optional
        Sample rate; default 8 kHz for FSDD and 16 kHz for AudioMNIST.
    mirror : str or os.PathLike, optional
        FSDD mirror folder (FSDD only).
    audiomnist_root : str or os.PathLike, optional
        AudioMNIST folder (AudioMNIST only).
    fold : int, optional
        AudioMNIST speaker fold, 0-4 (default 0).
    seed : int, optional
        Seed of the AudioMNIST speaker permutation (default 0).
    download : bool, optional
        Download missing AudioMNIST recordings (default False).
    repetitions : iterable of int, optional
        AudioMNIST repetitions to keep; all if None.

    Returns
    -------
    data : SpokenDigits
        The recordings.
    split : numpy.ndarray
        Object array of ``"train"``, ``"val"`` or ``"test"``, one per recording.

    Raises
    ------
    ValueError
        If ``corpus`` is neither ``"fsdd"`` nor ``"audiomnist"``, or the AudioMNIST
        speaker split is invalid.
    DataIntegrityError
        If the recordings cannot be loaded or verified.
    """
    if corpus == "fsdd":
        data = load_fsdd(sr or FSDD_SR, mirror)
        return data, fsdd_split(data.index)
    if corpus == "audiomnist":
        data = load_audiomnist(audiomnist_root, sr or 16_000, repetitions=repetitions, download=download)
        folds = audiomnist_speaker_folds(data.speakers, fold, seed)
        split = np.empty(len(data), dtype=object)
        for name, speakers in folds.items():
            split[np.isin(data.speakers, speakers)] = name
        return data, split
    raise ValueError(f"corpus must be 'fsdd' or 'audiomnist', got {corpus!r}")
