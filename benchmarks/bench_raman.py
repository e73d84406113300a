"""Speed of ReX and the SHAP baselines on one Raman spectrum per data set.

    .venv/bin/python benchmarks/bench_raman.py [--profile full|smoke] [--repeats 3]

Uses the LRCNs and test spectra written by the Part I chapters (run `make book` or
`make test` first). For each data set and method prints the median wall time per
explanation, model queries (ReX) and the share of time spent outside the model's forward
passes: for ReX that is our own overhead (partitions, masks, occlusion, bookkeeping); for
the gradient methods it also includes their backward passes.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from rexbench.data import RAMAN_DATASETS
from rexbench.data.raman import load as load_raman
from rexbench.explain import DeepLiftShap, GradientShap, KernelShap, ReX
from rexbench.models import load_lrcn
from rexbench.training import predict

ROOT = Path(__file__).resolve().parents[1]


class TimedModel(torch.nn.Module):
    """Wraps a model and accumulates the seconds spent in its forward passes."""

    def __init__(self, model):
        super().__init__()
        self.model, self.seconds, self.samples = model, 0.0, 0

    def forward(self, x):
        t0 = time.perf_counter()
        out = self.model(x)
        self.seconds += time.perf_counter() - t0
        self.samples += len(x)
        return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="full", choices=["full", "smoke"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--shap-samples", type=int, default=2000)
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    data_dir = ROOT / "data" / args.profile / "raman"
    if not (data_dir / "models").exists():
        print(f"no trained models under {data_dir}: run `make book` (full) or `make test` (smoke) first", file=sys.stderr)
        return 1
    print(f"profile {args.profile}, {args.repeats} repeats, median per explanation, torch threads {torch.get_num_threads()}")
    print(f"{'dataset':8} {'method':14} {'seconds':>8} {'queries':>8} {'outside forward':>16}")
    for name in RAMAN_DATASETS:
        d = load_raman(data_dir / f"{name}.npz").of_split("test")
        model = TimedModel(load_lrcn(data_dir / "models" / f"lrcn_{name}.pt")).eval()
        pred = predict(model.model, d.X).argmax(1)
        i = int(next(j for j in range(len(d.y)) if d.y[j] == pred[j] and d.y[j] < 2))
        x, y = torch.as_tensor(d.X[i : i + 1]), torch.tensor([int(d.y[i])])
        background = torch.as_tensor(d.X[:50])
        methods = {
            "rex": lambda: ReX(model, seed=0, on_degenerate="flag").attribute(x, y),
            "kernel_shap": lambda: KernelShap(model, n_samples=args.shap_samples).attribute(x, y),
            "gradient_shap": lambda: GradientShap(model, n_samples=args.shap_samples).attribute(x, y),
            "deeplift_shap": lambda: DeepLiftShap(model, background=background).attribute(x, y),
        }
        for method, run in methods.items():
            times, shares, queries = [], [], []
            for _ in range(args.repeats):
                model.seconds, model.samples = 0.0, 0
                t0 = time.perf_counter()
                run()
                dt = time.perf_counter() - t0
                times.append(dt)
                shares.append(1 - model.seconds / dt)
                queries.append(model.samples)
            q = statistics.median(queries) if method == "rex" else float("nan")
            print(f"{name:8} {method:14} {statistics.median(times):8.3f} {q:8.0f} {statistics.median(shares):15.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
