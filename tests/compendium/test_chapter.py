"""What a chapter's first cells do (rexbench.compendium.chapter): parameter checks that
name the parameter, setup(), and train_or_load() (train once per set of parameters)."""
import json
from pathlib import Path

import nbformat
import pytest
import torch

from helpers import ROOT
from rexbench.compendium.artifacts import is_complete, manifest_path
from rexbench.compendium.chapter import Outputs, check_params, setup, train_or_load


def test_check_params_names_the_parameter():
    with pytest.raises(ValueError, match="parameter 'profile' must be one of"):
        check_params("huge")
    with pytest.raises(ValueError, match=r"parameter 'n_explain'=0 is out of range \[1, None\]"):
        check_params("smoke", n_explain=(0, 1, None))
    with pytest.raises(ValueError, match=r"parameter 'rate'=2 is out of range \[None, 1\]"):
        check_params("full", rate=(2, None, 1))
    check_params("full", rate=(1, None, 1))  # bounds are inclusive


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_setup_checks_first_then_sets_threads_and_makes_the_folders(tmp_path, monkeypatch, threads):
    with pytest.raises(ValueError, match=r"parameter 'n'=0 is out of range"):
        setup("smoke", str(tmp_path / "book"), str(tmp_path / "data"), n=(0, 1, None))
    assert not (tmp_path / "book").exists()  # nothing done before the check
    out = setup("smoke", str(tmp_path / "book"), str(tmp_path / "data"), threads=1, n=(3, 1, None))
    assert isinstance(out, Outputs) and torch.get_num_threads() == 1
    assert out.tables.is_dir() and out.figures.is_dir() and out.data.is_dir()
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    setup("smoke", str(tmp_path / "book"), str(tmp_path / "data"))
    assert torch.get_num_threads() == 2


def test_train_or_load_trains_once_per_set_of_parameters(tmp_path):
    trained = []

    def train(model):
        trained.append(1)
        with torch.no_grad():
            model.weight += 1.0
        return {"loss": [1.0, 0.5]}

    def save(model, path):
        torch.save(model.state_dict(), path)

    def load(path):
        m = torch.nn.Linear(3, 2)
        m.load_state_dict(torch.load(path, weights_only=True))
        return m

    kw = dict(build=lambda: torch.nn.Linear(3, 2), train=train, save=save, load=load, notebook="nb")
    weights = tmp_path / "models" / "m.pt"
    torch.manual_seed(123)  # whatever ran before: the initial weights come from seed=
    m1, h1 = train_or_load(weights, {"epochs": 2}, seed=0, **kw)
    assert trained == [1] and h1 == {"loss": [1.0, 0.5]} and not m1.training
    assert is_complete(weights, {"epochs": 2})
    assert json.loads(manifest_path(weights).read_text())["notebook"] == "nb"
    assert json.loads(weights.with_suffix(".history.json").read_text()) == h1
    m2, h2 = train_or_load(weights, {"epochs": 2}, seed=0, **kw)  # loaded, not trained
    assert trained == [1] and h2 == h1 and not m2.training
    assert torch.equal(m1.weight, m2.weight)
    torch.manual_seed(456)
    m3, _ = train_or_load(weights, {"epochs": 3}, seed=0, **kw)  # new parameters: trained again
    assert trained == [1, 1] and torch.equal(m3.weight, m1.weight)  # same seed, same start
    weights.with_suffix(".history.json").unlink()
    train_or_load(weights, {"epochs": 3}, seed=0, **kw)  # a model without its history is retrained
    assert trained == [1, 1, 1]


# ----------------------------------------------------------------------------- the chapters
def _first_check(nb_path: Path) -> int:
    """Index of the code cell that checks the parameters (setup() or check_params())."""
    nb = nbformat.read(nb_path, 4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    return next(i for i, c in enumerate(code) if "setup(" in c.source or "check_params(" in c.source)


@pytest.mark.parametrize("nb_path", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_every_chapter_checks_its_parameters_first(nb_path):
    """The check comes right after the parameters and imports (the second code cell after
    the parameters cell), so a bad value fails before any work is done."""
    nb = nbformat.read(nb_path, 4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    params = [i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", [])]
    assert params == [0], "one parameters cell, the first code cell"
    assert _first_check(nb_path) == 1


@pytest.mark.slow
def test_an_unknown_profile_fails_in_the_first_cells(tmp_path):
    import papermill as pm

    nb = ROOT / "notebooks" / "02_raman_models.ipynb"
    with pytest.raises(pm.PapermillExecutionError, match="parameter 'profile' must be one of") as err:
        pm.execute_notebook(str(nb), str(tmp_path / "out.ipynb"), parameters={"profile": "huge"},
                            kernel_name="python3", cwd=str(ROOT / "notebooks"), progress_bar=False)
    assert "parameter 'profile' must be one of" in str(err.value.evalue)
    executed = json.loads((tmp_path / "out.ipynb").read_text())
    ran = [c for c in executed["cells"] if c["cell_type"] == "code" and c.get("execution_count")]
    assert len(ran) <= 3  # injected parameters, defaults, imports + check


def test_with_interval_puts_each_estimate_beside_its_interval():
    import pandas as pd

    from rexbench.compendium.chapter import with_interval

    df = pd.DataFrame({"hit": [0.5, float("nan"), 0.25], "hit_ci_low": [0.25, float("nan"), float("nan")],
                       "hit_ci_high": [0.75, float("nan"), float("nan")], "n": [4, 0, 1]})
    out = with_interval(df, ["hit"])
    assert out.hit.tolist() == ["0.50 [0.25, 0.75]", "n/a", "0.25"]
    assert list(out.columns) == ["hit", "n"] and "hit_ci_low" in df.columns  # a copy
    with pytest.raises(KeyError, match=r"no column\(s\) \['n_ci_low', 'n_ci_high'\]"):
        with_interval(df, ["n"])
