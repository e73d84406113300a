"""The pipeline under stress: a killed sweep resumes from its complete chunks, a failing
chapter stops the run without touching the book."""
import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from helpers import ROOT
from rexbench.compendium.artifacts import is_complete, save_npz
from rexbench.compendium.sweep import Task, chunks, concat, run_tasks


def _runner(monkeypatch, root: Path):
    spec = importlib.util.spec_from_file_location("run_chapters", ROOT / "scripts" / "run_chapters.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "ROOT", root)
    return mod


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nbformat.write(nb, path)
    return path


# ------------------------------------------------------------------ interrupted sweeps
SWEEP = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import numpy as np
    from rexbench.compendium.sweep import Task, chunks, run_tasks

    def work(lo, hi):
        time.sleep(0.3)
        return {"v": np.sqrt(np.arange(lo, hi, dtype=float))}

    folder = Path(sys.argv[1])
    run_tasks([Task(folder / f"c{lo:03d}.npz", work, (lo, hi), {"lo": lo}, "test") for lo, hi in chunks(20, 2)])
""")


def _work(lo, hi):
    return {"v": np.sqrt(np.arange(lo, hi, dtype=float))}


def test_a_killed_sweep_resumes_from_its_complete_chunks(tmp_path):
    script = tmp_path / "sweep.py"
    script.write_text(SWEEP)
    folder = tmp_path / "chunks"
    proc = subprocess.Popen([sys.executable, str(script), str(folder)])
    deadline = time.time() + 60
    while len(list(folder.glob("*.manifest.json"))) < 3 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # mid-sweep, possibly mid-write
    proc.wait()
    done = sorted(folder.glob("c*.npz"))
    assert 3 <= len(done) < 10, "the kill should land in the middle of the sweep"
    before = {p.name: p.stat().st_mtime_ns for p in done if is_complete(p)}
    assert len(before) >= 3
    # Writes are atomic: under a final name there is a whole file or nothing (a chunk killed
    # between its data and its manifest has no manifest, so it is recomputed, never read).
    for p in done:
        with np.load(p) as f:
            assert f["v"].shape == (2,)
    tasks = [Task(folder / f"c{lo:03d}.npz", _work, (lo, hi), {"lo": lo}, "test") for lo, hi in chunks(20, 2)]
    result = concat(run_tasks(tasks))
    assert np.array_equal(result["v"], np.sqrt(np.arange(20.0)))
    for name, mtime in before.items():  # complete chunks were reused, not recomputed
        assert (folder / name).stat().st_mtime_ns == mtime


def test_a_partial_or_tampered_artifact_is_recomputed(tmp_path):
    task = Task(tmp_path / "c.npz", _work, (0, 4), {"lo": 0}, "test")
    run_tasks([task])
    data = task.path.read_bytes()
    task.path.write_bytes(data[: len(data) // 2])  # a truncated file under the final name
    assert not is_complete(task.path, task.params)
    assert np.array_equal(run_tasks([task])[0]["v"], np.sqrt(np.arange(4.0)))
    save_npz(task.path, v=np.zeros(4))  # replaced behind the manifest's back
    assert not is_complete(task.path, task.params)
    assert np.array_equal(run_tasks([task])[0]["v"], np.sqrt(np.arange(4.0)))


# ------------------------------------------------------------------ a failing chapter
@pytest.mark.slow
def test_a_failing_chapter_stops_the_run_and_leaves_the_book_intact(tmp_path, monkeypatch, capsys):
    runner = _runner(monkeypatch, tmp_path)
    src, book, data = tmp_path / "notebooks", tmp_path / "book", tmp_path / "data"
    for d in (src, book, data):
        d.mkdir()
    ok = _notebook(src / "01_ok.ipynb", "data_dir = ''", "from pathlib import Path\nPath(data_dir, 'made.txt').write_text('1')")
    bad = _notebook(src / "02_bad.ipynb", "n = 1", "x = 2", "raise ValueError('the parameter n is wrong')")
    (book / "02_bad.ipynb").write_text("previous good copy")
    parts = [["01_ok", "02_bad"]]
    rc = runner.run([ok, bad], "smoke", lambda nb: {"data_dir": str(data)}, book, data, parts, "code", src)
    err = capsys.readouterr().err
    assert rc == 1
    assert "chapter 02_bad FAILED in cell" in err and "the parameter n is wrong" in err
    kept = tmp_path / "_build" / "failed" / "smoke" / "02_bad.ipynb"
    assert kept.exists() and "ValueError" in kept.read_text()
    assert (book / "02_bad.ipynb").read_text() == "previous good copy"
    assert (book / "01_ok.ipynb").exists() and (data / "made.txt").exists()
    # Fixed, the rerun skips the chapter that succeeded and runs the one that failed.
    _notebook(bad, "n = 1", "x = 2", "y = x + n")
    assert runner.run([ok, bad], "smoke", lambda nb: {"data_dir": str(data)}, book, data, parts, "code", src) == 0
    out = capsys.readouterr().out
    assert "01_ok: up to date" in out and "02_bad: running" in out
    assert json.loads((book / "02_bad.ipynb").read_text())["cells"]


def test_parts_run_side_by_side_and_the_about_pages_after_them(tmp_path, monkeypatch, capsys):
    runner = _runner(monkeypatch, tmp_path)
    src, book, data = tmp_path / "notebooks", tmp_path / "book", tmp_path / "data"
    for d in (src, book, data):
        d.mkdir()
    write = "from pathlib import Path\nPath(data_dir, '{}').write_text('1')"
    nbs = [_notebook(src / f"{stem}.ipynb", "data_dir = ''", write.format(stem))
           for stem in ("01_a", "02_b", "05_c", "06_d")]
    # The about page fails unless every chapter of both parts ran before it.
    nbs.append(_notebook(src / "90_about.ipynb", "data_dir = ''",
                         "from pathlib import Path\nassert all(Path(data_dir, s).exists() for s in "
                         "('01_a', '02_b', '05_c', '06_d'))"))
    parts = [["01_a", "02_b"], ["05_c", "06_d"], ["intro", "90_about"]]
    assert [[nb.stem for nb in c] for c in runner.chains(nbs, parts)] == [["01_a", "02_b"], ["05_c", "06_d"],
                                                                         ["90_about"]]
    rc = runner.run(nbs, "smoke", lambda nb: {"data_dir": str(data)}, book, data, parts, "code", src, jobs=2)
    assert rc == 0, capsys.readouterr().err
    assert "5 of 5 chapters executed" in capsys.readouterr().out
    assert all((book / nb.name).exists() for nb in nbs)


def test_a_failing_part_stops_the_parallel_run_before_the_about_pages(tmp_path, monkeypatch, capsys):
    runner = _runner(monkeypatch, tmp_path)
    src, book, data = tmp_path / "notebooks", tmp_path / "book", tmp_path / "data"
    for d in (src, book, data):
        d.mkdir()
    nbs = [_notebook(src / "01_bad.ipynb", "n = 1", "raise ValueError('part one is broken')"),
           _notebook(src / "02_after.ipynb", "n = 1", "n + 1"),
           _notebook(src / "05_ok.ipynb", "n = 1", "n + 1"),
           _notebook(src / "90_about.ipynb", "n = 1", "n + 1")]
    parts = [["01_bad", "02_after"], ["05_ok"], ["90_about"]]
    assert runner.run(nbs, "smoke", lambda nb: {}, book, data, parts, "code", src, jobs=2) == 1
    assert "chapter 01_bad FAILED in cell" in capsys.readouterr().err
    assert not (book / "02_after.ipynb").exists() and not (book / "90_about.ipynb").exists()


# ------------------------------------------------------------------ byte-identical tables
# Two runs from nothing give the same tables: `make test` executes every smoke chapter once
# from nothing (in CI, a fresh clone) and compares every table byte for byte with the
# committed reference (scripts/compare_tables.py, tests/reference/smoke_tables); the
# tests of scripts/compare_tables.py are in tests/compendium/test_compare_tables.py.


def test_side_by_side_chapters_each_start_in_the_notebooks_folder(tmp_path, monkeypatch, capsys):
    """papermill's cwd= os.chdir()s the whole process, so with two chapters on two threads
    one chapter's chdir back could start the other's kernel elsewhere (its relative data
    paths then miss, as chapter 11 once did); each kernel must start in the given folder."""
    runner = _runner(monkeypatch, tmp_path)
    src, book, data = tmp_path / "notebooks", tmp_path / "book", tmp_path / "data"
    for d in (src, book, data):
        d.mkdir()
    record = "import os\nfrom pathlib import Path\nPath(data_dir, '{}').write_text(os.getcwd())"
    stems = ("01_a", "02_b", "03_c", "05_d", "06_e", "07_f")
    nbs = [_notebook(src / f"{s}.ipynb", "data_dir = ''", record.format(s)) for s in stems]
    parts = [["01_a", "02_b", "03_c"], ["05_d", "06_e", "07_f"]]
    real_chdir, here = os.chdir, os.getcwd()

    def no_chdir(path):  # the race needs a process-wide chdir elsewhere (papermill's I/O re-enters `here`)
        if os.path.realpath(path) != os.path.realpath(here):
            raise AssertionError(f"os.chdir({path!r}) while chapters run side by side")
        real_chdir(path)

    monkeypatch.setattr(os, "chdir", no_chdir)
    assert runner.run(nbs, "smoke", lambda nb: {"data_dir": str(data)}, book, data, parts, "code", src, jobs=2) == 0, \
        capsys.readouterr().err
    monkeypatch.setattr(os, "chdir", real_chdir)
    assert {s: (data / s).read_text() for s in stems} == {s: str(src) for s in stems}
