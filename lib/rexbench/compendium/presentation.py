"""Make an executed chapter read well in the book (used by ``scripts/run_chapters.py``).

After papermill has run a chapter, :func:`present` rewrites the executed notebook for
readers, without changing a computed output:

* the ``parameters`` cell (the smoke defaults) and papermill's injected cell are removed
  from the page, and one small table of the parameters that produced it is shown under the
  chapter's overview, with each notebook default beside it;
* every other code cell is folded (``hide-input``): prose and results first, code a click away;
* stderr (library warnings, progress bars) and widget state are moved out of the page into
  a log file (``_build/logs/<profile>/<chapter>.log``), so no page shows a warning dump, a
  machine path from a traceback or a progress widget that renders blank offline;
* each figure a chapter glued and placed with a ``{glue:figure}`` directive (numbered, with
  its caption, in the book) is also given as a plain image output in a cell right after the
  directive, so that a notebook viewer (Jupyter, GitHub), which cannot render the directive,
  shows it too; the book leaves that cell out (``remove-cell``). (myst-nb's ``mystnb.figure``
  cell option would do both, but its figures cannot be cross-referenced with ``{numref}``.)
"""
from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .chapter import show_table

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
GLUE_PNG = "application/papermill.record/image/png"
GLUE_FIGURE = re.compile(r"```\{glue:figure\}[ \t]+(\S+)[ \t]*\n((?:[ \t]*:[\w-]+:[^\n]*\n)*)(.*?)\n```", re.S)
HIDDEN = {"remove-cell", "remove-input", "hide-input", "hide-cell"}


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def parameter_defaults(source: str) -> dict[str, tuple[Any, str]]:
    """``name -> (default, comment)`` of a parameters cell: literal assignments, each with the
    comment on its line (the notebooks document each parameter there).

    Parameters
    ----------
    source : str
        The Python source of the cell.

    Returns
    -------
    dict of str to tuple
        ``(default, comment)`` of each top-level assignment to one name (``x = ...``; not
        ``x: int = ...``, ``a = b = ...`` or ``a, b = ...``): the value, evaluated if it is a
        literal, else its source text; the comment on the assignment's first line without
        its ``#`` (``""`` if none).

    Raises
    ------
    SyntaxError
        If ``source`` is not valid Python.
    tokenize.TokenError
        If the tokenizer fails first, e.g. at an unclosed bracket.
    """
    comments = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                value = ast.unparse(node.value)
            out[node.targets[0].id] = (value, comments.get(node.lineno, ""))
    return out


# Comments name the full profile's value ("full: 100"); the table shows the run's own value,
# so that remark is dropped rather than left to contradict it.
FULL_NOTE = re.compile(r"[;,]?\s*\(?\bfull(?: profile)?:\s*[^;)]*\)?")


def _note(comment: str) -> str:
    return FULL_NOTE.sub("", comment).strip(" ;,")


def _show(v) -> str:
    return json.dumps(v) if not isinstance(v, str) else repr(v)


def parameter_cell(params: Mapping[str, Any], defaults: Mapping[str, tuple[Any, str]], profile: str) -> dict:
    """A markdown cell: the parameters of this run, the notebook's defaults beside them.

    Parameters
    ----------
    params : Mapping of str to object
        The parameters of this run.
    defaults : Mapping of str to tuple
        ``name -> (default, comment)`` of the notebook's parameters cell
        (:func:`parameter_defaults`).
    profile : str
        The run's profile, named in the caption.

    Returns
    -------
    dict
        A notebook cell (id and tag ``rexbench-parameters``) whose source is a table
        (:func:`~rexbench.compendium.chapter.show_table`) of the notebook's parameters in
        their order, then the run's others: the run's value (the default where the run does
        not set it), the default (``n/a`` where the notebook has none) and the comment without
        its note of the full profile's value. Values are shown as JSON, strings as Python
        literals.
    """
    import pandas as pd

    names = list(defaults) + [k for k in params if k not in defaults]
    rows = [{"parameter": name, "this run": _show(params.get(name, defaults.get(name, (None,))[0])),
             "notebook default": _show(defaults[name][0]) if name in defaults else "n/a",
             "meaning": _note(defaults.get(name, (None, ""))[1])} for name in names]
    table = show_table(pd.DataFrame(rows, columns=["parameter", "this run", "notebook default", "meaning"])
                       .set_index("parameter"),
                       f"Parameters of this run (profile `{profile}`). The notebook's defaults are the smoke profile; "
                       "rerun with your own values as the README shows.", css_class="rexbench-table rexbench-params")
    return {"cell_type": "markdown", "id": "rexbench-parameters", "metadata": {"tags": ["rexbench-parameters"]},
            "source": table.markdown}


def is_placed_figure(cell: dict) -> bool:
    """True for a figure cell :func:`place_figures` added: a code cell with no source whose
    id starts with ``figure-`` (its outputs are not checked).

    Parameters
    ----------
    cell : dict
        A notebook cell (nbformat JSON).

    Returns
    -------
    bool
        Whether it is such a cell.
    """
    return (cell.get("cell_type") == "code" and str(cell.get("id", "")).startswith("figure-")
            and not "".join(cell.get("source", "")).strip())


def _figure_cell(key: str, png: str) -> dict:
    """The figure as a plain image output, for notebook viewers; the book shows the glued copy."""
    return {"cell_type": "code", "id": f"figure-{key}"[:64], "execution_count": None, "source": "",
            "metadata": {"tags": ["remove-cell"]},
            "outputs": [{"output_type": "display_data", "metadata": {},
                         "data": {"image/png": png, "text/plain": f"<figure {key}>"}}]}


def place_figures(cells: list[dict]) -> list[dict]:
    """After each markdown cell that places glued figures (``{glue:figure}``), a cell with
    those figures as plain image outputs (see the module's docstring).

    Parameters
    ----------
    cells : list of dict
        An executed notebook's cells (nbformat JSON).

    Returns
    -------
    list of dict
        A new list of the same cells, without those whose id starts with ``figure-`` (made by
        an earlier pass), each markdown cell followed by one code cell per ``{glue:figure}``
        directive in it whose name some code cell glued as a PNG: id ``figure-<name>`` (cut
        to 64 characters), tag ``remove-cell``, no source, the PNG as its one output.
        Directives naming no glued PNG get no cell.
    """
    glued = {out["metadata"]["scrapbook"]["name"]: out["data"][GLUE_PNG]
             for cell in cells if cell["cell_type"] == "code" for out in cell.get("outputs", [])
             if GLUE_PNG in out.get("data", {})}
    placed = []
    for cell in cells:
        if cell.get("id", "").startswith("figure-"):
            continue  # idempotent: made by an earlier pass
        placed.append(cell)
        if cell["cell_type"] == "markdown":
            placed += [_figure_cell(m.group(1), glued[m.group(1)]) for m in GLUE_FIGURE.finditer(_source(cell))
                       if m.group(1) in glued]
    return placed


def _tags(cell) -> list[str]:
    return cell.setdefault("metadata", {}).setdefault("tags", [])


def present(path: str | Path, params: Mapping[str, Any], profile: str, log: str | Path | None = None) -> dict:
    """Rewrite the executed notebook at ``path`` for the book (see the module's docstring);
    return counts of what was moved to ``log``.

    The notebook is written back to ``path``. Running it again on its output replaces the
    parameter table and the figure cells rather than adding them twice.

    Parameters
    ----------
    path : str or pathlib.Path
        The executed notebook (nbformat JSON), rewritten in place.
    params : Mapping of str to object
        The parameters of the run, for the parameter table (:func:`parameter_cell`).
    profile : str
        The run's profile, named in the table's caption.
    log : str or pathlib.Path, optional
        File that receives the text of the removed stderr outputs (its folders are made, an
        existing file is overwritten); None (default) writes no log.

    Returns
    -------
    dict of str to int
        ``stderr``: stderr outputs removed; ``widgets``: widget outputs removed.
    """
    path = Path(path)
    nb = json.loads(path.read_text())
    cells = [c for c in nb["cells"] if c.get("id") != "rexbench-parameters"]  # idempotent
    removed = {"stderr": 0, "widgets": 0}
    logged = []
    defaults = {}
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        tags = _tags(cell)
        if "parameters" in tags:
            defaults = parameter_defaults(_source(cell))
        if "parameters" in tags or "injected-parameters" in tags:
            if "remove-cell" not in tags:
                tags.append("remove-cell")
            continue
        if not HIDDEN & set(tags):
            tags.append("hide-input")
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                removed["stderr"] += 1
                logged.append("".join(out["text"]) if isinstance(out["text"], list) else out["text"])
            elif WIDGET_MIME in out.get("data", {}):
                removed["widgets"] += 1
            else:
                kept.append(out)
        cell["outputs"] = kept
    nb.get("metadata", {}).pop("widgets", None)
    cells = place_figures(cells)
    # The parameter table goes under the chapter's first markdown cell (title and overview).
    first = next((i for i, c in enumerate(cells) if c["cell_type"] == "markdown"), -1)
    cells.insert(first + 1, parameter_cell(params, defaults, profile))
    nb["cells"] = cells
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    if log is not None:
        log = Path(log)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("".join(logged))
    return removed
