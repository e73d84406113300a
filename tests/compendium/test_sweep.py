"""Sweeps (rexbench.compendium.sweep): scheduler parsing, one artifact per chunk, resuming, and the
same results in-process and on a 2-worker Dask LocalCluster."""
import numpy as np
import pytest
import torch

from rexbench.compendium.artifacts import is_complete, load_npz, manifest_path
from rexbench.compendium.studies.crossmodal import explain_chunk, method_settings, score_chunk
from rexbench.compendium.sweep import Cell, Task, chunks, concat, parse_scheduler, run_cells, run_tasks
from rexbench.metrics.quantus_suite import METRICS, SuiteSettings
from rexbench.models import DigitCNN


def _model():
    torch.manual_seed(0)
    return DigitCNN().eval()


def _inputs(n=6, size=28):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n, 1, size, size, generator=g)
    x[:, :, :, :4] = 0  # some black, as in MNIST
    return x


def _value(lo, hi, scale):
    return {"v": np.arange(lo, hi, dtype=float) * scale, "seconds": np.array(0.5)}


def _fail(lo, hi):
    raise RuntimeError(f"chunk {lo}-{hi} failed")


def test_parse_scheduler():
    assert parse_scheduler(None) == ("none", None)
    assert parse_scheduler("none") == ("none", None)
    assert parse_scheduler("local:3") == ("local", 3)
    assert parse_scheduler("tcp://10.0.0.5:8786") == ("address", "tcp://10.0.0.5:8786")
    for bad in ("local:0", "local:x", "cluster"):
        with pytest.raises(ValueError, match="scheduler"):
            parse_scheduler(bad)
    with pytest.raises(TypeError, match="must be a string or None"):
        parse_scheduler(2)


def test_chunks_cover_the_range():
    assert chunks(7, 3) == [(0, 3), (3, 6), (6, 7)]
    assert chunks(2, 5) == [(0, 2)]
    with pytest.raises(ValueError, match="chunk size must be at least 1"):
        chunks(5, 0)


def test_one_artifact_per_chunk_and_resume(tmp_path):
    tasks = [Task(tmp_path / f"c{lo}.npz", _value, (lo, hi, 2.0), {"lo": lo, "hi": hi}, "test")
             for lo, hi in chunks(7, 3)]
    joined = concat(run_tasks(tasks))
    assert np.array_equal(joined["v"], np.arange(7) * 2.0) and joined["seconds"] == 1.5
    assert all(is_complete(t.path, t.params) for t in tasks)
    # A rerun loads the complete chunks: a task that would fail is never called.
    again = [Task(t.path, _fail, t.args[:2], t.params, "test") for t in tasks]
    assert np.array_equal(concat(run_tasks(again))["v"], joined["v"])


def test_a_failing_chunk_keeps_the_finished_ones(tmp_path):
    ok = Task(tmp_path / "a.npz", _value, (0, 2, 1.0), {"c": 0}, "test")
    bad = Task(tmp_path / "b.npz", _fail, (2, 4), {"c": 1}, "test")
    with pytest.raises(RuntimeError, match="chunk 2-4 failed"):
        run_tasks([ok, bad])
    assert is_complete(ok.path, ok.params) and not bad.path.exists()


def _double(lo, hi, calls):
    calls.append((lo, hi))
    return {"v": np.arange(lo, hi) * 2.0, "seconds": np.array(0.25)}


def test_cells_are_computed_in_chunks_stored_whole_and_resumed(tmp_path, capsys):
    calls = []
    cells = {
        "a": Cell(tmp_path / "a.npz", {"cell": "a"}, _double, lambda lo, hi: (lo, hi, calls), 5,
                  extra={"index": np.arange(5)}),
        "b": Cell(tmp_path / "b.npz", {"cell": "b"}, None, None, 5, same_as="a"),
    }
    out = run_cells(cells, chunk_size=2, scheduler=None, notebook="test")
    assert calls == [(0, 2), (2, 4), (4, 5)]  # the copy computed nothing
    assert "3 chunks to compute" in capsys.readouterr().err
    assert list(out) == ["a", "b"]
    np.testing.assert_array_equal(out["a"]["v"], np.arange(5) * 2.0)
    np.testing.assert_array_equal(out["a"]["index"], np.arange(5))
    assert out["a"]["seconds"] == 0.75
    for key in ("a", "b"):  # both stored whole, with their own parameters
        assert is_complete(cells[key].path, cells[key].params)
        np.testing.assert_array_equal(load_npz(cells[key].path)["v"], out["a"]["v"])
    chunk = tmp_path / "chunks" / "a_00002-00004.npz"
    assert is_complete(chunk, {"cell": "a", "inputs": [2, 4]})
    # Complete cells need none of their chunks; a lost cell is rebuilt from its chunks.
    calls.clear()
    run_cells(cells, chunk_size=2, scheduler=None, notebook="test")
    assert calls == []
    cells["a"].path.unlink()
    manifest_path(cells["a"].path).unlink()
    again = run_cells(cells, chunk_size=2, scheduler=None, notebook="test")
    assert calls == [] and np.array_equal(again["a"]["v"], out["a"]["v"])


def test_cells_without_storing_keep_chunks_only(tmp_path):
    calls = []
    cells = {0: Cell(tmp_path / "c.npz", {"cell": 0}, _double, lambda lo, hi: (lo, hi, calls), 3)}
    out = run_cells(cells, chunk_size=2, scheduler=None, notebook="test", store=False)
    np.testing.assert_array_equal(out[0]["v"], [0.0, 2.0, 4.0])
    assert not (tmp_path / "c.npz").exists() and (tmp_path / "c_00000-00002.npz").exists()


def test_duplicate_artifacts_are_refused(tmp_path):
    t = Task(tmp_path / "a.npz", _value, (0, 2, 1.0), {}, "test")
    with pytest.raises(ValueError, match="same artifact"):
        run_tasks([t, t])
    with pytest.raises(ValueError, match="no chunk results to join"):
        concat([])


def _sweep(folder, scheduler):
    """A small explanation and metric sweep like chapters 12 and 13, in chunks of 2."""
    model, x = _model(), _inputs()
    with torch.no_grad():
        t = model(x).argmax(1).numpy()
    suite = SuiteSettings(faithfulness_runs=5, sensitivity_samples=2, batch_size=4)
    tasks = []
    for method in ("saliency", "gradient_shap", "rex"):
        settings = method_settings(method, 28, shap_samples=4, rex_iters=2, rex_search_limit=40)
        for lo, hi in chunks(len(x), 2):
            tasks.append(Task(folder / f"{method}_{lo}.npz", explain_chunk, (method, model, x[lo:hi], t[lo:hi], settings),
                              {"method": method, "lo": lo}, "test"))
    results = run_tasks(tasks, scheduler)
    sal = concat(results[:3], keys=["a"])["a"]
    score_tasks = [Task(folder / f"score_{lo}.npz", score_chunk,
                        ("saliency", model, x[lo:hi].numpy(), t[lo:hi], sal[lo:hi], {}, suite, 7 + lo), {"lo": lo}, "test")
                   for lo, hi in chunks(len(x), 2)]
    return results + run_tasks(score_tasks, scheduler)


@pytest.mark.slow
def test_same_results_in_process_and_on_a_local_cluster(tmp_path):
    pytest.importorskip("distributed")
    here = _sweep(tmp_path / "inproc", None)
    there = _sweep(tmp_path / "dask", "local:2")
    assert len(here) == len(there)
    for a, b in zip(here, there):
        for key in a:
            if key == "seconds":
                continue
            assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape
            assert np.array_equal(a[key], b[key], equal_nan=a[key].dtype.kind == "f"), key
    scores = concat(here[-3:], keys=list(METRICS))
    assert np.isfinite(scores["sparseness"]).all()


def test_local_workers_start_with_the_books_malloc_settings(monkeypatch):
    """Dask's default MALLOC_TRIM_THRESHOLD_ made torch about 1.8x slower in workers; they
    start with MALLOC_ENV instead, even from a process started without it."""
    import os

    from rexbench.compendium.bench import MALLOC_ENV
    from rexbench.compendium.sweep import _client

    for k in MALLOC_ENV:
        monkeypatch.delenv(k, raising=False)
    client, cluster = _client("local", 1)
    try:
        env = client.run(lambda: {k: os.environ.get(k) for k in (*MALLOC_ENV, "OMP_NUM_THREADS")})
    finally:
        client.close()
        cluster.close()
    (worker_env,) = env.values()
    assert worker_env == {**MALLOC_ENV, "OMP_NUM_THREADS": "1"}
