"""Compare a run's tables with a committed reference, byte for byte.

    python scripts/compare_tables.py tests/reference/smoke_tables _build/smoke/book/tables

Every reference CSV must exist in the run and be identical (the chapters write their
tables with fixed float formats and no wall times, so two runs give the same bytes); a
table the run wrote that the reference lacks is reported too. Exit status 1 on any
difference, naming the table and its first differing line.
"""
from __future__ import annotations

import sys
from pathlib import Path


def compare(ref: Path, run: Path) -> list[str]:
    problems = []
    refs = {p.name: p for p in sorted(ref.glob("*.csv"))}
    if not refs:
        return [f"no reference tables in {ref}"]
    runs = {p.name: p for p in sorted(run.glob("*.csv")) if not p.name.startswith("bench_")}
    for name, p in refs.items():
        if name not in runs:
            problems.append(f"{name}: in the reference, not written by this run")
            continue
        a, b = p.read_text().splitlines(), runs[name].read_text().splitlines()
        if a != b:
            line = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            problems.append(f"{name}: differs from the reference at line {line + 1}: "
                            f"{(a[line] if line < len(a) else '<end>')!r} vs {(b[line] if line < len(b) else '<end>')!r}")
    for name in sorted(set(runs) - set(refs)):
        problems.append(f"{name}: written by this run, not in the reference (make smoke-reference)")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    problems = compare(Path(argv[0]), Path(argv[1]))
    for p in problems:
        print(f"compare_tables: {p}", file=sys.stderr)
    if not problems:
        print(f"compare_tables: {len(list(Path(argv[0]).glob('*.csv')))} tables identical to the reference")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
