"""Speed of 3D ReX: one volume end to end, and the per-query cost at several grids.

    .venv/bin/python benchmarks/bench_stroke.py [--profile full|smoke] [--grids 32 48 64]

Uses the detector and volumes of the Part II chapters (run `make book` or `make test`
first): explains the first positive test volume the detector calls positive with ReX at
the chapters' settings (occlusion 0) and prints wall time, model queries, time in batched
forward passes and ReX's own share; then the milliseconds per batched model query at
each grid, which is what grows with the grid.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from rexbench.compendium.bench import forward_cost_3d
from rexbench.data.stroke import load as load_stroke
from rexbench.explain import ReX
from rexbench.explain.rex import overhead_fraction
from rexbench.models import load_cnn3d
from rexbench.training import predict

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="full", choices=["full", "smoke"])
    ap.add_argument("--grids", type=int, nargs="+", default=[32, 48, 64])
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--min-box", type=int, default=3)
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    folder = ROOT / "data" / args.profile / "stroke"
    if not (folder / "models" / "cnn3d.pt").exists():
        print(f"no trained detector under {folder}: run `make book` (full) or `make test` (smoke) first", file=sys.stderr)
        return 1
    data = load_stroke(folder / "volumes.npz").of_split("test")
    model = load_cnn3d(folder / "models" / "cnn3d.pt")
    pred = predict(model, data.X, batch=32).argmax(1)
    hits = np.flatnonzero((data.y == 1) & (pred == 1))
    if hits.size == 0:
        print("the detector finds no positive test volume; nothing to explain", file=sys.stderr)
        return 1
    x = torch.as_tensor(data.X[hits[:1]])
    rex = ReX(model, iters=args.iters, min_box_size=args.min_box, occlusion="zero", seed=0, max_batch_size=16)
    t0 = time.perf_counter()
    e = rex.attribute(x, target=1)
    dt = time.perf_counter() - t0
    grid = data.X.shape[-1]
    print(f"ReX on one {grid}^3 volume ({args.profile} detector), iters {args.iters}, min box {args.min_box}, occlusion 0:")
    print(f"  {dt:.2f} s, {int(e.stats['queries'][0])} queries, {e.forward_seconds:.2f} s in forward passes, "
          f"ReX's own share {overhead_fraction(e):.1%}")
    print("Cost of one batched model query by grid (projected ReX time = queries x ms/query):")
    cost = forward_cost_3d(args.grids)
    cost["projected_seconds"] = cost.ms_per_query * e.stats['queries'][0] / 1e3
    print(cost.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
