"""Speed of ReX and the SHAP baselines on Part I's spectra: time per explanation against the
model's own time.

    .venv/bin/python benchmarks/bench_raman.py [--profile full|smoke] [--repeats 3] [--spectra 3]

Uses the LRCNs and test spectra written by the Part I chapters (run `make book` or
`make test` first). For each data set and method, at the published settings (ReX 20
iterations; KernelSHAP and GradientSHAP 2,000 samples; DeepLIFT-SHAP over 50 training
spectra), explains the first ``--spectra`` correctly classified test spectra of classes 0
and 1, ``--repeats`` times, and records the median wall time per explanation and the
model's share of it: the seconds inside the model's forward passes and, for the gradient
methods, the backward passes from its output to its input
(:class:`rexbench.compendium.bench.TimedModel`). ``outside_model_ratio`` is what the
explainer spends outside the model per second inside it (the aim: at most 2). KernelSHAP
runs with both of its fits (``kernel_shap``: the book's, captum's sklearn fit, float32,
LAPACK gelsd, as the authors ran it; ``kernel_shap_lstsq``: ``fit="lstsq"``): for them
``fit_seconds_per_explanation`` is the time in the weighted least-squares fit,
``fit_error_vs_float64`` how far the fit's coefficients are from the float64 solution of
the same least-squares problem (largest difference over the largest coefficient, first
spectrum), ``peaks_default`` the mean number of peaks of the maps (``find_peaks`` at its
defaults, the count of the paper's table) and ``map_change_vs_captum`` the median relative
norm of the lstsq map's difference from captum's on the same spectra and coalitions. Writes
``book/tables/bench_baselines.csv`` with the machine in a JSON beside it.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.linalg
import torch

from rexbench.compendium.artifacts import atomic_write_text, write_table
from rexbench.compendium.bench import TimedModel, machine
from rexbench.data import RAMAN_DATASETS
from rexbench.data.raman import load as load_raman
from rexbench.explain import DeepLiftShap, GradientShap, KernelShap, ReX
from rexbench.explain import shapley
from rexbench.metrics import count_peaks
from rexbench.models import load_lrcn
from rexbench.training import predict

ROOT = Path(__file__).resolve().parents[1]


def explainers(model, background, shap_samples: int) -> dict:
    """Each method at the settings the Part I chapters use (published sample counts)."""
    return {
        "rex": ReX(model, iters=20, min_box_size=25, seed=0, on_degenerate="flag"),
        "kernel_shap": KernelShap(model, n_samples=shap_samples, seed=0),
        "kernel_shap_lstsq": KernelShap(model, n_samples=shap_samples, seed=0, fit="lstsq"),
        "gradient_shap": GradientShap(model, n_samples=shap_samples, seed=0),
        "deeplift_shap": DeepLiftShap(model, background=background),
    }


class TimedFit(shapley.SkLearnLinearRegression):
    """Both KernelSHAP fits, timed; keeps the first problem (to compare with float64)."""

    seconds, first = 0.0, None

    def fit(self, loader, **kwargs):
        t0 = time.perf_counter()
        out = super().fit(loader, **kwargs)
        TimedFit.seconds += time.perf_counter() - t0
        if TimedFit.first is None:
            X, y, w = (t.numpy() for t in loader.dataset.tensors)
            TimedFit.first = (X, y, w, self.representation().reshape(-1).numpy())
        return out


_lstsq = shapley.weighted_lstsq


def timed_lstsq(X, y, w):
    t0 = time.perf_counter()
    coef = _lstsq(X, y, w)
    TimedFit.seconds += time.perf_counter() - t0
    if TimedFit.first is None:
        TimedFit.first = (X.astype(np.float32), y, w, coef)
    return coef


def float64_error(X, y, w, coef) -> float:
    """Largest difference of ``coef`` from the float64 weighted least-squares solution (with
    an intercept, as sklearn fits it), over the largest coefficient of that solution."""
    X, y, w = X.astype(np.float64), y.astype(np.float64), w.astype(np.float64)
    root = np.sqrt(w)[:, None]
    Xc, yc = (X - np.average(X, axis=0, weights=w)) * root, (y - np.average(y, weights=w)) * root[:, 0]
    exact = scipy.linalg.lstsq(Xc, yc)[0]
    return float(np.abs(coef - exact).max() / np.abs(exact).max())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="full", choices=["full", "smoke"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--spectra", type=int, default=3, help="spectra per class (0 and 1)")
    ap.add_argument("--shap-samples", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "book" / "tables" / "bench_baselines.csv")
    args = ap.parse_args(argv)
    if min(args.repeats, args.spectra, args.shap_samples) < 1:
        ap.error("--repeats, --spectra and --shap-samples must be at least 1")
    torch.set_num_threads(args.threads)
    data_dir = ROOT / "data" / args.profile / "raman"
    if not (data_dir / "models").exists():
        print(f"no trained models under {data_dir}: run `make book` (full) or `make test` (smoke) first", file=sys.stderr)
        return 1
    print(f"profile {args.profile}, {args.repeats} repeats, {2 * args.spectra} spectra per data set, "
          f"torch threads {torch.get_num_threads()}")
    print(f"{'dataset':8} {'method':14} {'s/expl':>8} {'model s':>8} {'outside/model':>14} {'fit s':>7} "
          f"{'fit error':>9}")
    shapley.SkLearnLinearRegression = TimedFit  # KernelShap looks both fits up at call time
    shapley.weighted_lstsq = timed_lstsq
    rows = []
    for name in RAMAN_DATASETS:
        d = load_raman(data_dir / f"{name}.npz")
        test, train = d.of_split("test"), d.of_split("train")
        model = TimedModel(load_lrcn(data_dir / "models" / f"lrcn_{name}.pt")).eval()
        pred = predict(model.model, test.X).argmax(1)
        idx = np.concatenate([np.flatnonzero((test.y == c) & (pred == c))[: args.spectra] for c in (0, 1)])
        X, y = torch.as_tensor(test.X[idx]), torch.as_tensor(test.y[idx].astype(np.int64))
        background = torch.as_tensor(train.X[:50])
        kernel_maps = {}
        for method, explainer in explainers(model, background, args.shap_samples).items():
            explainer.attribute(X[:1], y[:1], keys=[int(idx[0])])  # warm-up (first-call costs)
            seconds, model_seconds, fit_seconds = [], [], []
            TimedFit.first = None
            for _ in range(args.repeats):
                model.reset()
                TimedFit.seconds = 0.0
                t0 = time.perf_counter()
                maps = explainer.attribute(X, y, keys=idx.tolist()).maps
                seconds.append((time.perf_counter() - t0) / len(idx))
                model_seconds.append(model.seconds / len(idx))
                fit_seconds.append(TimedFit.seconds / len(idx))
            s, m = statistics.median(seconds), statistics.median(model_seconds)
            kernel = method.startswith("kernel_shap")
            fit = statistics.median(fit_seconds) if kernel else float("nan")
            error = float64_error(*TimedFit.first) if kernel else float("nan")
            maps = maps[:, 0].numpy().astype(np.float64)
            kernel_maps[method] = maps
            change = float("nan")
            if method == "kernel_shap_lstsq":
                theirs = kernel_maps["kernel_shap"]
                change = float(np.median(np.linalg.norm(maps - theirs, axis=1) / np.linalg.norm(theirs, axis=1)))
            rows.append({"method": method, "dataset": name, "n": len(idx), "seconds_per_explanation": s,
                         "model_seconds_per_explanation": m, "outside_model_ratio": (s - m) / m,
                         "fit_seconds_per_explanation": fit, "fit_error_vs_float64": error,
                         "peaks_default": float(count_peaks(maps).mean()) if kernel else float("nan"),
                         "map_change_vs_captum": change})
            print(f"{name:8} {method:14} {s:8.3f} {m:8.3f} {(s - m) / m:14.2f} {fit:7.3f} {error:9.2e}", flush=True)
    table = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_table(table, args.out)
    atomic_write_text(args.out.with_suffix(".machine.json"), json.dumps(machine(args.threads), indent=2))
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
