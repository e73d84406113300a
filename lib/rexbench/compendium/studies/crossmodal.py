"""Part III (images vs spoken-digit spectrograms): where each chapter's artifacts live, the
inputs of each (dataset, resolution), choosing the inputs to explain, each method's
settings and the sweep tasks of the explanations and metrics chapters."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ...explain import PUBLISHED_REX_ITERS, PUBLISHED_REX_SEARCH_LIMIT, make_explainer

IMAGE_DATASETS = ("mnist",)
AUDIO_DATASETS = ("fsdd", "audiomnist")


def modality(dataset: str) -> str:
    """Return the modality of a data set.

    Parameters
    ----------
    dataset : str
        One of ``IMAGE_DATASETS`` or ``AUDIO_DATASETS``.

    Returns
    -------
    str
        ``"image"`` or ``"audio"``.

    Raises
    ------
    ValueError
        If the data set is unknown.
    """
    if dataset in IMAGE_DATASETS:
        return "image"
    if dataset in AUDIO_DATASETS:
        return "audio"
    raise ValueError(f"unknown dataset {dataset!r}; expected one of {IMAGE_DATASETS + AUDIO_DATASETS}")


def folder(data_dir: str | Path) -> Path:
    """Return Part III's artifact folder, ``data_dir/crossmodal``.

    Parameters
    ----------
    data_dir : str or pathlib.Path
        The profile's data folder.

    Returns
    -------
    pathlib.Path
        The folder.
    """
    return Path(data_dir) / "crossmodal"


def model_path(data_dir, dataset: str, resolution: int) -> Path:
    """Return the path of the model of ``dataset`` at ``resolution``.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.
    dataset : str
        The data set.
    resolution : int
        The input resolution.

    Returns
    -------
    pathlib.Path
        ``crossmodal/models/<dataset>_<resolution>.pt`` under ``data_dir``.
    """
    return folder(data_dir) / "models" / f"{dataset}_{resolution}.pt"


def spectrogram_path(data_dir, dataset: str, resolution: int) -> Path:
    """Return the path of the spectrograms of ``dataset`` at ``resolution``.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.
    dataset : str
        The audio data set.
    resolution : int
        The spectrogram resolution.

    Returns
    -------
    pathlib.Path
        ``crossmodal/spectrograms/<dataset>_<resolution>.npz`` under ``data_dir``.
    """
    return folder(data_dir) / "spectrograms" / f"{dataset}_{resolution}.npz"


def to_resolution(images: np.ndarray | torch.Tensor, size: int) -> torch.Tensor:
    """Convert uint8 images (N, H, W) to float32 (N, 1, size, size) in [0, 1], bilinearly resized.

    Black stays 0; images already ``size`` x ``size`` are only scaled.

    Parameters
    ----------
    images : numpy.ndarray or torch.Tensor
        Images with values 0-255, shape ``(N, H, W)``.
    size : int
        Side of the output.

    Returns
    -------
    torch.Tensor
        ``float32`` tensor of shape ``(N, 1, size, size)``.

    Raises
    ------
    ValueError
        If ``images`` is not 3-D.
    """
    x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    if x.ndim != 3:
        raise ValueError(f"images must be (N, H, W), got shape {tuple(x.shape)}")
    x = x[:, None] / 255.0
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def test_inputs(data_dir, dataset: str, resolution: int, mirror=None) -> tuple[torch.Tensor, np.ndarray]:
    """Return the held-out inputs of ``dataset`` at ``resolution`` and their labels.

    These are MNIST's test images resized, or the test split of the spectrograms chapter
    11 wrote.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.
    dataset : str
        ``"mnist"`` or an audio data set.
    resolution : int
        The input resolution.
    mirror : str or os.PathLike, optional
        MNIST mirror folder (see :func:`rexbench.data.load_mnist`).

    Returns
    -------
    inputs : torch.Tensor
        The inputs, shape ``(N, 1, H, W)``.
    labels : numpy.ndarray
        Their labels.

    Raises
    ------
    FileNotFoundError
        If the spectrogram artifact is missing or incomplete.
    """
    if dataset == "mnist":
        from ...data.mnist import load_mnist

        images, labels = load_mnist("test", mirror)
        return to_resolution(images, resolution), labels
    from ..artifacts import is_complete, load_npz

    path = spectrogram_path(data_dir, dataset, resolution)
    if not is_complete(path):
        raise FileNotFoundError(f"{path} is missing or incomplete: run the audio model chapter first")
    d = load_npz(path)
    test = d["split"] == "test"
    return torch.as_tensor(d["X"][test]), d["y"][test]


def balanced_correct(pred: np.ndarray, labels: np.ndarray, n: int, n_classes: int = 10) -> np.ndarray:
    """Indices of ``n`` inputs to explain: the first correctly classified ones of each class
    in data order, ``n / n_classes`` per class (the remainder to the lowest classes), so every
    method explains the same inputs with target = label = prediction. Fails if a class has
    too few correct inputs.

    Parameters
    ----------
    pred : numpy.ndarray
        Predicted class of each input.
    labels : numpy.ndarray
        True class of each input.
    n : int
        Number of inputs to choose.
    n_classes : int, optional
        Number of classes, ``0 .. n_classes - 1`` (default 10).

    Returns
    -------
    numpy.ndarray
        ``int64`` indices, sorted.

    Raises
    ------
    ValueError
        If ``n`` is below 1 or a class has too few correctly classified inputs.
    """
    pred, labels = np.asarray(pred), np.asarray(labels)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    per = [n // n_classes + (1 if c < n % n_classes else 0) for c in range(n_classes)]
    chosen = []
    for c, k in enumerate(per):
        idx = np.flatnonzero((labels == c) & (pred == c))
        if len(idx) < k:
            raise ValueError(f"class {c} has {len(idx)} correctly classified inputs, {k} needed")
        chosen.extend(idx[:k].tolist())
    return np.sort(np.array(chosen, dtype=np.int64))


METHODS = ("saliency", "integrated_gradients", "guided_gradcam", "gradient_shap", "rex")


def rex_settings(resolution: int, iters: int = PUBLISHED_REX_ITERS, search_limit: int = PUBLISHED_REX_SEARCH_LIMIT,
                 base_box: int = 2, base_resolution: int = 28, baseline: float = 0.0, seed: int = 0) -> dict:
    """ReX settings for a 2D input of ``resolution`` pixels: the published iterations and
    query budget, a smallest box that scales with the input (``base_box`` pixels at
    ``base_resolution``, so the search reaches the same level of detail in the content),
    occlusion by the ``baseline`` value, and NaN maps (status "degenerate" or
    "not_predicted") where ReX has none, which Quantus turns into NaN scores.

    Parameters
    ----------
    resolution : int
        Side of the input in pixels.
    iters : int, optional
        ReX iterations (default: the published value).
    search_limit : int, optional
        Query budget (default: the published value).
    base_box : int, optional
        Smallest box at ``base_resolution``, in pixels (default 2).
    base_resolution : int, optional
        Resolution ``base_box`` refers to (default 28).
    baseline : float, optional
        Occlusion value (default 0).
    seed : int, optional
        ReX's seed (default 0).

    Returns
    -------
    dict
        Keyword arguments of :func:`rexbench.explain.make_explainer` for ``"rex"``.
    """
    from ...explain import ConstantOcclusion

    return {"iters": iters, "search_limit": search_limit, "tree_depth": 10,
            "min_box_size": max(1, int(round(base_box * resolution / base_resolution))), "max_batch_size": 128,
            "occlusion": ConstantOcclusion(float(baseline)), "seed": seed, "on_degenerate": "nan",
            "on_mispredicted": "nan"}


def method_settings(method: str, resolution: int, *, baseline: float = 0.0, ig_steps: int = 32,
                    shap_samples: int = 32, shap_stdevs: float = 0.1, rex_iters: int = PUBLISHED_REX_ITERS,
                    rex_search_limit: int = PUBLISHED_REX_SEARCH_LIMIT, seed: int = 0) -> dict:
    """Constructor settings of ``method``'s explainer at ``resolution``: one place, so the
    explanations chapter and the metrics chapter (whose metrics re-explain perturbed inputs)
    use the same settings. Absent input = ``baseline`` for every method.

    Parameters
    ----------
    method : str
        One of ``METHODS``.
    resolution : int
        Side of the input in pixels.
    baseline : float, optional
        Value of absent input (default 0).
    ig_steps : int, optional
        Integrated-gradients steps (default 32).
    shap_samples : int, optional
        GradientSHAP samples (default 32).
    shap_stdevs : float, optional
        GradientSHAP noise standard deviation (default 0.1).
    rex_iters : int, optional
        ReX iterations (default: the published value).
    rex_search_limit : int, optional
        ReX query budget (default: the published value).
    seed : int, optional
        Seed of GradientSHAP and ReX (default 0).

    Returns
    -------
    dict
        Keyword arguments of :func:`rexbench.explain.make_explainer` (empty for saliency
        and guided GradCAM).

    Raises
    ------
    ValueError
        If ``method`` is not one of ``METHODS``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    if method == "integrated_gradients":
        return {"baseline": baseline, "n_steps": ig_steps, "internal_batch_size": 256}
    if method == "gradient_shap":
        return {"n_samples": shap_samples, "stdevs": shap_stdevs, "baseline": baseline, "seed": seed}
    if method == "rex":
        return rex_settings(resolution, iters=rex_iters, search_limit=rex_search_limit, baseline=baseline, seed=seed)
    return {}


def attribution_path(data_dir, dataset: str, resolution: int, method: str) -> Path:
    """Return the path of ``method``'s maps of ``dataset`` at ``resolution``.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.
    dataset : str
        The data set.
    resolution : int
        The input resolution.
    method : str
        The explainer.

    Returns
    -------
    pathlib.Path
        ``crossmodal/attributions/<dataset>_<resolution>_<method>.npz`` under ``data_dir``.
    """
    return folder(data_dir) / "attributions" / f"{dataset}_{resolution}_{method}.npz"


def metrics_path(data_dir, dataset: str, resolution: int, method: str) -> Path:
    """Return the metric sweep cell of (``dataset``, ``resolution``, ``method``): its chunks
    are stored beside it as ``inputs_<lo>-<hi>.npz`` (:func:`~rexbench.compendium.sweep.run_cells`
    with ``store=False``), the cell itself is never written. Parameters as
    :func:`attribution_path`.

    Returns
    -------
    pathlib.Path
        ``crossmodal/metrics/<dataset>_<resolution>_<method>/inputs.npz`` under ``data_dir``.
    """
    return folder(data_dir) / "metrics" / f"{dataset}_{resolution}_{method}" / "inputs.npz"


def explain_chunk(method: str, model: torch.nn.Module, x: torch.Tensor, target, settings: dict, keys=None) -> dict:
    """One sweep task of the explanations chapter: ``method``'s maps of a chunk of inputs
    (``a``), the status per input (ReX: "ok", "degenerate" or "not_predicted"; "ok" for the
    other methods) and the seconds taken.

    Parameters
    ----------
    method : str
        The explainer's name.
    model : torch.nn.Module
        The classifier.
    x : torch.Tensor
        The chunk's inputs.
    target : array_like or torch.Tensor
        Target class of each input.
    settings : dict
        The explainer's settings (see :func:`method_settings`).
    keys : sequence of int, optional
        Each input's key (its index in the test set): a stochastic method's draws for an
        input are seeded by (seed, key), whatever chunk it is in.

    Returns
    -------
    dict of str to numpy.ndarray
        ``a`` (the maps), ``status`` (str per input) and ``seconds`` (as the explanation
        reports them).
    """
    e = make_explainer(method, model, **settings).attribute(x, target=target, keys=keys)
    status = e.stats.get("status", np.full(len(x), "ok"))
    return {"a": e.numpy(), "status": np.asarray(status, dtype=str), "seconds": np.array(e.seconds)}


def explanation_cells(data_dir, grid, methods, n_explain: int, explain_params: dict) -> tuple[dict, dict]:
    """Describe the explanations sweep: one cell per (data set, resolution, method).

    Each cell explains ``n_explain`` correctly classified test inputs, balanced over the
    ten digits (:func:`balanced_correct`), keyed by their index in the test set, and is
    stored at :func:`attribution_path`.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.
    grid : sequence of (str, int)
        The (data set, resolution) pairs.
    methods : sequence of str
        The methods (:data:`METHODS`).
    n_explain : int
        Inputs per data set and resolution.
    explain_params : dict
        Keyword arguments of :func:`method_settings` other than the method and resolution.

    Returns
    -------
    tuple of dict
        The cells for :func:`rexbench.compendium.sweep.run_cells`, keyed (dataset,
        resolution, method), and the explained inputs and targets, keyed (dataset, resolution).
    """
    from ...models import load_digit_cnn
    from ...training import predict
    from ..sweep import Cell

    inputs, cells = {}, {}
    for dataset, res in grid:
        model = load_digit_cnn(model_path(data_dir, dataset, res))
        X, y = test_inputs(data_dir, dataset, res)
        idx = balanced_correct(predict(model, X, batch=500).argmax(1), y, n_explain)
        x, t = X[idx], y[idx]
        inputs[dataset, res] = (x, t)
        for method in methods:
            settings = method_settings(method, res, **explain_params)
            # Keys: each input's index in the test set (idx) seeds its draws.
            params = {"dataset": dataset, "resolution": res, "idx": idx.tolist(), "keys": "idx",
                      "explainer": make_explainer(method, model, **settings).params}
            cells[dataset, res, method] = Cell(
                attribution_path(data_dir, dataset, res, method), params, explain_chunk,
                lambda lo, hi, m=method, s=settings, model=model, x=x, t=t, k=idx: (m, model, x[lo:hi], t[lo:hi], s,
                                                                                    k[lo:hi]),
                len(idx), {"model": model_path(data_dir, dataset, res)}, extra={"idx": idx})
    return cells, inputs


def score_chunk(method: str, model: torch.nn.Module, x: np.ndarray, target: np.ndarray, a: np.ndarray,
                explainer_settings: dict, suite, seed: int) -> dict:
    """One sweep task of the metrics chapter: every metric's per-input scores for a chunk
    of inputs, and the seconds each metric took. Quantus draws are seeded with ``seed``
    (the chapter passes its seed plus the chunk's first input index, so a chunk's scores do
    not depend on which worker computes it or in which order).

    Parameters
    ----------
    method : str
        The explainer's name (metrics that re-explain use it).
    model : torch.nn.Module
        The classifier.
    x : numpy.ndarray
        The chunk's inputs, shape ``(N, 1, H, W)``.
    target : numpy.ndarray
        Target class of each input.
    a : numpy.ndarray
        Their attributions, the same shape as ``x``.
    explainer_settings : dict
        The explainer's settings (see :func:`method_settings`).
    suite : SuiteSettings
        The metric suite's settings.
    seed : int
        Seed of the Quantus draws.

    Returns
    -------
    dict of str to numpy.ndarray
        Per-input scores of each metric of
        :data:`~rexbench.metrics.quantus_suite.METRICS`, by name, and ``seconds`` (one
        value per metric, in that order).
    """
    from ...metrics.quantus_suite import METRICS, ExplainFunc, score

    explain_func = ExplainFunc(method, explainer_settings)
    out, seconds = {}, []
    for metric in METRICS:
        t0 = time.perf_counter()
        out[metric] = score(metric, model, x, target, a, explain_func, suite, seed=seed)
        seconds.append(time.perf_counter() - t0)
    return {**out, "seconds": np.array(seconds)}


def metric_cells(data_dir, explained: dict, suite, seed: int) -> dict:
    """Describe the metrics sweep: one cell per (data set, resolution, method) of the
    explanations chapter, scoring its maps with the Quantus suite in chunks.

    The cells store chunks only (``run_cells(..., store=False)``); Quantus' draws in a chunk
    are seeded with ``seed`` plus the chunk's first input position.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.
    explained : dict
        The explanations chapter's settings (its ``explain_settings.json``: ``grid``,
        ``methods`` and the method settings).
    suite : rexbench.metrics.quantus_suite.SuiteSettings
        The metrics' settings.
    seed : int
        Base seed of Quantus' draws.

    Returns
    -------
    dict
        The cells for :func:`rexbench.compendium.sweep.run_cells`, keyed (dataset,
        resolution, method).
    """
    from ...models import load_digit_cnn
    from ..artifacts import load_npz
    from ..sweep import Cell

    explain_params = {k: explained[k] for k in ("ig_steps", "shap_samples", "shap_stdevs", "rex_iters",
                                                 "rex_search_limit", "seed")}
    cells = {}
    for dataset, res in explained["grid"]:
        model = load_digit_cnn(model_path(data_dir, dataset, res))
        X, y = test_inputs(data_dir, dataset, res)
        for method in explained["methods"]:
            apath = attribution_path(data_dir, dataset, res, method)
            a_art = load_npz(apath)
            x, t, a = X[a_art["idx"]].numpy(), y[a_art["idx"]], a_art["a"]
            settings = method_settings(method, res, **explain_params)
            params = {"dataset": dataset, "resolution": res, "suite": suite.params, "seed": seed,
                      "explainer": make_explainer(method, model, **settings).params}
            cells[dataset, res, method] = Cell(
                metrics_path(data_dir, dataset, res, method), params, score_chunk,
                lambda lo, hi, m=method, model=model, x=x, t=t, a=a, s=settings: (
                    m, model, x[lo:hi], t[lo:hi], a[lo:hi], s, suite, seed + lo), len(x), {"attributions": apath})
    return cells


def train_digit_cnn(data_dir, dataset: str, resolution: int, X_train, y_train, X_val, y_val, *, epochs: int,
                    batch_size: int, max_lr: float, seed: int, notebook: str, params: dict, upsample: bool = False,
                    inputs: dict | None = None):
    """The DigitCNN of ``dataset`` at ``resolution``: trained (AdamW, OneCycle) or loaded if
    trained before with ``params``.

    Parameters
    ----------
    data_dir : path
        The profile's data folder.
    dataset : str
        "mnist", "fsdd" or "audiomnist".
    resolution : int
        Pixels (MNIST) or mel bands (audio) per side.
    X_train, y_train, X_val, y_val : array-like
        Training and validation inputs ``(N, 1, H, W)`` and labels.
    epochs, batch_size, max_lr, seed
        Training settings.
    notebook : str
        The chapter that owns the model.
    params : dict
        What keys the model.
    upsample : bool
        Train on inputs upsampled on the fly to ``resolution`` (MNIST's 28-pixel images), so
        the stored model takes ``resolution`` x ``resolution`` inputs.
    inputs : dict, optional
        Files the model was trained from.

    Returns
    -------
    model : DigitCNN
        In eval mode.
    history : list of dict
        Per-epoch losses and accuracies.
    """
    from ...models import DigitCNN, load_digit_cnn, save_digit_cnn, stem_stride
    from ...training import train_classifier
    from ..chapter import train_or_load

    def train(m):
        net = m
        if upsample:
            net = torch.nn.Sequential(torch.nn.Upsample(size=(resolution, resolution), mode="bilinear",
                                                        align_corners=False), m)
        return train_classifier(net, X_train, y_train, X_val, y_val, epochs=epochs, batch_size=batch_size,
                                max_lr=max_lr, seed=seed, optimizer="adam", progress=False)

    return train_or_load(model_path(data_dir, dataset, resolution), params,
                         build=lambda: DigitCNN(stride=stem_stride(resolution)), train=train, save=save_digit_cnn,
                         load=load_digit_cnn, notebook=notebook, inputs=inputs, seed=seed)


def spectrograms(data_dir, corpus: str, audio, split, cfg, *, repetitions=None, seed: int = 0) -> dict:
    """The log-mel spectrograms of every recording of ``audio`` at ``cfg``, with labels,
    split and speakers: computed once per setting (every setting of the transform, the hop
    included, keys the artifact) and cached under ``data_dir``.

    The cache key is ``corpus``, ``cfg``, ``repetitions`` and ``seed``, not the recordings or
    the split themselves.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder; the artifact is :func:`spectrogram_path` of ``corpus`` at
        ``cfg.n_mels``.
    corpus : str
        The corpus, ``"fsdd"`` or ``"audiomnist"``.
    audio : rexbench.data.audio.SpokenDigits
        Its recordings, at ``cfg.sr``.
    split : array_like of str
        Each recording's split (``"train"``, ``"val"`` or ``"test"``).
    cfg : rexbench.data.audio.MelConfig
        The transform.
    repetitions : int, optional
        AudioMNIST recordings per speaker and digit that were loaded; recorded in the cache
        key only (default None).
    seed : int, optional
        The seed of the split; recorded in the cache key only (default 0).

    Returns
    -------
    dict of numpy.ndarray
        ``X`` (N, 1, n_mels, n_frames), ``y``, ``split``, ``speakers``, ``sr``, ``n_fft``, ``duration``.

    Raises
    ------
    ValueError
        If the spectrograms are computed and there are no recordings, or they are not
        finite (:func:`~rexbench.data.audio.log_mel`).
    """
    from ...data.audio import log_mel
    from ..artifacts import cached_npz

    params = {"corpus": corpus, "mel": {**cfg.__dict__, "hop": cfg.hop}, "repetitions": repetitions, "seed": seed}

    def compute():
        X, _ = log_mel(audio.waves, cfg)
        return {"X": X, "y": audio.labels, "split": np.asarray(split, dtype=str),
                "speakers": audio.speakers.astype(str), "sr": np.array(cfg.sr), "n_fft": np.array(cfg.n_fft),
                "duration": np.array(cfg.duration)}

    return cached_npz(spectrogram_path(data_dir, corpus, cfg.n_mels), compute,
                      notebook="11_crossmodal_audio_model", params=params)
