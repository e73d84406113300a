"""Incremental rebuilds (rexbench.compendium.runner): what makes a chapter re-execute."""
import json
import os
import time
from pathlib import Path

import pytest

from helpers import ROOT
from rexbench.compendium.runner import (code_fingerprint, extra_inputs, fingerprint, notebook_fingerprint, owned_files,
                                        parts_from_toc, source_digest, upstream, why_run, write_stamp)

PARTS = [["01_a", "02_b"], ["05_c", "06_d"], ["90_about"]]


def _notebook(path: Path, source: str) -> Path:
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": source, "outputs": [], "metadata": {}}],
                                "metadata": {"any": 1}, "nbformat": 4, "nbformat_minor": 5}))
    return path


@pytest.fixture
def project(tmp_path):
    (tmp_path / "lib" / "rexbench" / "data").mkdir(parents=True)
    (tmp_path / "lib" / "rexbench" / "core.py").write_text("x = 1\n")
    (tmp_path / "lib" / "rexbench" / "data" / "registry.txt").write_text("a 00\n")  # package data
    (tmp_path / "data").mkdir()
    (tmp_path / "requirements.lock").write_text("torch==2.13.0\n")
    (tmp_path / "book").mkdir()
    (tmp_path / "nb").mkdir()
    return tmp_path


def _run(project, stem, params=None, writes=()):
    """Pretend to execute chapter ``stem``: write its outputs and its stamp."""
    data = project / "data" / "full"
    data.mkdir(exist_ok=True)
    src = project / "nb" / f"{stem}.ipynb"
    if not src.exists():
        _notebook(src, f"print('{stem}')")
    started = time.time()
    for name in writes:
        (data / name).write_text(f"made by {stem}")
    out = project / "book" / f"{stem}.ipynb"
    out.write_text(json.dumps({"executed": stem}))
    fp = fingerprint(src, params or {}, code_fingerprint(project))
    write_stamp(data, stem, fp, out, owned_files(stem, data, [data], started), project)
    return fp


def _why(project, stem, params=None):
    src = project / "nb" / f"{stem}.ipynb"
    if not src.exists():
        _notebook(src, f"print('{stem}')")
    fp = fingerprint(src, params or {}, code_fingerprint(project))
    return why_run(stem, fp, project / "data" / "full", project / "book" / f"{stem}.ipynb", project, PARTS)


def test_upstream_is_the_part_before_and_everything_for_about_pages():
    assert upstream("02_b", PARTS) == ["01_a"]
    assert upstream("05_c", PARTS) == []
    assert upstream("90_about", PARTS) == ["01_a", "02_b", "05_c", "06_d"]
    with pytest.raises(ValueError, match="not in the table of contents"):
        upstream("07_x", PARTS)


def test_nothing_changed_nothing_runs(project):
    assert _why(project, "01_a") == "never run"
    _run(project, "01_a", writes=["a.npz"])
    _run(project, "02_b")
    assert _why(project, "01_a") is None and _why(project, "02_b") is None


@pytest.mark.parametrize("change, expected", [
    (lambda p: _notebook(p / "nb" / "01_a.ipynb", "print('changed')"), "notebook, parameters"),
    (lambda p: (p / "lib" / "rexbench" / "core.py").write_text("x = 2\n"), "library"),
    (lambda p: (p / "requirements.lock").write_text("torch==2.14.0\n"), "lock file"),
    (lambda p: (p / "lib" / "rexbench" / "data" / "registry.txt").write_text("a 01\n"), "registry"),
    (lambda p: (p / "data" / "full" / "a.npz").unlink(), "a.npz missing or changed"),
    (lambda p: (p / "data" / "full" / "a.npz").write_text("edited"), "a.npz missing or changed"),
    (lambda p: (p / "book" / "01_a.ipynb").unlink(), "executed notebook missing"),
])
def test_a_change_reruns_the_chapter(project, change, expected):
    _run(project, "01_a", writes=["a.npz"])
    change(project)
    assert expected in _why(project, "01_a")


def test_a_file_rewritten_with_the_same_bytes_is_unchanged(project):
    _run(project, "01_a", writes=["a.npz"])
    f = project / "data" / "full" / "a.npz"
    content = f.read_bytes()
    later = time.time() + 5
    f.write_bytes(content)
    os.utime(f, (later, later))
    assert _why(project, "01_a") is None
    f.write_bytes(content.upper())  # same size, other bytes
    os.utime(f, (later + 1, later + 1))
    assert _why(project, "01_a") == "data/full/a.npz missing or changed"


def test_a_never_run_upstream_chapter_is_named(project):
    _run(project, "02_b")
    assert _why(project, "02_b") == "01_a (upstream) has not run"


def test_about_pages_depend_on_the_benchmark_tables(tmp_path):
    (tmp_path / "book" / "tables").mkdir(parents=True)
    nb = _notebook(tmp_path / "91_perf.ipynb", "x = 1")
    table = tmp_path / "book" / "tables" / "bench_rex.csv"
    table.write_text("a\n1\n")
    before = fingerprint(nb, {}, "code", extra_inputs("91_perf", tmp_path))
    table.write_text("a\n2\n")
    assert fingerprint(nb, {}, "code", extra_inputs("91_perf", tmp_path)) != before
    assert extra_inputs("03_x", tmp_path) == []


def test_parameters_are_part_of_the_fingerprint(project):
    _run(project, "01_a", params={"n": 1})
    assert _why(project, "01_a", {"n": 1}) is None
    assert "parameters" in _why(project, "01_a", {"n": 2})


def test_metadata_and_outputs_do_not_change_a_notebook_fingerprint(tmp_path):
    a = _notebook(tmp_path / "a.ipynb", "x = 1")
    before = notebook_fingerprint(a)
    nb = json.loads(a.read_text())
    nb["metadata"]["papermill"] = {"duration": 3}
    nb["cells"][0]["outputs"] = [{"output_type": "stream", "text": "1"}]
    a.write_text(json.dumps(nb))
    assert notebook_fingerprint(a) == before


def test_a_rerun_upstream_reruns_downstream_but_not_other_parts(project):
    for stem in ("01_a", "02_b", "05_c", "06_d", "90_about"):
        _run(project, stem)
    time.sleep(0.01)
    _run(project, "01_a")
    assert _why(project, "02_b") == "01_a ran after it"
    assert _why(project, "06_d") is None
    assert _why(project, "90_about") == "01_a ran after it"


def test_reused_artifacts_named_by_their_manifest_are_owned(project):
    data = project / "data" / "full"
    data.mkdir()
    (data / "old.npz").write_text("cached")
    (data / "old.npz.manifest.json").write_text(json.dumps({"notebook": "01_a"}))
    past = time.time() - 100
    os.utime(data / "old.npz", (past, past))
    files = owned_files("01_a", data, [data], time.time())
    assert data / "old.npz" in files and data / "old.npz.manifest.json" in files


def test_parts_come_from_the_table_of_contents(tmp_path):
    toc = tmp_path / "_toc.yml"
    toc.write_text("format: jb-book\nroot: book/intro\nparts:\n  - caption: A\n    chapters:\n"
                   "      - file: book/01_a\n      - file: book/02_b\n  - caption: B\n    chapters:\n"
                   "      - file: book/published_work\n      - file: book/90_x\n")
    assert parts_from_toc(toc) == [["01_a", "02_b"], ["90_x"]]


def test_the_books_toc_covers_every_source_notebook():
    root = ROOT
    listed = {c for part in parts_from_toc(root / "_toc.yml") for c in part}
    sources = {p.stem for p in (root / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert sources <= listed, f"notebooks missing from _toc.yml: {sorted(sources - listed)}"


def test_documenting_the_library_does_not_rerun_the_book(project):
    """code_fingerprint hashes the library's AST without docstrings: a docstring or a
    comment changes nothing, code does; runner.py and presentation.py never count."""
    core = project / "lib" / "rexbench" / "core.py"
    core.write_text('"""Module."""\n\ndef f(a):\n    """Doc."""\n    return a + 1\n')
    before = code_fingerprint(project)
    core.write_text('"""Another module docstring."""\n\n# a comment\ndef f(a):\n    """Longer doc.\n\n    More.\n    """\n'
                    '    return a + 1  # why\n')
    assert code_fingerprint(project) == before
    core.write_text('"""Module."""\n\ndef f(a):\n    """Doc."""\n    return a + 2\n')
    assert code_fingerprint(project) != before
    changed = code_fingerprint(project)
    for name in ("runner.py", "presentation.py"):
        (project / "lib" / "rexbench" / name).write_text(f"x = {len(name)}\n")
    assert code_fingerprint(project) == changed
    (project / "lib" / "rexbench" / "new.py").write_text("y = 1\n")
    assert code_fingerprint(project) != changed


def test_source_digest_keeps_strings_that_are_code():
    assert source_digest('x = "a"\n') != source_digest('x = "b"\n')
    assert source_digest('def f():\n    """Doc."""\n') == source_digest("def f():\n    pass\n")
    assert source_digest("def (:\n") != source_digest("def ):\n")  # unparsable: hashed as text
