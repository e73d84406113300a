"""How chapters show tables and figures, how executed notebooks are prepared for the book,
and the checks of the built site (issue 14)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from helpers import ROOT  # noqa: E402
from rexbench.compendium.chapter import Outputs, format_value, show_table  # noqa: E402
from rexbench.compendium.presentation import parameter_defaults, present  # noqa: E402


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# --- tables -------------------------------------------------------------------------------

def test_format_value_rules():
    assert format_value(np.nan) == "n/a"
    assert format_value(None, na="-") == "-"
    assert format_value(np.int64(500)) == "500"
    assert format_value(500.0, integer=True) == "500"
    assert format_value(0.123456, digits=3) == "0.123"
    assert format_value(3.2e-7, pvalue=True) == "3.2e-07"
    assert format_value(True) == "yes"


def test_show_table_formats_columns_and_links_its_csv():
    df = pd.DataFrame({"dataset": ["single", "double"], "n": [20.0, 20.0], "mean_peaks": [2.25, np.nan],
                       "p_holm": [1e-5, 0.5], "seconds_per_explanation": [0.5, 1.25], "accuracy": [1.0, 1.0]})
    t = show_table(df.set_index("dataset"), "Peak counts.", file="raman_peak_counts")
    md = t._repr_markdown_()
    assert md.startswith("~~~{list-table} Peak counts. {download}`raman_peak_counts.csv <tables/raman_peak_counts.csv>`")
    assert ":name: tbl-raman-peak-counts" in md and ":stub-columns: 1" in md
    rows = [line for line in md.splitlines() if line.startswith(("* -", "  -"))]
    header, first, second = rows[:6], rows[6:12], rows[12:18]
    assert header[4] == "  - seconds\\_per\\_explanation (s)"  # unit added, underscores escaped
    assert first == ["* - single", "  - 20", "  - 2.250", "  - 1.0e-05", "  - 0.500", "  - 1.000"]
    assert second[2] == "  - n/a"  # not applicable, not NaN
    assert "2.250" in repr(t) and "n/a" in repr(t)  # nbval compares the plain text


def test_show_table_escapes_markup_and_keeps_multiindex_labels():
    df = pd.DataFrame({"a*b": ["x|y"], "c": [1]}, index=pd.MultiIndex.from_tuples([("m", 0)], names=["method", "k"]))
    md = show_table(df, "Caption.", name="tbl-x").markdown
    assert ":stub-columns: 2" in md and ":name: tbl-x" in md
    assert "  - a\\*b" in md and "  - x\\|y" in md


def test_outputs_show_table_needs_the_saved_csv(tmp_path):
    out = Outputs.make(str(tmp_path / "book"), str(tmp_path / "data"))
    df = pd.DataFrame({"a": [1]})
    with pytest.raises(FileNotFoundError, match="table 'missing'.*save it first"):
        out.show_table(df, "Caption.", file="missing")
    out.save_table(df, "present")
    assert "tables/present.csv" in out.show_table(df, "Caption.", file="present").markdown


def test_save_figure_writes_png_closes_figure_and_returns_nothing(tmp_path):
    out = Outputs.make(str(tmp_path / "book"), str(tmp_path / "data"))
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    assert out.save_figure(fig, "f") is None
    assert (out.figures / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)


# --- executed notebooks prepared for the book -----------------------------------------------

def _nb(tmp_path):
    cells = [
        {"cell_type": "markdown", "id": "a", "metadata": {}, "source": "# Title\n\n## Overview\nText."},
        {"cell_type": "code", "id": "b", "metadata": {"tags": ["parameters"]}, "execution_count": 1, "outputs": [],
         "source": 'profile = "smoke"\nn = 2              # spectra per class; full: 100\nrate = 0.5\n'},
        {"cell_type": "code", "id": "c", "metadata": {"tags": ["injected-parameters"]}, "execution_count": 2,
         "outputs": [], "source": "n = 100\n"},
        {"cell_type": "code", "id": "d", "metadata": {}, "execution_count": 3, "source": "x = 1",
         "outputs": [{"output_type": "stream", "name": "stderr", "text": "UserWarning: at /work/x/site-packages\n"},
                     {"output_type": "stream", "name": "stdout", "text": "kept\n"},
                     {"output_type": "display_data", "metadata": {},
                      "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "m"}, "text/plain": "bar"}}]},
    ]
    path = tmp_path / "ch.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {"widgets": {"state": {}}}, "nbformat": 4,
                                "nbformat_minor": 5}))
    return path


def test_parameter_defaults_reads_values_and_comments():
    d = parameter_defaults('a = 1  # one\nb = "x"\nc = [1, 2]  # list\n')
    assert d == {"a": (1, "one"), "b": ("x", ""), "c": ([1, 2], "list")}


def test_present_folds_code_moves_stderr_and_tables_parameters(tmp_path):
    path = _nb(tmp_path)
    log = tmp_path / "logs" / "ch.log"
    moved = present(path, {"profile": "full", "n": 100, "book_dir": "../book"}, "full", log=log)
    assert moved == {"stderr": 1, "widgets": 1}
    assert "UserWarning" in log.read_text()
    nb = json.loads(path.read_text())
    assert "widgets" not in nb["metadata"]
    cells = nb["cells"]
    assert cells[1]["id"] == "rexbench-parameters"  # right under the overview
    table = cells[1]["source"]
    # the comment's "full: 100" would contradict the run's own value: dropped
    assert "* - n\n  - 100\n  - 2\n  - spectra per class\n" in table
    assert "* - book\\_dir\n  - '../book'\n  - n/a" in table  # set by the runner, no notebook default
    by_id = {c["id"]: c for c in cells}
    assert "remove-cell" in by_id["b"]["metadata"]["tags"] and "remove-cell" in by_id["c"]["metadata"]["tags"]
    assert by_id["d"]["metadata"]["tags"] == ["hide-input"]
    assert [o.get("text") for o in by_id["d"]["outputs"]] == ["kept\n"]
    present(path, {"profile": "full"}, "full")  # idempotent: one parameter table
    assert sum(c["id"] == "rexbench-parameters" for c in json.loads(path.read_text())["cells"]) == 1


def test_present_adds_each_glued_figure_as_an_image_for_notebook_viewers(tmp_path):
    glued = {"output_type": "display_data", "metadata": {"scrapbook": {"name": "f_a"}},
             "data": {"application/papermill.record/image/png": "iVBOR"}}
    cells = [{"cell_type": "markdown", "id": "t", "metadata": {}, "source": "# T"},
             {"cell_type": "code", "id": "c", "metadata": {}, "execution_count": 1, "source": "plot()", "outputs": [glued]},
             {"cell_type": "markdown", "id": "m", "metadata": {},
              "source": "Before.\n\n```{glue:figure} f_a\n:name: fig-a\n\nLook at {numref}`x`.\n```\n\nAfter."}]
    path = tmp_path / "ch.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    present(path, {}, "smoke")
    present(path, {}, "smoke")  # idempotent
    out = json.loads(path.read_text())["cells"]
    assert [c.get("id") for c in out] == ["t", "rexbench-parameters", "c", "m", "figure-f_a"]
    assert out[2]["outputs"] == [glued]  # the book's numbered figure still comes from the glue
    fig = out[4]
    assert fig["outputs"][0]["data"]["image/png"] == "iVBOR" and fig["metadata"]["tags"] == ["remove-cell"]


# --- checks of the built site ---------------------------------------------------------------

def _site(tmp_path, body, markdown="```{glue:figure} fig_a\n:name: fig-a\n\nCaption.\n```"):
    html, book = tmp_path / "html", tmp_path / "book"
    (html / "book").mkdir(parents=True)
    book.mkdir()
    (html / "book" / "other.html").write_text('<html><body><main><p id="here">x</p></main></body></html>')
    (html / "book" / "ch.html").write_text(f"<html><body><main>{body}</main></body></html>")
    glued = {"output_type": "display_data", "metadata": {"scrapbook": {"name": "fig_a"}},
             "data": {"application/papermill.record/image/png": "iVBOR"}}
    cells = [{"cell_type": "markdown", "metadata": {}, "source": markdown},
             {"cell_type": "code", "metadata": {"tags": ["hide-input"]}, "outputs": [glued], "source": ""}]
    (book / "ch.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}}))
    return html, book


def test_check_html_passes_a_clean_page(tmp_path):
    check = _script("check_html").check
    html, book = _site(tmp_path, '<figure><img src="other.html"></figure><a href="other.html#here">ok</a>')
    assert check(html, book) == []


@pytest.mark.parametrize("body, expect", [
    ("<p>no image</p>", "shows 0 images but its notebook saves 1 figures"),
    ('<img src="x.png"><div class="output stderr">warn</div>', "stderr block"),
    ('<img src="x.png"><pre>/root/.venv/lib/python3.11/site-packages/captum</pre>', "machine path"),
    ('<img src="missing.png">', "broken link 'missing.png'"),
    ('<img src="other.html"><a href="other.html#gone">x</a>', "missing anchor"),
])
def test_check_html_finds_each_problem(tmp_path, body, expect):
    check = _script("check_html").check
    html, book = _site(tmp_path, body)
    if "x.png" in body:
        (html / "book" / "x.png").write_bytes(b"png")
    problems = check(html, book)
    assert any(expect in p for p in problems), problems


def test_check_html_allows_relative_paths_in_instructions(tmp_path):
    check = _script("check_html").check
    html, book = _site(tmp_path, '<img src="other.html"><pre>cd notebooks; ../.venv/bin/papermill a.ipynb '
                                 '../_build/a.ipynb</pre>')
    assert check(html, book) == []


def test_check_html_finds_a_saved_figure_never_placed(tmp_path):
    check = _script("check_html").check
    html, book = _site(tmp_path, '<img src="other.html">', markdown="No figure directive here.")
    assert any("figure 'fig_a' is saved but never shown" in p for p in check(html, book))


def test_browser_check_ignores_only_the_known_harmless_messages():
    errors_of = _script("browser_check").errors_of
    events = [
        {"method": "Runtime.exceptionThrown", "params": {"exceptionDetails": {
            "exception": {"description": "SyntaxError: Identifier 'THEBE_JS_URL' has already been declared"}}}},
        {"method": "Runtime.exceptionThrown", "params": {"exceptionDetails": {
            "exception": {"description": "TypeError: x is undefined"}}}},
        {"method": "Log.entryAdded", "params": {"entry": {"level": "error", "text": "404", "url": "/favicon.ico"}}},
        {"method": "Runtime.consoleAPICalled", "params": {"type": "log", "args": [{"value": "fine"}]}},
    ]
    assert errors_of(events) == ["TypeError: x is undefined"]


def test_placed_figure_cells_are_recognised_and_nothing_else():
    from rexbench.compendium.presentation import _figure_cell, is_placed_figure

    assert is_placed_figure(_figure_cell("raman_confusion", "iVBORw0KGgo="))
    assert not is_placed_figure({"cell_type": "code", "id": "figure-x", "source": "plot()", "outputs": []})
    assert not is_placed_figure({"cell_type": "markdown", "id": "figure-x", "source": ""})
