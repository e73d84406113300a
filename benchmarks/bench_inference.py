"""What running each ReLU after its max-pool saves in inference (rexbench.models._inference).

    .venv/bin/python benchmarks/bench_inference.py [--repeats 15]

Without gradients the library's models run each ReLU that directly precedes a max-pool
after it (the same numbers: the ReLU is monotone), so the ReLU runs on the pooled, 2 to 8
times smaller activations. This times a forward pass per query both ways, alternating the
two in each repeat (so slow spells of a shared machine hit both alike), for the book's
architectures at the batch their explainers use, untrained (the weights do not change the
cost), with one torch thread, and checks the outputs are identical. Writes
``book/tables/bench_inference.csv`` (model, batch, ms per query in the modules' order and
pool first, their ratio, identical) with the machine in a JSON beside it. About a minute.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import pandas as pd
import torch

import rexbench.models._inference as inference
from rexbench.compendium.artifacts import atomic_write_text, write_table
from rexbench.compendium.bench import machine
from rexbench.models import CNN3D, LRCN, DigitCNN
from rexbench.models.digit_cnn import stem_stride

ROOT = Path(__file__).resolve().parents[1]


def cases():
    torch.manual_seed(0)
    yield "LRCN 852 points", LRCN(852), (512, 1, 852)
    yield "LRCN 1752 points", LRCN(1752), (256, 1, 1752)
    yield "DigitCNN 28x28", DigitCNN(stride=stem_stride(28)), (512, 1, 28, 28)
    yield "DigitCNN 128x128", DigitCNN(stride=stem_stride(128)), (32, 1, 128, 128)
    yield "CNN3D 48^3 voxels", CNN3D(), (16, 1, 48, 48, 48)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--out", type=Path, default=ROOT / "book" / "tables" / "bench_inference.csv")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    torch.set_num_threads(1)
    rows = []
    try:
        for name, model, shape in cases():
            model.eval()
            x = torch.rand(shape)
            times = {"modules": [], "pool_first": []}
            with torch.no_grad():
                inference.POOL_FIRST = False
                before = model(x)
                inference.POOL_FIRST = True
                identical = bool(torch.equal(before, model(x)))
                for _ in range(args.repeats):
                    for way, pool_first in (("modules", False), ("pool_first", True)):
                        inference.POOL_FIRST = pool_first
                        t0 = time.perf_counter()
                        model(x)
                        times[way].append(time.perf_counter() - t0)
            slow, fast = (1e3 * statistics.median(times[k]) / shape[0] for k in ("modules", "pool_first"))
            rows.append({"model": name, "batch": shape[0], "ms_per_query_modules_order": slow,
                         "ms_per_query_pool_first": fast, "ratio": slow / fast, "identical": identical})
            print(f"{name:18} batch {shape[0]:4}: modules' order {slow:.4f} ms/query, pool first {fast:.4f}: "
                  f"{slow / fast:.2f}x, outputs {'identical' if identical else 'DIFFERENT'}", flush=True)
    finally:
        inference.POOL_FIRST = True
    table = pd.DataFrame(rows)
    write_table(table, args.out)
    atomic_write_text(args.out.with_suffix(".machine.json"), json.dumps(machine(1), indent=2))
    print(f"\nwritten: {args.out}")
    return 0 if table.identical.all() else 1


if __name__ == "__main__":
    raise SystemExit(main())
