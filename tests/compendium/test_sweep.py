"""Sweeps (rexbench.sweep): scheduler parsing, one artifact per chunk, resuming, and the
same results in-process and on a 2-worker Dask LocalCluster."""
import numpy as np
import pytest
import torch

from rexbench.artifacts import is_complete
from rexbench.crossmodal import explain_chunk, method_settings, score_chunk
from rexbench.metrics.quantus_suite import METRICS, SuiteSettings
from rexbench.models import DigitCNN
from rexbench.sweep import Task, chunks, concat, parse_scheduler, run_tasks


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


def test_chunks_cover_the_range():
    assert chunks(7, 3) == [(0, 3), (3, 6), (6, 7)]
    assert chunks(2, 5) == [(0, 2)]
    with pytest.raises(ValueError):
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


def test_duplicate_artifacts_are_refused(tmp_path):
    t = Task(tmp_path / "a.npz", _value, (0, 2, 1.0), {}, "test")
    with pytest.raises(ValueError, match="same artifact"):
        run_tasks([t, t])


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


def test_local_workers_do_not_inherit_dasks_malloc_trim_threshold():
    """Dask's default MALLOC_TRIM_THRESHOLD_ made torch about 1.8x slower in workers."""
    import os

    from rexbench.sweep import _client

    client, cluster = _client("local", 1)
    try:
        env = client.run(lambda: {k: os.environ.get(k) for k in ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS")})
    finally:
        client.close()
        cluster.close()
    (worker_env,) = env.values()
    assert worker_env == {"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1"}
