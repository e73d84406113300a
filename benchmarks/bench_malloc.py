"""What glibc's allocator costs ReX: the same explanations with malloc's defaults and with
``rexbench.compendium.bench.MALLOC_ENV`` (freed blocks kept in the heap).

    .venv/bin/python benchmarks/bench_malloc.py [--profile full] [--repeats 2]

Each setting runs in a fresh Python process (the allocator reads its settings at start-up),
alternating, ``--repeats`` times: ReX at the chapters' settings on the first 4 correctly
classified class-0/1 test spectra of the single-peak set (the LRCN), one at a time, and on
the first positive test volume (the 3D CNN, occlusion 0). Prints wall, system (page
faults) and forward-pass seconds per explanation, the speed-up, and checks that the maps
are identical; writes ``book/tables/bench_malloc.csv``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from rexbench.compendium.artifacts import atomic_write_text, write_table
from rexbench.compendium.bench import MALLOC_ENV, machine

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
import numpy as np, torch
from rexbench.data.raman import load as load_raman
from rexbench.data.stroke import load as load_stroke
from rexbench.explain import ReX
from rexbench.models import load_cnn3d, load_lrcn
from rexbench.training import predict

folder, out = sys.argv[1], sys.argv[2]
torch.set_num_threads(2)
cases = []
d = load_raman(f"{folder}/raman/single.npz").of_split("test")
lrcn = load_lrcn(f"{folder}/raman/models/lrcn_single.pt").eval()
pred = predict(lrcn, d.X).argmax(1)
idx = np.concatenate([np.flatnonzero((d.y == c) & (pred == c))[:2] for c in (0, 1)])
cases.append(("LRCN, single-peak spectra", lrcn, [(d.X[i:i + 1], int(d.y[i])) for i in idx],
              dict(iters=20, min_box_size=25, occlusion="interp_gaussian")))
v = load_stroke(f"{folder}/stroke/volumes.npz").of_split("test")
cnn = load_cnn3d(f"{folder}/stroke/models/cnn3d.pt")
pos = np.flatnonzero((v.y == 1) & (predict(cnn, v.X, batch=32).argmax(1) == 1))[:1]
cases.append(("3D CNN, one volume", cnn, [(v.X[pos], 1)], dict(iters=20, min_box_size=3, occlusion="zero",
                                                              max_batch_size=16)))
rows, maps = [], {}
for name, model, items, settings in cases:
    rex = ReX(model, seed=0, on_degenerate="flag", **settings)
    rex.attribute(torch.as_tensor(items[0][0]), items[0][1])  # warm-up
    wall = sys_s = fwd = 0.0
    for k, (x, t) in enumerate(items):
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        e = rex.attribute(torch.as_tensor(x), t)
        wall += time.perf_counter() - t0
        sys_s += resource.getrusage(resource.RUSAGE_SELF).ru_stime - r0.ru_stime
        fwd += e.forward_seconds
        maps[f"{name}/{k}"] = e.maps.numpy()
    n = len(items)
    rows.append({"model": name, "n": n, "seconds": wall / n, "system_seconds": sys_s / n, "forward_seconds": fwd / n})
np.savez(out + ".npz", **{k.replace("/", "|"): m for k, m in maps.items()})
json.dump(rows, open(out + ".json", "w"))
"""


def run(setting: str, folder: Path, tmp: Path, k: int) -> tuple[list, dict]:
    env = {key: val for key, val in os.environ.items() if key not in MALLOC_ENV}
    if setting == "tuned":
        env.update(MALLOC_ENV)
    out = tmp / f"{setting}_{k}"
    subprocess.run([sys.executable, "-c", CHILD, str(folder), str(out)], env=env, check=True,
                   stderr=subprocess.DEVNULL)
    with np.load(f"{out}.npz") as f:
        maps = {key: f[key] for key in f.files}
    return json.loads(Path(f"{out}.json").read_text()), maps


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="full", choices=["full", "smoke"])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "book" / "tables" / "bench_malloc.csv")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    folder = ROOT / "data" / args.profile
    if not (folder / "raman" / "models").exists() or not (folder / "stroke" / "models").exists():
        print(f"no Part I and II models under {folder}: run the chapters first (`make book`)", file=sys.stderr)
        return 1
    rows, first = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeats):
            for setting in ("glibc default", "tuned"):
                result, maps = run(setting, folder, Path(tmp), k)
                rows += [{"setting": setting, "repeat": k, **r} for r in result]
                first.setdefault(setting, maps)
    same = all(np.array_equal(first["glibc default"][key], first["tuned"][key]) for key in first["tuned"])
    table = (pd.DataFrame(rows).groupby(["model", "setting"], sort=False)
             [["n", "seconds", "system_seconds", "forward_seconds"]].median().reset_index())
    table["same_maps"] = same
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    wide = table.pivot(index="model", columns="setting", values="seconds")
    print("\nspeed-up of ReX per explanation (glibc default / tuned):")
    print((wide["glibc default"] / wide["tuned"]).round(2).to_string())
    print(f"maps identical under both settings: {same}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_table(table, args.out)
    atomic_write_text(args.out.with_suffix(".machine.json"), json.dumps(machine(2), indent=2))
    print(f"\nwritten: {args.out}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
