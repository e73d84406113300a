#!/usr/bin/env bash
# Preview some smoke chapters as the book shows them, in a private folder (for authors):
#   scripts/preview.sh NAME 03_raman_explanations [04_raman_ablations ...]
# Executes the chapters on the smoke profile (their upstream chapters must have run once:
# `scripts/run_chapters.py --profile smoke`), builds them into _build/preview/NAME, runs the
# HTML check and takes screenshots into _build/preview/NAME/screenshots.
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1; shift
export REXBENCH_DATA_MIRROR=${REXBENCH_DATA_MIRROR:-$(realpath ../shared/data 2>/dev/null || echo)}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MPLBACKEND=Agg PYDEVD_DISABLE_FILE_VALIDATION=1
for ch in "$@"; do .venv/bin/python scripts/run_chapters.py --profile smoke --only "$ch" --force; done
dst=_build/preview/$name
rm -rf "$dst" && mkdir -p "$dst/book"
cp _config.yml "$dst/" && cp -r _static "$dst/"
cp -r _build/smoke/book/tables _build/smoke/book/figures "$dst/book/"
cp book/*.md "$dst/book/"
{ echo "format: jb-book"; echo "root: book/intro"; echo "chapters:"; } > "$dst/_toc.yml"
for ch in "$@"; do cp _build/smoke/book/$ch.ipynb "$dst/book/"; echo "  - file: book/$ch" >> "$dst/_toc.yml"; done
(cd "$dst" && ../../../.venv/bin/jupyter-book build --all -W -n --keep-going . 2>&1 | grep -E "WARNING|ERROR|build succeeded|finished" | grep -v "intro.md" || true)
.venv/bin/python scripts/check_html.py "$dst/_build/html" "$dst/book" || true
.venv/bin/python scripts/browser_check.py "$dst/_build/html" --screenshots "$dst/screenshots" || true
