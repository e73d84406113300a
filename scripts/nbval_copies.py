"""Copy executed chapters for the nbval pass, without the cells the chapter runner added
for readers (the figure images placed after each glued figure, see
``rexbench.compendium.presentation.place_figures``): they have outputs but no source,
which nbval reports as an unrun cell.

    python scripts/nbval_copies.py _build/smoke/book _build/nbval/notebooks
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from rexbench.compendium.presentation import is_placed_figure


def main(src: str, dst: str) -> int:
    out = Path(dst)
    out.mkdir(parents=True, exist_ok=True)
    paths = sorted(Path(src).glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        print(f"nbval_copies: no executed chapters in {src}", file=sys.stderr)
        return 1
    for path in paths:
        nb = json.loads(path.read_text())
        nb["cells"] = [c for c in nb["cells"] if not is_placed_figure(c)]
        (out / path.name).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    print(f"nbval_copies: {len(paths)} chapters copied to {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]) if len(sys.argv) == 3 else (print(__doc__, file=sys.stderr) or 2))
