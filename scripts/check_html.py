"""Check the built book as a reader would get it, without a browser (part of ``make test``).

    python scripts/check_html.py _build/smoke/_build/html _build/smoke/book

Fails (exit 1, one line per problem) if

* a chapter page shows fewer figures than its executed notebook saves (glued PNGs), or a
  saved figure is never placed in the text (``{glue:figure}``);
* a code cell of a chapter is not folded (tag ``hide-input``) or its parameters are shown raw;
* any page has a stderr block, widget state, or a path of the machine that built it;
* any internal link or image points to a file, or an anchor, that is not in the site.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from rexbench.compendium.presentation import GLUE_PNG

# Absolute paths of a build machine (a relative "../.venv/bin/..." in an instruction is fine).
MACHINE_PATH = re.compile(r"((?<![\w.])/(?:work|root|tmp|opt|home/\w+)/|/usr/lib/python|site-packages|"
                          r"(?<![\w.])/(?:[\w.-]+/)*\.venv/|[A-Z]:\\Users)")
SKIP_PAGES = {"search.html", "genindex.html"}


class Page(HTMLParser):
    """Links, image sources, element ids and the classes of a page's main content."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links, self.images, self.ids, self.classes = [], [], set(), []
        self.in_main = 0
        self.main_images = 0
        self.text_in_main = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag in ("img", "script") and a.get("src"):
            (self.images if tag == "img" else self.links).append(a["src"])
        if tag == "link" and a.get("href"):
            self.links.append(a["href"])
        if tag == "main":
            self.in_main += 1
        if tag == "img" and self.in_main:
            self.main_images += 1
        if tag in ("script", "style"):
            self._skip += 1
        if "class" in a:
            self.classes.append(a["class"])

    def handle_endtag(self, tag):
        if tag == "main":
            self.in_main -= 1
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data):
        if self.in_main and not self._skip:
            self.text_in_main.append(data)


def parse(path: Path) -> Page:
    p = Page()
    p.feed(path.read_text(errors="replace"))
    return p


def notebook_checks(nb_path: Path) -> tuple[int, list[str]]:
    """Saved figures of an executed chapter, and problems found in the notebook itself."""
    nb = json.loads(nb_path.read_text())
    problems, glued, shown = [], [], 0
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        tags = set(cell.get("metadata", {}).get("tags", []))
        if not tags & {"hide-input", "remove-input", "remove-cell", "hide-cell"}:
            problems.append(f"{nb_path.name}: code cell {i} is not folded (no hide-input tag)")
        if tags & {"parameters", "injected-parameters"} and "remove-cell" not in tags:
            problems.append(f"{nb_path.name}: parameters cell {i} is shown raw (no remove-cell tag)")
        for out in cell.get("outputs", []):
            if GLUE_PNG in out.get("data", {}):
                glued.append(out["metadata"]["scrapbook"]["name"])
            elif "image/png" in out.get("data", {}) and "remove-cell" not in tags:
                shown += 1  # an image the page shows as a cell output
    for key in glued:
        if not re.search(r"\{glue:figure\}\s+" + re.escape(key) + r"\s*$", markdown, re.M):
            problems.append(f"{nb_path.name}: figure {key!r} is saved but never shown ({{glue:figure}} {key})")
    return len(glued) + shown, problems


def check(html: Path, book: Path) -> list[str]:
    problems = []
    pages = [p for p in sorted(html.rglob("*.html"))
             if p.name not in SKIP_PAGES and not {"_static", "_sources", "_downloads"} & set(p.relative_to(html).parts)]
    if not pages:
        return [f"no HTML pages under {html}"]
    parsed = {p.resolve(): parse(p) for p in pages}
    for page, info in parsed.items():
        rel = page.relative_to(html.resolve())
        raw = page.read_text(errors="replace")
        if re.search(r'class="[^"]*\boutput stderr\b', raw):
            problems.append(f"{rel}: shows a stderr block")
        if "application/vnd.jupyter.widget" in raw:
            problems.append(f"{rel}: contains widget state")
        text = "".join(info.text_in_main)
        for m in set(MACHINE_PATH.findall(text)):
            problems.append(f"{rel}: shows a machine path ({m!r})")
        for ref in info.links + info.images:
            parts = urlsplit(ref)
            if parts.scheme or ref.startswith(("//", "mailto:", "data:", "javascript:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.exists():
                problems.append(f"{rel}: broken link {ref!r}")
            elif parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else parse(target).ids
                if unquote(parts.fragment) not in ids:
                    problems.append(f"{rel}: link {ref!r} points to a missing anchor")
        nb_path = book / (page.stem + ".ipynb")
        if nb_path.exists():
            n_saved, nb_problems = notebook_checks(nb_path)
            problems += nb_problems
            if info.main_images < n_saved:
                problems.append(f"{rel}: shows {info.main_images} images but its notebook saves {n_saved} figures")
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("html", type=Path, help="the built site (…/_build/html)")
    ap.add_argument("book", type=Path, help="the executed chapters (book/ or _build/smoke/book)")
    args = ap.parse_args(argv)
    problems = check(args.html, args.book)
    for p in problems:
        print(p)
    n = len([p for p in args.html.rglob("*.html")])
    print(f"check_html: {n} pages, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
