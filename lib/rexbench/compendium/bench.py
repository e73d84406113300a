"""Measurements shared by the benchmarks/ scripts and the chapters that report them."""
from __future__ import annotations

import time

import torch


#: glibc malloc settings for the book's processes (set in the environment before Python
#: starts; the Makefile and ``scripts/run_chapters.py`` do). By default glibc serves large
#: blocks (a batch of mutants, a layer's activations) from fresh ``mmap`` pages and returns
#: them to the system when freed, so every forward pass page-faults its activations in
#: again: on the 3D CNN a third of ReX's wall time is then system time
#: (``benchmarks/bench_malloc.py`` measures both settings). Keeping freed memory in the heap (the largest mmap threshold glibc
#: accepts, 32 MiB, and no trimming) changes no result, only the time.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(4 * 2**30)}


def malloc_tuned() -> bool:
    """Whether this process was started with :data:`MALLOC_ENV` in its environment.

    Returns
    -------
    bool
        True if every variable of :data:`MALLOC_ENV` is set to its value.
    """
    import os

    return all(os.environ.get(k) == v for k, v in MALLOC_ENV.items())


def forward_cost_3d(grids=(32, 48, 64), batch: int = 16, repeats: int = 3, model=None):
    """Milliseconds per volume of the 3D CNN's forward pass in batches of ``batch`` (ReX's
    batch for volumes) at each grid size: what one ReX query costs (the weights do not change
    the cost). Timed by :func:`forward_cost_by_batch`, on a random volume and one batch per
    timing.

    Parameters
    ----------
    grids : sequence of int, optional
        Edge lengths of the cubic volumes ``(1, 1, grid, grid, grid)`` to time (default 32, 48
        and 64).
    batch : int, optional
        Volumes per forward pass (default 16).
    repeats : int, optional
        Timings per grid size; the best is kept (default 3).
    model : torch.nn.Module, optional
        The model to time (put in evaluation mode); a new, untrained
        :class:`~rexbench.models.cnn3d.CNN3D` if None.

    Returns
    -------
    pandas.DataFrame
        One row per grid size: ``grid``, ``voxels`` (``grid ** 3``) and ``ms_per_query``
        (milliseconds per volume).
    """
    import pandas as pd

    from ..models import CNN3D

    model = model or CNN3D()
    rows = []
    for grid in grids:
        cost = forward_cost_by_batch(model, torch.rand(1, 1, grid, grid, grid), batches=(batch,), repeats=repeats,
                                     min_queries=batch)
        rows.append({"grid": grid, "voxels": grid**3, "ms_per_query": float(cost.ms_per_query.iloc[0])})
    return pd.DataFrame(rows)


def forward_cost_by_batch(model, example: torch.Tensor, batches=(8, 16, 32, 64, 128, 256, 512, 1024),
                          repeats: int = 5, min_queries: int = 1024, backward: bool = False):
    """Milliseconds per input of ``model``'s forward pass (with ``backward=True``: forward
    and backward to the input, what a gradient explainer pays) at each batch size, the
    best of ``repeats`` timings of ``min_queries`` inputs or more. Use it to choose an
    explainer's batch (``ReX(max_batch_size=...)``): on a CPU the cost per input usually
    falls and then rises again once a batch's activations outgrow the cache.

    Each batch repeats ``example``; one untimed call per batch size warms up first.

    Parameters
    ----------
    model : torch.nn.Module
        The model; put in evaluation mode (``model.eval()``).
    example : torch.Tensor
        One input, shaped ``(1, C, *S)``.
    batches : sequence of int, optional
        Batch sizes to time (default 8 to 1024, in powers of 2).
    repeats : int, optional
        Timings per batch size; the best is kept (default 5).
    min_queries : int, optional
        Inputs per timing at least: ``ceil(min_queries / batch)`` calls, and one call at
        least (default 1024).
    backward : bool, optional
        Time the forward pass and the gradient of the first output's sum with respect to
        the input (default False: the forward pass alone, without gradients).

    Returns
    -------
    pandas.DataFrame
        One row per batch size: ``batch`` and ``ms_per_query`` (milliseconds per input).

    Raises
    ------
    ValueError
        If ``example`` has fewer than 2 dimensions or more than one input.
    """
    import pandas as pd

    if example.ndim < 2 or example.shape[0] != 1:
        raise ValueError(f"example must be one input shaped (1, C, ...), got {tuple(example.shape)}")
    model = model.eval()

    def run(x):
        if backward:
            x = x.clone().requires_grad_(True)
            torch.autograd.grad(model(x)[:, 0].sum(), x)
        else:
            with torch.no_grad():
                model(x)

    rows = []
    for batch in batches:
        x = example.expand(batch, *example.shape[1:]).contiguous()
        calls = max(1, -(-min_queries // batch))
        run(x)  # warm-up
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(calls):
                run(x)
            best = min(best, (time.perf_counter() - t0) / (calls * batch))
        rows.append({"batch": batch, "ms_per_query": 1e3 * best})
    return pd.DataFrame(rows)


class Recorder:
    """A callable model wrapper that keeps a copy of every batch it is queried with, for
    :func:`replay_cost` (the forward-pass limit of exactly the queries an explainer made).

    Parameters
    ----------
    model : callable
        The model, e.g. a ``torch.nn.Module`` in evaluation mode.
    keep : int or None, optional
        Most inputs to keep (the first ones; default None: all).

    Attributes
    ----------
    batches : list of torch.Tensor
        Copies of the batches queried, in order (up to ``keep`` inputs).
    """

    def __init__(self, model, keep: int | None = None):
        self.model, self.keep, self.batches, self._kept = model, keep, [], 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.keep is None or self._kept < self.keep:
            self.batches.append(x.detach().clone())
            self._kept += len(x)
        return self.model(x)

    def inputs(self) -> torch.Tensor:
        """All kept inputs, concatenated (at most ``keep``)."""
        if not self.batches:
            raise ValueError("the model was not queried")
        x = torch.cat(self.batches)
        return x if self.keep is None else x[: self.keep]


def replay_cost(model, inputs: torch.Tensor, batches=(32, 64, 128, 256, 512), repeats: int = 3):
    """Milliseconds per input of ``model``'s forward pass over exactly ``inputs`` (e.g. the
    mutants an explainer sent, :class:`Recorder`), at each batch size: the best of
    ``repeats`` passes over all of them, after one untimed pass at that size.

    Unlike :func:`forward_cost_by_batch`, which repeats one input, this measures the
    queries themselves: a limit that an explainer sending them could reach.

    Parameters
    ----------
    model : torch.nn.Module or callable
        The bare model.
    inputs : torch.Tensor
        The queries, ``(N, C, *S)``.
    batches : sequence of int, optional
        Batch sizes to time.
    repeats : int, optional
        Timed passes per batch size; the best is kept (default 3).

    Returns
    -------
    pandas.DataFrame
        One row per batch size: ``batch`` and ``ms_per_query``.

    Raises
    ------
    ValueError
        If ``inputs`` is empty or ``repeats`` or a batch size is below 1.
    """
    import pandas as pd

    if len(inputs) == 0 or repeats < 1 or min(batches) < 1:
        raise ValueError(f"need queries, repeats >= 1 and batch sizes >= 1; got {len(inputs)} queries, "
                         f"repeats {repeats}, batches {tuple(batches)}")
    rows = []
    with torch.no_grad():
        for batch in batches:
            chunks = [inputs[lo : lo + batch].contiguous() for lo in range(0, len(inputs), batch)]
            for c in chunks:  # warm-up: first-call costs of every shape
                model(c)
            best = float("inf")
            for _ in range(repeats):
                t0 = time.perf_counter()
                for c in chunks:
                    model(c)
                best = min(best, time.perf_counter() - t0)
            rows.append({"batch": batch, "ms_per_query": 1e3 * best / len(inputs)})
    return pd.DataFrame(rows)


def machine(threads: int) -> dict:
    """The machine a benchmark ran on: CPU, cores, torch threads, versions, date.

    Parameters
    ----------
    threads : int
        The torch threads the benchmark used, recorded as given.

    Returns
    -------
    dict
        ``cpu`` (the model name in ``/proc/cpuinfo``, else the processor or machine type
        :mod:`platform` reports), ``cores`` (``os.cpu_count()``), ``torch_threads``,
        ``python`` and ``torch`` (versions), ``platform``, ``date`` (local, ``YYYY-MM-DD``)
        and ``malloc_tuned`` (:func:`malloc_tuned`).
    """
    import os
    import platform
    from pathlib import Path

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": threads, "python": platform.python_version(),
            "torch": torch.__version__, "platform": platform.platform(), "date": time.strftime("%Y-%m-%d"),
            "malloc_tuned": malloc_tuned()}


class _Stamp(torch.autograd.Function):
    """Identity whose backward records the time: at a model's output when the backward
    pass enters the model, at its input when the pass leaves it."""

    @staticmethod
    def forward(ctx, x, timer, at_input):
        ctx.timer, ctx.at_input = timer, at_input
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        now = time.perf_counter()
        if ctx.at_input:
            ctx.timer.backward_seconds += now - ctx.timer._entered
        else:
            ctx.timer._entered = now
        return grad, None, None


class TimedModel(torch.nn.Module):
    """Wraps a model and accumulates what an explainer spends in it: ``forward_seconds``,
    ``backward_seconds`` (backward passes from the model's output to its input, counted when
    the input requires a gradient) and ``samples`` (inputs seen). ``seconds`` is their sum:
    the model's share of an explanation; the rest is the explainer's own work."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model
        self.reset()

    def reset(self) -> None:
        """Zero the counters."""
        self.forward_seconds = self.backward_seconds = 0.0
        self.samples = 0
        self._entered = 0.0

    @property
    def seconds(self) -> float:
        """float: Forward plus backward seconds."""
        return self.forward_seconds + self.backward_seconds

    def forward(self, x):
        if torch.is_grad_enabled() and x.requires_grad:
            x = _Stamp.apply(x, self, True)
        t0 = time.perf_counter()
        out = self.model(x)
        self.forward_seconds += time.perf_counter() - t0
        self.samples += len(x)
        if torch.is_grad_enabled() and out.requires_grad:
            out = _Stamp.apply(out, self, False)
        return out


def chapter_durations(book_dir, exclude=()):
    """Each executed chapter's start, duration and status, from its papermill metadata.

    Parameters
    ----------
    book_dir : str or os.PathLike
        A folder of executed chapters (``NN_name.ipynb``).
    exclude : sequence of str
        Chapter names (file stems) to leave out.

    Returns
    -------
    pandas.DataFrame
        ``chapter``, ``start`` (UTC, to the second), ``duration_s`` (NaN if it did not
        finish) and ``status`` ("ok", "failed" or "incomplete"), in file-name order.
    """
    import json
    from pathlib import Path

    import numpy as np
    import pandas as pd

    rows = []
    for path in sorted(Path(book_dir).glob("[0-9][0-9]_*.ipynb")):
        if path.stem in exclude:
            continue
        meta = json.loads(path.read_text()).get("metadata", {}).get("papermill", {})
        status = "failed" if meta.get("exception") else ("ok" if meta.get("end_time") else "incomplete")
        rows.append({"chapter": path.stem, "start": (meta.get("start_time") or "")[:19],
                     "duration_s": meta.get("duration") or np.nan, "status": status})
    return pd.DataFrame(rows, columns=["chapter", "start", "duration_s", "status"])
