"""Part I (SpecReX on simulated Raman spectra): paths, models, inputs and sweep tasks."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ...data.raman import DATASETS as RAMAN_DATASETS
from ...data.raman import RamanData, load as _load
from ...explain import make_explainer
from ...models import LRCN, load_lrcn, save_lrcn
from ...training import predict, train_classifier
from . import first_correct, require

DATASETS = list(RAMAN_DATASETS)
METHODS = ["rex", "kernel_shap", "gradient_shap", "deeplift_shap"]


def dataset_path(data_dir, name: str) -> Path:
    return Path(data_dir) / "raman" / f"{name}.npz"


def model_path(data_dir, name: str) -> Path:
    return Path(data_dir) / "raman" / "models" / f"lrcn_{name}.pt"


def load_dataset(data_dir, name: str) -> RamanData:
    """A data set chapter 01 wrote."""
    return _load(require(dataset_path(data_dir, name), "01_raman_datasets"))


def load_model(data_dir, name: str):
    """The LRCN chapter 02 trained on data set ``name``, in eval mode."""
    return load_lrcn(require(model_path(data_dir, name), "02_raman_models")).eval()


def train_lrcn(data_dir, name: str, *, epochs: int, batch_size: int, max_lr: float, kernels, lstm_hidden: int,
               lstm_layers: int, seed: int):
    """The LRCN of data set ``name``: trained on its training split (validated on its
    validation split), or loaded if trained before with these settings."""
    from ..chapter import train_or_load

    data_path = dataset_path(data_dir, name)
    d = load_dataset(data_dir, name)
    train, val = d.of_split("train"), d.of_split("val")
    params = {"dataset": name, "epochs": epochs, "batch_size": batch_size, "max_lr": max_lr, "kernels": kernels,
              "lstm_hidden": lstm_hidden, "lstm_layers": lstm_layers, "seed": seed}
    return train_or_load(
        model_path(data_dir, name), params,
        build=lambda: LRCN(d.X.shape[-1], kernels=kernels, lstm_hidden=lstm_hidden, lstm_layers=lstm_layers),
        train=lambda m: train_classifier(m, train.X, train.y, val.X, val.y, epochs=epochs, batch_size=batch_size,
                                         max_lr=max_lr, seed=seed),
        save=save_lrcn, load=load_lrcn, notebook="02_raman_models", inputs={"data": data_path}, seed=seed)


def explained(d: RamanData, model, cls: int, n: int) -> np.ndarray:
    """The first ``n`` spectra of class ``cls`` that ``model`` classifies correctly (indices into ``d``)."""
    return first_correct(predict(model, d.X).argmax(1), d.y, cls, n)


def explain_spectra(method: str, settings: dict, model, X: torch.Tensor, y: torch.Tensor) -> dict:
    """One sweep task: ``method``'s maps of spectra ``X`` for classes ``y`` (ReX: with its
    minimal sufficient explanations and costs; DeepLIFT-SHAP: with its convergence deltas)."""
    t0 = time.perf_counter()
    explainer = make_explainer(method, model, **settings)
    e = explainer.attribute(X, target=y)
    out = {"attr": e.maps[:, 0].numpy()}
    if method == "rex":
        suff = explainer.sufficient_explanation(X, target=y, attributions=e)
        out.update(queries=e.stats["queries"], forward_seconds=np.array(e.forward_seconds),
                   degenerate=e.stats["degenerate"], suff_masks=suff.masks[:, 0].numpy(), suff_fraction=suff.fractions)
    if method == "deeplift_shap":
        out["delta"] = e.stats["delta"]
    return {**out, "seconds": np.array(time.perf_counter() - t0)}


def rex_ablation(data_dir, tag: str, name: str, model, sub: RamanData, cls: int, **settings) -> dict:
    """ReX's maps and sufficient explanations of the spectra ``sub`` (class ``cls``) at
    ``settings``, cached under ``tag``."""
    from ..artifacts import cached_npz

    explainer = make_explainer("rex", model, on_degenerate="flag", **settings)
    X = torch.as_tensor(sub.X)

    def compute():
        e = explainer.attribute(X, target=cls)
        suff = explainer.sufficient_explanation(X, target=cls, attributions=e)
        return {"attr": e.maps[:, 0].numpy(), "suff_masks": suff.masks[:, 0].numpy(),
                "suff_fraction": suff.fractions, "degenerate": e.stats["degenerate"]}

    params = {"tag": tag, "dataset": name, "class": cls, "n": len(sub.y), "X_sum": float(sub.X.sum()),
              "explainer": explainer.params}
    return cached_npz(Path(data_dir) / "raman" / "ablations" / f"{tag}_{name}_{cls}.npz", compute,
                      notebook="04_raman_ablations", params=params)


def score_rex(r: dict, sub: RamanData, prominence: float) -> dict:
    """Peak counts, localisation and sufficient explanations of ReX results ``r`` on ``sub``."""
    from ...data.raman import peak_windows
    from ...metrics import argmax_hit, count_peaks, mask_hits_window, mass_in_windows

    wins = [peak_windows(sub, i) for i in range(len(sub.y))]
    default = count_peaks(r["attr"])
    hits = np.array([argmax_hit(a, w) for a, w in zip(r["attr"], wins)])
    ok = np.sum(~np.isnan(hits))
    return {"n": len(sub.y), "mean_peaks": default.mean(), "std_peaks": default.std(ddof=1) if len(default) > 1 else np.nan,
            "mean_peaks_prominence": count_peaks(r["attr"], "prominence", prominence).mean(),
            "argmax_hit_rate": np.nanmean(hits),
            "argmax_hit_se": float(np.nanstd(hits, ddof=1) / np.sqrt(ok)) if ok > 1 else np.nan,
            "mass_in_peaks": np.nanmean([mass_in_windows(a, w) for a, w in zip(r["attr"], wins)]),
            "sufficient_fraction": float(np.mean(r["suff_fraction"])),
            "sufficient_hits_peak": float(np.mean([mask_hits_window(m, w) for m, w in zip(r["suff_masks"], wins)])),
            "degenerate": int(np.sum(r["degenerate"]))}
