"""Benchmark helpers (rexbench.compendium.bench): the model timer the speed tables use."""
import torch

from helpers.models import small_lrcn
from rexbench.compendium.bench import TimedModel, forward_cost_by_batch


def test_timed_model_counts_forward_and_backward_without_changing_results():
    model = small_lrcn(60)
    timed = TimedModel(model).eval()
    x = torch.randn(4, 1, 60, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(timed(x), model(x))
    assert timed.samples == 4 and timed.forward_seconds > 0 and timed.backward_seconds == 0
    # A gradient through the wrapper equals the gradient through the bare model, and the
    # backward pass from the output to the input is timed.
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    (ga,) = torch.autograd.grad(timed(a)[:, 1].sum(), a)
    (gb,) = torch.autograd.grad(model(b)[:, 1].sum(), b)
    assert torch.equal(ga, gb)
    assert timed.backward_seconds > 0 and timed.seconds == timed.forward_seconds + timed.backward_seconds
    timed.reset()
    assert (timed.samples, timed.forward_seconds, timed.backward_seconds) == (0, 0.0, 0.0)


def test_forward_cost_by_batch_reports_every_batch():
    cost = forward_cost_by_batch(small_lrcn(60), torch.zeros(1, 1, 60), batches=(2, 8), repeats=1, min_queries=8)
    assert cost.batch.tolist() == [2, 8] and (cost.ms_per_query > 0).all()


def test_chapter_durations_reads_papermill_metadata(tmp_path):
    import json

    from rexbench.compendium.bench import chapter_durations

    def write(name, papermill):
        (tmp_path / f"{name}.ipynb").write_text(json.dumps({"metadata": {"papermill": papermill}, "cells": []}))

    write("01_a", {"start_time": "2026-12-01T10:00:00.123456", "end_time": "x", "duration": 12.5})
    write("02_b", {"start_time": "2026-12-01T10:01:00", "exception": True, "duration": 3.0})
    write("03_c", {"start_time": "2026-12-01T10:02:00"})
    write("91_self", {"end_time": "x", "duration": 1.0})
    t = chapter_durations(tmp_path, exclude=["91_self"])
    assert t.chapter.tolist() == ["01_a", "02_b", "03_c"]
    assert t.status.tolist() == ["ok", "failed", "incomplete"]
    assert t.start.iloc[0] == "2026-12-01T10:00:00" and t.duration_s.iloc[0] == 12.5 and t.duration_s.isna().iloc[2]


def test_makefile_sets_the_malloc_environment_of_the_library():
    """The Makefile exports rexbench's MALLOC_ENV, value for value (one source of truth)."""
    import re
    from pathlib import Path

    from rexbench.compendium.bench import MALLOC_ENV

    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    exported = dict(re.findall(r"^export (MALLOC_\w+) \?= (\S+)$", makefile, flags=re.M))
    assert exported == MALLOC_ENV


def test_malloc_tuned_reads_the_environment(monkeypatch):
    from rexbench.compendium.bench import MALLOC_ENV, machine, malloc_tuned

    for k, v in MALLOC_ENV.items():
        monkeypatch.setenv(k, v)
    assert malloc_tuned() and machine(1)["malloc_tuned"] is True
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1")
    assert not malloc_tuned()
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    assert not malloc_tuned()


def test_recorder_keeps_the_queries_and_replay_times_them():
    import pytest

    from rexbench.compendium.bench import Recorder, replay_cost

    model = small_lrcn(60).eval()
    rec = Recorder(model, keep=5)
    x = torch.randn(3, 1, 60, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(rec(x), model(x))
        rec(x + 1)
        rec(x + 2)  # past keep: not kept
    kept = rec.inputs()
    assert kept.shape == (5, 1, 60) and torch.equal(kept[:3], x) and torch.equal(kept[3:], (x + 1)[:2])
    cost = replay_cost(model, kept, batches=(2, 4), repeats=1)
    assert cost.batch.tolist() == [2, 4] and (cost.ms_per_query > 0).all()
    with pytest.raises(ValueError, match="not queried"):
        Recorder(model).inputs()
    with pytest.raises(ValueError, match="need queries"):
        replay_cost(model, kept[:0])
