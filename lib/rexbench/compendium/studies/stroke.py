"""Part II (3D ReX on brain volumes): paths, the detector, inputs and sweep tasks."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ...data.stroke import StrokeData, load as _load
from ...explain import BaselineOcclusion, ConstantOcclusion, cube_feature_mask, make_explainer
from ...models import CNN3D, load_cnn3d, save_cnn3d
from ...training import train_classifier
from . import require

OCCLUSIONS = ("zero", "min", "mean", "context")
BASELINES = ["saliency", "integrated_gradients", "gradcam", "gradient_shap", "kernel_shap"]
REX_BATCH = 16  # mutants per forward pass: the 3D CNN's cost per query grows with the batch (benchmarks/bench_batch.py)


def volumes_path(data_dir) -> Path:
    return Path(data_dir) / "stroke" / "volumes.npz"


def model_path(data_dir) -> Path:
    return Path(data_dir) / "stroke" / "models" / "cnn3d.pt"


def explanation_path(data_dir, stem: str) -> Path:
    return Path(data_dir) / "stroke" / "explanations" / f"{stem}.npz"


def load_volumes(data_dir) -> StrokeData:
    return _load(require(volumes_path(data_dir), "05_stroke_volumes"))


def load_model(data_dir):
    return load_cnn3d(require(model_path(data_dir), "06_stroke_model")).eval()


def train_detector(data_dir, *, epochs: int, batch_size: int, max_lr: float, seed: int):
    """The 3D CNN, trained on the training subjects (or loaded if trained with these settings)."""
    from ..chapter import train_or_load

    data = load_volumes(data_dir)
    train, val = data.of_split("train"), data.of_split("val")
    params = {"epochs": epochs, "batch_size": batch_size, "max_lr": max_lr, "seed": seed}
    return train_or_load(
        model_path(data_dir), params, build=CNN3D,
        train=lambda m: train_classifier(m, train.X, train.y, val.X, val.y, epochs=epochs, batch_size=batch_size,
                                         max_lr=max_lr, seed=seed, optimizer="adam"),
        save=save_cnn3d, load=load_cnn3d, notebook="06_stroke_model", inputs={"data": volumes_path(data_dir)},
        seed=seed)


def occlusion(name: str, context: np.ndarray | None = None):
    """ReX's occlusion called ``name``: a constant (0, the volume's min or mean) or the
    lesion-free ``context`` volume."""
    if name not in OCCLUSIONS:
        raise ValueError(f"unknown occlusion {name!r}; choose from {list(OCCLUSIONS)}")
    if name == "context":
        if context is None:
            raise ValueError("the context occlusion needs the context volume")
        return BaselineOcclusion(context)
    return ConstantOcclusion(0.0 if name == "zero" else name)


def rex_settings(occ: str, context, *, iters: int, min_box_size: int, search_limit: int, seed: int) -> dict:
    return {"iters": iters, "min_box_size": min_box_size, "search_limit": search_limit,
            "occlusion": occlusion(occ, context), "seed": seed, "on_degenerate": "flag", "max_batch_size": REX_BATCH}


def baseline_settings(method: str, *, ig_steps: int, gshap_samples: int, kshap_cube: int, kshap_samples: int,
                      grid: int, seed: int) -> dict:
    """Constructor settings of a gradient or SHAP baseline on ``grid``^3 volumes."""
    return {
        "saliency": {},
        "integrated_gradients": {"n_steps": ig_steps, "internal_batch_size": 16},
        "gradcam": {},
        "gradient_shap": {"n_samples": gshap_samples, "stdevs": 0.05, "batch": max(gshap_samples, 1), "seed": seed},
        "kernel_shap": {"n_samples": kshap_samples, "batch": 16, "seed": seed,
                        "feature_mask": cube_feature_mask((grid,) * 3, kshap_cube)},
    }[method]


def rex_task(settings: dict, model, x: torch.Tensor, t: torch.Tensor) -> dict:
    """One sweep task: ReX maps and sufficient explanations of volumes ``x``, one at a time."""
    explainer = make_explainer("rex", model, **settings)
    maps, masks, sizes, queries, degenerate, seconds = [], [], [], [], [], []
    for i in range(len(x)):
        t0 = time.perf_counter()
        e = explainer.attribute(x[i : i + 1], target=t[i : i + 1])
        suff = explainer.sufficient_explanation(x[i : i + 1], target=t[i : i + 1], attributions=e)
        seconds.append(time.perf_counter() - t0)
        maps.append(e.maps[0, 0].numpy()); masks.append(suff.masks[0, 0].numpy())
        sizes.append(suff.sizes[0]); queries.append(e.stats["queries"][0] + suff.queries[0])
        degenerate.append(e.stats["degenerate"][0])
    return {"attr": np.stack(maps), "suff_masks": np.stack(masks), "suff_voxels": np.array(sizes),
            "queries": np.array(queries), "degenerate": np.array(degenerate), "seconds": np.array(seconds)}


def baseline_task(method: str, settings: dict, model, x: torch.Tensor, t: torch.Tensor) -> dict:
    """One sweep task: a baseline's maps of volumes ``x``, one volume per call."""
    explainer = make_explainer(method, model, **settings)
    t0 = time.perf_counter()
    attrs = [explainer.attribute(x[i : i + 1], target=t[i : i + 1]).maps[0, 0].numpy() for i in range(len(x))]
    return {"attr": np.stack(attrs), "seconds": np.full(len(x), (time.perf_counter() - t0) / len(x))}
