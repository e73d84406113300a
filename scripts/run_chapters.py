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
import time
from pathlib import Path

import papermill as pm
import yaml

from rexbench.compendium.runner import (code_fingerprint, extra_inputs, fingerprint, owned_files, parts_from_toc, stamp_path,
                               why_run, write_stamp)
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


def run(notebooks: list[Path], profile: str, params_for, out_dir: Path, data_dir: Path, parts: list[list[str]],
        code: str, cwd: Path, force: bool = False, mark_only: bool = False) -> int:
    """Execute ``notebooks`` in order (those not up to date, or all with ``force``).

    Each chapter is executed into ``_build/executing/`` and moved into ``out_dir`` only when
    it succeeded, so a killed or failing run never leaves a half-executed chapter in the
    book; a failing chapter stops the run, naming the chapter and the cell, and its
    executed copy is kept under ``_build/failed/`` for inspection."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch, failed = ROOT / "_build" / "executing" / profile, ROOT / "_build" / "failed" / profile
    total, ran = 0.0, 0
    for nb in notebooks:
        params = params_for(nb)
        out = out_dir / nb.name
        fp = fingerprint(nb, params, code, extra_inputs(nb.stem, ROOT))
        if mark_only:
            if not out.exists():
                print(f"[{profile}] chapter {nb.stem}: no executed notebook to mark", file=sys.stderr)
                return 1
            write_stamp(data_dir, nb.stem, fp, out, owned_files(nb.stem, data_dir, [], time.time()), ROOT)
            print(f"[{profile}] chapter {nb.stem}: marked up to date", flush=True)
            continue
        reason = "--force" if force else why_run(nb.stem, fp, data_dir, out, ROOT, parts)
        if reason is None:
            print(f"[{profile}] chapter {nb.stem}: up to date", flush=True)
            continue
        print(f"[{profile}] chapter {nb.stem}: running ({reason})", flush=True)
        stamp_path(data_dir, nb.stem).unlink(missing_ok=True)  # not up to date until it succeeds
        scratch.mkdir(parents=True, exist_ok=True)
        running = scratch / nb.name
        started = time.time()
        t0 = time.perf_counter()
        try:
            pm.execute_notebook(str(nb), str(running), parameters=params, kernel_name="python3", cwd=str(cwd),
                                progress_bar=False, log_output=False)
        except pm.PapermillExecutionError as err:
            failed.mkdir(parents=True, exist_ok=True)
            kept = failed / nb.name
            os.replace(running, kept)
            print(f"[{profile}] chapter {nb.stem} FAILED in cell {err.exec_count} ({err.ename}: {err.evalue}); "
                  f"the executed copy is kept at {kept}; {out.name} in the book is left as it was",
                  file=sys.stderr, flush=True)
            return 1
        # Readers see results and prose: parameters as a table, code folded, stderr in a log.
        moved = present(running, params, profile, log=ROOT / "_build" / "logs" / profile / f"{nb.stem}.log")
        os.replace(running, out)
        dt = time.perf_counter() - t0
        if moved["stderr"]:
            print(f"[{profile}] chapter {nb.stem}: {moved['stderr']} stderr outputs moved to _build/logs/{profile}/",
                  flush=True)
        total, ran = total + dt, ran + 1
        files = owned_files(nb.stem, data_dir, [data_dir, out_dir / "tables", out_dir / "figures"], started)
        write_stamp(data_dir, nb.stem, fp, out, files, ROOT)
        print(f"[{profile}] chapter {nb.stem}: done in {dt:.1f} s", flush=True)
    if not mark_only:
        print(f"[{profile}] {ran} of {len(notebooks)} chapters executed in {total:.1f} s", flush=True)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="smoke")
    ap.add_argument("--only", nargs="*", help="run only notebooks whose name contains one of these")
    ap.add_argument("--force", action="store_true", help="execute the chapters even if they are up to date")
    ap.add_argument("--mark-up-to-date", action="store_true",
                    help="execute nothing: stamp the selected chapters' executed notebooks as up to date "
                         "(like `make -t`; for notebooks known to be current, e.g. after moving the repository)")
    args = ap.parse_args(argv)

    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        notebooks = [nb for nb in notebooks if any(s in nb.name for s in args.only)]
    if args.profile == "smoke":
        prepare_smoke_book()
    out_dir = (ROOT / "notebooks" / PROFILES[args.profile]["book_dir"]).resolve()
    data_dir = (ROOT / "notebooks" / PROFILES[args.profile]["data_dir"]).resolve()
    return run(notebooks, args.profile, lambda nb: chapter_params(nb, args.profile), out_dir, data_dir,
               parts_from_toc(ROOT / "_toc.yml"), code_fingerprint(ROOT), ROOT / "notebooks", force=args.force,
               mark_only=args.mark_up_to_date)


if __name__ == "__main__":
    sys.exit(main())
