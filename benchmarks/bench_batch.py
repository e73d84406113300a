"""Cost per model query by batch size, for the book's four model architectures.

    .venv/bin/python benchmarks/bench_batch.py [--threads 1 2] [--repeats 5]

Explainers send their queries in batches (ReX's mutants, KernelSHAP's coalitions,
GradientSHAP's path samples). On a CPU a bigger batch is not always cheaper per query:
once a batch's activations outgrow the cache, each query costs more. This measures the
milliseconds per query of a forward pass (and, for GradientSHAP, forward plus backward to
the input) at each batch size, for the Raman LRCN (852 and 1,752 points), the 3D CNN
(48^3 voxels) and the digit CNN (28 and 128 pixels), untrained (the weights do not change
the cost), with 1 torch thread (a Dask worker's) and 2 (a chapter's). The chapters' batch
settings come from this table. The two CNNs keep their weights and activations
channels-last (``layout``); the same layers in PyTorch's default contiguous layout are
timed beside them (``as_built`` False) to show what that layout saves. Writes
``book/tables/bench_batch.csv`` with the machine in a JSON beside it. About 5 minutes.
"""
from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import pandas as pd
import torch

from rexbench.compendium.artifacts import atomic_write_text, write_table
from rexbench.compendium.bench import forward_cost_by_batch, machine
from rexbench.models import CNN3D, LRCN, DigitCNN
from rexbench.models.digit_cnn import stem_stride

ROOT = Path(__file__).resolve().parents[1]


class ContiguousLayout(torch.nn.Module):
    """A CNN's layers in PyTorch's default (contiguous) layout, for comparison with the
    channels-last layout the models are built in (same weights, same computation)."""

    def __init__(self, model):
        super().__init__()
        self.model = copy.deepcopy(model).to(memory_format=torch.contiguous_format)

    def forward(self, x):
        m = self.model
        if getattr(m, "mirror", False):
            x = torch.cat([x, x - torch.flip(x, dims=[2])], dim=1)
        return m.head(m.last_act(m.last_conv(m.features(x.contiguous()))))


def cases():
    """(model name, pass, layout, as built?, model, one example input, batch sizes)."""
    torch.manual_seed(0)
    lrcn_batches = (16, 32, 64, 128, 256, 512, 1024)
    for length in (852, 1752):
        model = LRCN(length)
        x = torch.rand(1, 1, length)
        yield f"LRCN {length} points", "forward", "contiguous", True, model, x, lrcn_batches
        yield f"LRCN {length} points", "forward+backward", "contiguous", True, model, x, lrcn_batches[:-1]
    cnns = [("CNN3D 48^3 voxels", CNN3D(), torch.rand(1, 1, 48, 48, 48), (2, 4, 8, 16, 32, 64, 128, 256))]
    cnns += [(f"DigitCNN {size}x{size}", DigitCNN(stride=stem_stride(size)), torch.rand(1, 1, size, size),
              (16, 32, 64, 128, 256, 512, 1024)) for size in (28, 128)]
    for name, model, x, batches in cnns:
        yield name, "forward", "channels_last", True, model, x, batches
        yield name, "forward", "contiguous", False, ContiguousLayout(model), x, batches


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "book" / "tables" / "bench_batch.csv")
    args = ap.parse_args(argv)
    if args.repeats < 1 or min(args.threads) < 1:
        ap.error("--repeats and --threads must be at least 1")
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name, kind, layout, as_built, model, x, batches in cases():
            cost = forward_cost_by_batch(model, x, batches, repeats=args.repeats, backward=kind != "forward",
                                         min_queries=256 if "CNN3D" in name else 1024)
            cost.insert(0, "threads", threads)
            cost.insert(0, "as_built", as_built)
            cost.insert(0, "layout", layout)
            cost.insert(0, "pass", kind)
            cost.insert(0, "model", name)
            rows.append(cost)
            best = cost.loc[cost.ms_per_query.idxmin()]
            print(f"{threads} thread(s)  {name:20} {kind:17} {layout:13} best batch {int(best.batch):5}: "
                  f"{best.ms_per_query:.3f} ms/query; largest batch {int(cost.batch.iloc[-1])}: "
                  f"{cost.ms_per_query.iloc[-1]:.3f}", flush=True)
    table = pd.concat(rows, ignore_index=True)
    print(f"\nmachine: {machine(max(args.threads))}")
    print(table.pivot_table(index=["model", "pass", "layout", "threads"], columns="batch", values="ms_per_query")
          .round(3).to_string())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_table(table, args.out)
    atomic_write_text(args.out.with_suffix(".machine.json"), json.dumps(machine(max(args.threads)), indent=2))
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
