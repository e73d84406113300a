"""Execute every notebook of notebooks/ in order with papermill, for one profile.

    python scripts/run_chapters.py --profile full    # writes executed notebooks to book/
    python scripts/run_chapters.py --profile smoke   # writes them to _build/smoke/book/

The smoke profile uses each notebook's own parameter defaults; the full profile adds
params/<notebook>.yaml. Both set ``data_dir`` and ``book_dir``. Prints each chapter's
name and duration; on a failing cell, stops with the chapter's name and the cell, keeps
the executed copy for inspection and leaves earlier chapters' outputs intact.

Incremental: a chapter is executed only if its notebook, parameters, the library, the lock
file or the data registry changed since its last run, if its outputs are missing or were
changed, or if a chapter it reads from ran after it (``rexbench.compendium.runner``); ``--force``
executes every selected chapter.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import papermill as pm
import yaml

from rexbench.compendium.bench import MALLOC_ENV
from rexbench.compendium.runner import (ABOUT_FROM, chapter_number, code_fingerprint, extra_inputs, fingerprint,
                                        owned_files, parts_from_toc, stamp_path, why_run, write_stamp)
from rexbench.compendium.presentation import present

ROOT = Path(__file__).resolve().parents[1]
PROFILES = {
    "full": {"book_dir": "../book", "data_dir": "../data/full"},
    "smoke": {"book_dir": "../_build/smoke/book", "data_dir": "../data/smoke"},
}
STATIC = ["_config.yml", "_toc.yml"]  # copied with book/*.md for the smoke book


def chapter_params(nb: Path, profile: str) -> dict:
    params = {}
    if profile == "full":
        pfile = ROOT / "params" / f"{nb.stem}.yaml"
        if pfile.exists():
            params.update(yaml.safe_load(pfile.read_text()) or {})
    params.update(PROFILES[profile])
    params["profile"] = profile
    return params


def prepare_smoke_book() -> None:
    """The smoke book is a copy of the book's sources beside the smoke outputs."""
    dst = ROOT / "_build" / "smoke"
    (dst / "book").mkdir(parents=True, exist_ok=True)
    for name in STATIC:
        shutil.copy2(ROOT / name, dst / name)
    shutil.copytree(ROOT / "_static", dst / "_static", dirs_exist_ok=True)
    # The benchmark tables are committed inputs of the Performance page (and downloads on it).
    (dst / "book" / "tables").mkdir(parents=True, exist_ok=True)
    for table in (ROOT / "book" / "tables").glob("bench_*"):
        shutil.copy2(table, dst / "book" / "tables" / table.name)
    for page in (ROOT / "book").glob("*.md"):
        shutil.copy2(page, dst / "book" / page.name)
    for extra in ("references.bib",):
        if (ROOT / extra).exists():
            shutil.copy2(ROOT / extra, dst / extra)


def chains(notebooks: list[Path], parts: list[list[str]]) -> list[list[Path]]:
    """Split ``notebooks`` into chains that may run side by side: one per part of the book,
    in order, and last the pages about the book (they read every chapter), each alone.
    (A notebook outside the table of contents cannot run: ``why_run`` refuses it.)"""
    chained, about = [], []
    for part in parts:
        chain = [nb for nb in notebooks if nb.stem in part]
        if chain and chapter_number(chain[0].stem) >= ABOUT_FROM:
            about += [[nb] for nb in chain]
        elif chain:
            chained.append(chain)
    return chained + about


def run(notebooks: list[Path], profile: str, params_for, out_dir: Path, data_dir: Path, parts: list[list[str]],
        code: str, cwd: Path, force: bool = False, mark_only: bool = False, jobs: int = 1) -> int:
    """Execute ``notebooks`` in order (those not up to date, or all with ``force``).

    Each chapter is executed into ``_build/executing/`` and moved into ``out_dir`` only when
    it succeeded, so a killed or failing run never leaves a half-executed chapter in the
    book; a failing chapter stops the run, naming the chapter and the cell, and its
    executed copy is kept under ``_build/failed/`` for inspection.

    With ``jobs`` > 1, the parts of the book (which read nothing of each other) run side by
    side, each in order, on up to ``jobs`` threads; the pages about the book run after all
    of them. A failure lets the chapters already running finish and starts no other."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch, failed = ROOT / "_build" / "executing" / profile, ROOT / "_build" / "failed" / profile
    done: list[float] = []
    stop = threading.Event()

    def one(nb: Path) -> bool:
        params = params_for(nb)
        out = out_dir / nb.name
        fp = fingerprint(nb, params, code, extra_inputs(nb.stem, ROOT))
        if mark_only:
            if not out.exists():
                print(f"[{profile}] chapter {nb.stem}: no executed notebook to mark", file=sys.stderr)
                return False
            write_stamp(data_dir, nb.stem, fp, out, owned_files(nb.stem, data_dir, [], time.time()), ROOT)
            print(f"[{profile}] chapter {nb.stem}: marked up to date", flush=True)
            return True
        reason = "--force" if force else why_run(nb.stem, fp, data_dir, out, ROOT, parts)
        if reason is None:
            print(f"[{profile}] chapter {nb.stem}: up to date", flush=True)
            return True
        print(f"[{profile}] chapter {nb.stem}: running ({reason})", flush=True)
        stamp_path(data_dir, nb.stem).unlink(missing_ok=True)  # not up to date until it succeeds
        scratch.mkdir(parents=True, exist_ok=True)
        running = scratch / nb.name
        started = time.time()
        t0 = time.perf_counter()
        try:
            # The kernel's working directory goes to the kernel's own process (nbclient's
            # resources path), not through papermill's cwd=, which os.chdir()s this whole
            # process: with two chapters on two threads, one's chdir back could start the
            # other's kernel in the wrong folder (its relative data paths then miss).
            pm.execute_notebook(str(nb), str(running), parameters=params, kernel_name="python3",
                                resources={"metadata": {"path": str(cwd)}}, progress_bar=False, log_output=False)
        except pm.PapermillExecutionError as err:
            failed.mkdir(parents=True, exist_ok=True)
            kept = failed / nb.name
            os.replace(running, kept)
            print(f"[{profile}] chapter {nb.stem} FAILED in cell {err.exec_count} ({err.ename}: {err.evalue}); "
                  f"the executed copy is kept at {kept}; {out.name} in the book is left as it was",
                  file=sys.stderr, flush=True)
            return False
        # Readers see results and prose: parameters as a table, code folded, stderr in a log.
        moved = present(running, params, profile, log=ROOT / "_build" / "logs" / profile / f"{nb.stem}.log")
        os.replace(running, out)
        dt = time.perf_counter() - t0
        if moved["stderr"]:
            print(f"[{profile}] chapter {nb.stem}: {moved['stderr']} stderr outputs moved to _build/logs/{profile}/",
                  flush=True)
        done.append(dt)
        files = owned_files(nb.stem, data_dir, [data_dir, out_dir / "tables", out_dir / "figures"], started)
        write_stamp(data_dir, nb.stem, fp, out, files, ROOT)
        print(f"[{profile}] chapter {nb.stem}: done in {dt:.1f} s", flush=True)
        return True

    def chain(nbs: list[Path]) -> None:
        for nb in nbs:
            if stop.is_set() or not one(nb):
                stop.set()
                return

    groups = chains(notebooks, parts) if jobs > 1 else [notebooks]
    after = [g for g in groups if chapter_number(g[0].stem) >= ABOUT_FROM]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        # The longest chains first, so that the last one to start is a short one.
        side_by_side = sorted((g for g in groups if g not in after), key=len, reverse=True)
        for future in [pool.submit(chain, g) for g in side_by_side]:
            future.result()
    for g in after:
        chain(g)
    if stop.is_set():
        return 1
    if not mark_only:
        print(f"[{profile}] {len(done)} of {len(notebooks)} chapters executed in {sum(done):.1f} s", flush=True)
    return 0


def main(argv=None) -> int:
    # The chapters' kernels inherit this environment: glibc settings that only change speed.
    for k, v in MALLOC_ENV.items():
        os.environ.setdefault(k, v)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="smoke")
    ap.add_argument("--only", nargs="*", help="run only notebooks whose name contains one of these")
    ap.add_argument("--force", action="store_true", help="execute the chapters even if they are up to date")
    ap.add_argument("--mark-up-to-date", action="store_true",
                    help="execute nothing: stamp the selected chapters' executed notebooks as up to date "
                         "(like `make -t`; for notebooks known to be current, e.g. after moving the repository)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="run the book's parts side by side on this many threads (default 1: in order)")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        ap.error(f"--jobs must be at least 1, got {args.jobs}")

    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        notebooks = [nb for nb in notebooks if any(s in nb.name for s in args.only)]
    if args.profile == "smoke":
        prepare_smoke_book()
    out_dir = (ROOT / "notebooks" / PROFILES[args.profile]["book_dir"]).resolve()
    data_dir = (ROOT / "notebooks" / PROFILES[args.profile]["data_dir"]).resolve()
    return run(notebooks, args.profile, lambda nb: chapter_params(nb, args.profile), out_dir, data_dir,
               parts_from_toc(ROOT / "_toc.yml"), code_fingerprint(ROOT), ROOT / "notebooks", force=args.force,
               mark_only=args.mark_up_to_date, jobs=args.jobs)


if __name__ == "__main__":
    sys.exit(main())
