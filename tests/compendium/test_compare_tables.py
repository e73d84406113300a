"""scripts/compare_tables.py: a run's tables against the committed reference, byte for byte."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("compare_tables", ROOT / "scripts" / "compare_tables.py")
compare_tables = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare_tables)


def _write(folder: Path, **tables):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        (folder / f"{name}.csv").write_text(text)


def test_identical_tables_pass(tmp_path):
    _write(tmp_path / "ref", a="x,y\n1,2\n")
    _write(tmp_path / "run", a="x,y\n1,2\n", bench_batch="ignored\n")
    assert compare_tables.compare(tmp_path / "ref", tmp_path / "run") == []
    assert compare_tables.main([str(tmp_path / "ref"), str(tmp_path / "run")]) == 0


def test_a_changed_missing_or_new_table_is_named(tmp_path):
    _write(tmp_path / "ref", a="x,y\n1,2\n", b="z\n3\n")
    _write(tmp_path / "run", a="x,y\n1,2.0001\n", c="new\n")
    problems = compare_tables.compare(tmp_path / "ref", tmp_path / "run")
    assert any(p.startswith("a.csv: differs from the reference at line 2") for p in problems)
    assert any(p.startswith("b.csv: in the reference, not written") for p in problems)
    assert any(p.startswith("c.csv: written by this run, not in the reference") for p in problems)
    assert compare_tables.main([str(tmp_path / "ref"), str(tmp_path / "run")]) == 1


def test_an_empty_reference_fails(tmp_path):
    (tmp_path / "ref").mkdir()
    assert compare_tables.compare(tmp_path / "ref", tmp_path) == [f"no reference tables in {tmp_path / 'ref'}"]
