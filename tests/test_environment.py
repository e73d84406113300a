"""The pinned environment: one lock file, the same pins in environment.yml, no CUDA pulls."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pins(lines):
    return {l.strip().lstrip("- ").strip() for l in lines if re.match(r"^\s*-?\s*[A-Za-z0-9_.\-\[\]]+==", l)}


def test_lock_is_exact_and_cpu_only():
    lock = pins((ROOT / "requirements.lock").read_text().splitlines())
    assert "torch==2.13.0" in lock
    names = {p.split("==")[0].lower() for p in lock}
    assert not names & {"torchvision", "torchaudio", "triton"}
    assert not any(n.startswith("nvidia") for n in names)
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        assert not line.strip() or line.startswith("#") or "==" in line, line


def test_environment_yml_matches_lock():
    lock = pins((ROOT / "requirements.lock").read_text().splitlines())
    env = pins((ROOT / "environment.yml").read_text().splitlines())
    assert env == lock


def test_source_notebooks_have_no_outputs_and_one_parameters_cell():
    import json

    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        code = [c for c in cells if c["cell_type"] == "code"]
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), nb.name
        tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, nb.name
        assert 'profile = "smoke"' in "".join(tagged[0]["source"]), nb.name


def test_no_eval_of_strings_in_our_code():
    for path in (ROOT / "lib" / "rexbench").rglob("*.py"):
        text = path.read_text()
        # model.eval() and ast.literal_eval (literals only) are not evaluation of strings
        text = text.replace(".eval()", "").replace("ast.literal_eval(", "")
        for bad in ("eval(", "exec(", "pickle.load", "allow_pickle=True"):
            assert bad not in text, f"{bad} in {path.name}"
