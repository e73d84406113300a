"""Record what each chapter took in a from-scratch run of the full book.

    .venv/bin/python benchmarks/record_from_scratch.py BOOK_DIR [--out book/tables/bench_from_scratch.csv]

``BOOK_DIR`` holds the executed chapters of a run that computed every artifact (for example
``scripts/run_chapters.py --profile full --force`` with an empty ``data/full/``). Their
papermill metadata give each chapter's start and duration; the table (chapter, start,
duration_s) and the machine beside it (JSON) go to ``--out``, which the Performance chapter
shows against the 45-minute aim. Chapters re-executed later from their artifacts are much
faster, so the book's own chapter durations do not say what a fresh build costs.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from rexbench.compendium.artifacts import atomic_write_text, write_table
from rexbench.compendium.bench import chapter_durations, machine

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("book_dir", type=Path)
    ap.add_argument("--out", type=Path, default=ROOT / "book" / "tables" / "bench_from_scratch.csv")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    table = chapter_durations(args.book_dir)
    if table.empty:
        print(f"no executed chapters in {args.book_dir}", file=sys.stderr)
        return 1
    unfinished = table[table.status != "ok"].chapter.tolist()
    if unfinished:
        print(f"chapters that did not finish in that run: {unfinished}", file=sys.stderr)
        return 1
    table = table.drop(columns="status").assign(duration_s=table.duration_s.round(1))
    write_table(table, args.out)
    info = machine(args.threads)
    # The build's own settings follow from its commit (the runner sets the allocator's
    # environment itself); this process's are beside the point.
    info.pop("malloc_tuned")
    git = subprocess.run(["git", "-C", str(args.book_dir), "rev-parse", "HEAD"], capture_output=True, text=True)
    info["commit"] = git.stdout.strip() if git.returncode == 0 else None
    atomic_write_text(args.out.with_suffix(".machine.json"), json.dumps(info, indent=2))
    print(table.to_string(index=False))
    print(f"\ntotal {table.duration_s.sum() / 60:.1f} min; written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
