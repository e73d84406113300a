"""Our ReX against the reference implementation (PyPI rex-xai 0.4.1) on Part I's classifiers.

    .venv/bin/python benchmarks/bench_rex_reference.py [--profile full] [--per-class 20] [--iters 20]

Both explain the same test spectra (the first ``--per-class`` correctly classified ones of
classes 0 and 1 of every data set) with the same trained LRCN, the same number of
iterations and SpecReX's settings (smallest box 25 points, tree depth 10, 200 queries per
iteration, occlusion by linear interpolation with Gaussian noise), one spectrum at a time;
ours also explains them all in one call (``seconds_batched``: its wall time over n), as the
chapters do, and counts the spectra whose maps are the same both ways (``batched_same_maps``).
``forward_limit_seconds``: what the same queries cost through the bare model at its best
batch size (of 32-512), the least an explanation could take: ReX's own mutants (the first
8,192) are recorded and replayed (``rexbench.compendium.bench.replay_cost``);
``forward_limit_repeated_seconds``: the same, one spectrum repeated (a check that
mutants cost what any input costs).
Prints, per data set and implementation: median wall seconds and model queries per
explanation, the share of time in the model's forward passes, the argmax-in-peak hit rate,
the mean default peak count (``scipy.signal.find_peaks``) and how many spectra keep their
class with the whole spectrum occluded (``degenerate``: their maps mean nothing), and
writes the table to
``book/tables/bench_rex_vs_reference.csv`` with the machine in a JSON beside it.

rex-xai pins numpy 1.26.4, so it gets its own virtual environment (``_build/rexxai``,
created here on first use from ``benchmarks/rex-reference-requirements.txt``) and runs in a
subprocess (``rex_reference_worker.py``) that receives the model as TorchScript. Needs the
Part I models and data of the profile (run the Part I chapters first: ``make book``, or
``scripts/run_chapters.py --profile full --only 01_ 02_``).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rexbench.compendium.artifacts import atomic_write_text, write_table
from rexbench.compendium.bench import Recorder, forward_cost_by_batch, machine, replay_cost
from rexbench.data import RAMAN_DATASETS
from rexbench.data.raman import load as load_raman, peak_windows
from rexbench.explain import ReX
from rexbench.metrics import argmax_hit, count_peaks
from rexbench.models import load_lrcn
from rexbench.explain import PUBLISHED_REX_ITERS, PUBLISHED_REX_SEARCH_LIMIT
from rexbench.training import predict

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
BATCHES = (32, 64, 128, 256, 512)
REPLAY_QUERIES = 8192  # about 7 explanations' queries
SETTINGS = {"min_box_size": 25, "tree_depth": 10, "search_limit": PUBLISHED_REX_SEARCH_LIMIT}


def reference_python(venv: Path) -> Path:
    """rex-xai's interpreter, creating its virtual environment on first use."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} for rex-xai (numpy 1.26.4 pin; about 1 min)", flush=True)
        subprocess.run([sys.executable if sys.version_info[:2] == (3, 11) else "python3.11", "-m", "venv", str(venv)],
                       check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(HERE / "rex-reference-requirements.txt")],
                       check=True)
    return python


def select(d, model, per_class: int):
    """The first ``per_class`` correctly classified test spectra of classes 0 and 1."""
    test = d.of_split("test")
    pred = predict(model, test.X).argmax(1)
    idx = np.concatenate([np.flatnonzero((test.y == c) & (pred == c))[:per_class] for c in (0, 1)])
    return test.subset(idx)


def run_ours(model, sub, iters: int, seed: int) -> dict:
    """One spectrum at a time (latency, as the reference runs), then all of them in one
    call (throughput, as the chapters run: every level's mutants of all spectra go to the
    model together). Both give the same maps (each input's draws are seeded alike)."""
    maps, seconds, queries, forward, degenerate = [], [], [], [], []
    # The first queries are kept to replay them through the bare model afterwards.
    recorder = Recorder(model, keep=REPLAY_QUERIES)
    for i in range(len(sub.y)):
        rex = ReX(recorder, iters=iters, occlusion="interp_gaussian", seed=seed, on_degenerate="flag", **SETTINGS)
        x, y = torch.as_tensor(sub.X[i : i + 1]), torch.tensor([int(sub.y[i])])
        t0 = time.perf_counter()
        e = rex.attribute(x, y)
        seconds.append(time.perf_counter() - t0)
        maps.append(e.maps[0, 0].numpy())
        queries.append(int(e.stats["queries"][0]))
        forward.append(e.forward_seconds)
        degenerate.append(bool(e.stats["degenerate"][0]))
    rex = ReX(model, iters=iters, occlusion="interp_gaussian", seed=seed, on_degenerate="flag", **SETTINGS)
    t0 = time.perf_counter()
    batched = rex.attribute(torch.as_tensor(sub.X), torch.as_tensor(sub.y.astype(np.int64))).maps
    batched_seconds = time.perf_counter() - t0
    # Equal unless a batched forward pass rounds a score differently enough to flip a mutant.
    same = [np.array_equal(b, m) for b, m in zip(batched[:, 0].numpy(), maps)]
    # The forward-pass limit: ReX's own queries (the first REPLAY_QUERIES of them) through the
    # bare model at its best batch size; and, for comparison, one spectrum repeated.
    per_query = float(replay_cost(model, recorder.inputs(), batches=BATCHES).ms_per_query.min()) / 1e3
    cost = forward_cost_by_batch(model, torch.as_tensor(sub.X[:1]), batches=BATCHES, repeats=3, min_queries=2048)
    per_query_repeated = float(cost.ms_per_query.min()) / 1e3
    return {"maps": np.stack(maps), "seconds": np.array(seconds), "queries": np.array(queries),
            "forward_limit_seconds": per_query * np.array(queries),
            "forward_limit_repeated_seconds": per_query_repeated * np.array(queries),
            "forward_seconds": np.array(forward), "degenerate": np.array(degenerate),
            "seconds_batched": batched_seconds / len(sub.y), "batched_same_maps": int(np.sum(same))}


def run_reference(python: Path, model, sub, iters: int, seed: int, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        torch.jit.trace(model, torch.as_tensor(sub.X[:1])).save(str(tmp / "model.pt"))
        np.savez(tmp / "inputs.npz", X=sub.X.astype(np.float32))
        request = {"model": str(tmp / "model.pt"), "inputs": str(tmp / "inputs.npz"), "output": str(tmp / "out.npz"),
                   "iters": iters, "seed": seed, "threads": threads, **SETTINGS}
        (tmp / "request.json").write_text(json.dumps(request))
        subprocess.run([str(python), str(HERE / "rex_reference_worker.py"), str(tmp / "request.json")], check=True)
        with np.load(tmp / "out.npz") as f:
            return {k: f[k] for k in f.files}


def summarise(name: str, impl: str, iters: int, sub, r: dict) -> dict:
    if not np.isfinite(r["maps"]).all():
        raise ValueError(f"{impl} returned non-finite maps on {name}")
    wins = [peak_windows(sub, i) for i in range(len(sub.y))]
    hits = [argmax_hit(a, w) for a, w in zip(r["maps"], wins)]
    return {"dataset": name, "implementation": impl, "iters": iters, "n": len(sub.y),
            "seconds_median": float(np.median(r["seconds"])), "queries_median": float(np.median(r["queries"])),
            "hit_rate": float(np.nanmean(hits)), "mean_peaks": float(count_peaks(r["maps"]).mean()),
            "forward_share": float(np.sum(r["forward_seconds"]) / np.sum(r["seconds"])),
            "seconds_batched": float(r.get("seconds_batched", np.nan)),
            **{k: float(np.median(r[k])) if k in r else np.nan
               for k in ("forward_limit_seconds", "forward_limit_repeated_seconds")},
            "degenerate": int(np.sum(r["degenerate"])) if "degenerate" in r else np.nan,
            "batched_same_maps": r.get("batched_same_maps", np.nan)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="full", choices=["full", "smoke"])
    ap.add_argument("--per-class", type=int, default=20)
    ap.add_argument("--iters", type=int, default=PUBLISHED_REX_ITERS)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--venv", type=Path, default=ROOT / "_build" / "rexxai")
    ap.add_argument("--out", type=Path, default=ROOT / "book" / "tables" / "bench_rex_vs_reference.csv")
    args = ap.parse_args(argv)
    if args.per_class < 1 or args.iters < 1:
        ap.error("--per-class and --iters must be at least 1")
    torch.set_num_threads(args.threads)
    data_dir = ROOT / "data" / args.profile / "raman"
    if not (data_dir / "models").exists():
        print(f"no trained Part I models under {data_dir}: run the Part I chapters first "
              f"(scripts/run_chapters.py --profile {args.profile} --only 01_ 02_)", file=sys.stderr)
        return 1
    python = reference_python(args.venv)
    rows = []
    for name in RAMAN_DATASETS:
        model = load_lrcn(data_dir / "models" / f"lrcn_{name}.pt").eval()
        sub = select(load_raman(data_dir / f"{name}.npz"), model, args.per_class)
        for impl, run in (("rexbench", lambda: run_ours(model, sub, args.iters, args.seed)),
                          ("rex-xai 0.4.1", lambda: run_reference(python, model, sub, args.iters, args.seed,
                                                                  args.threads))):
            rows.append(summarise(name, impl, args.iters, sub, run()))
            print(f"{name:10} {impl:14} done", flush=True)
    table = pd.DataFrame(rows)
    speed = table.pivot(index="dataset", columns="implementation", values="seconds_median")
    print(f"\nmachine: {machine(args.threads)}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print("\nspeed-up per explanation (reference / ours), one spectrum at a time:")
    print((speed["rex-xai 0.4.1"] / speed["rexbench"]).round(1).to_string())
    batched = table[table.implementation == "rexbench"].set_index("dataset").seconds_batched
    print("\nspeed-up per explanation, ours batched over all spectra:")
    print((speed["rex-xai 0.4.1"] / batched).round(1).to_string())
    ours = table[table.implementation == "rexbench"].set_index("dataset")
    print("\nours over its forward-pass limit (the same queries through the bare model, best batch), per explanation:")
    print((ours.seconds_median / ours.forward_limit_seconds).round(2).to_string())
    print("\nthe same, batched over all spectra:")
    print((ours.seconds_batched / ours.forward_limit_seconds).round(2).to_string())
    if not machine(args.threads)["malloc_tuned"]:
        print("\nnote: started without rexbench.compendium.bench.MALLOC_ENV (run it through `make bench`)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_table(table, args.out)
    atomic_write_text(args.out.with_suffix(".machine.json"), json.dumps(machine(args.threads), indent=2))
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
