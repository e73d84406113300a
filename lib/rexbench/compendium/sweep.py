"""Sweeps of independent tasks (explanations or metric scores of a chunk of inputs), run
in-process or on a Dask cluster, one artifact per task.

A chapter describes its sweep as a list of :class:`Task`: a function of picklable
arguments that returns a dict of arrays, the artifact it is written to, and the parameters
that made it. :func:`run_tasks` skips tasks whose artifact is complete, computes the rest
on the scheduler named by the chapter's ``scheduler`` parameter and writes each result
atomically, with its manifest, as soon as it arrives, so an interrupted sweep (a killed
run, a lost worker) costs at most the chunks in flight and a rerun continues from there.

Schedulers (:func:`parse_scheduler`):

* ``None`` or ``"none"``: in this process, task after task.
* ``"local:N"``: a ``dask.distributed.LocalCluster`` of N single-threaded worker processes.
* anything else: the address of a running Dask scheduler, e.g. ``"tcp://10.0.0.5:8786"``
  (one started by dask-jobqueue on SLURM); its workers need ``rexbench`` installed.

Results do not depend on the scheduler: a task's result is a function of its arguments
alone (every random draw inside it is seeded from them), and inputs are split into
chunks by a chapter parameter, never by the number of workers.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .artifacts import cached_npz, is_complete, load_npz, save_npz, write_manifest


@dataclass(frozen=True)
class Task:
    """One unit of a sweep: ``func(*args)`` -> dict of arrays, stored at ``path``.

    Attributes
    ----------
    path : pathlib.Path
        The artifact (``.npz``) the result is written to.
    func : callable
        Computes the result; must be picklable to run on a Dask cluster.
    args : tuple
        Positional arguments of ``func`` (picklable).
    params : Mapping[str, Any]
        The parameters that make the result, recorded in its manifest.
    notebook : str
        The notebook the sweep belongs to.
    inputs : Mapping[str, str or os.PathLike], optional
        Input files recorded (with their hashes) in the manifest.
    """

    path: Path
    func: Callable[..., Mapping[str, np.ndarray]]
    args: tuple
    params: Mapping[str, Any]
    notebook: str
    inputs: Mapping[str, str | os.PathLike] | None = field(default=None)


def parse_scheduler(spec: str | None) -> tuple[str, Any]:
    """Parse a chapter's ``scheduler`` parameter.

    Parameters
    ----------
    spec : str or None
        None, ``""`` or ``"none"`` (any case), ``"local:N"``, or a scheduler address
        containing ``":"`` (e.g. ``"tcp://host:8786"``); surrounding whitespace is ignored.

    Returns
    -------
    tuple
        ``("none", None)``, ``("local", n_workers)`` or ``("address", address)``.

    Raises
    ------
    TypeError
        If ``spec`` is neither a string nor None.
    ValueError
        If ``"local:N"`` does not give N >= 1, or ``spec`` is none of the forms above.
    """
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in ("", "none")):
        return "none", None
    if not isinstance(spec, str):
        raise TypeError(f"parameter 'scheduler' must be a string or None, got {type(spec).__name__}")
    spec = spec.strip()
    if spec.startswith("local:"):
        n = spec.split(":", 1)[1]
        if not n.isdigit() or int(n) < 1:
            raise ValueError(f"parameter 'scheduler'={spec!r}: 'local:N' needs N >= 1 workers")
        return "local", int(n)
    if "://" not in spec and ":" not in spec:
        raise ValueError(f"parameter 'scheduler'={spec!r} is neither 'none', 'local:N' nor a scheduler "
                         "address such as 'tcp://host:8786'")
    return "address", spec


def chunks(n: int, size: int) -> list[tuple[int, int]]:
    """Split ``range(n)`` into consecutive pieces of ``size``.

    Parameters
    ----------
    n : int
        Number of items.
    size : int
        Items per piece.

    Returns
    -------
    list of tuple of int
        ``[(lo, hi), ...]`` covering ``range(n)`` (the last piece may be shorter; empty
        for ``n = 0``).

    Raises
    ------
    ValueError
        If ``size`` is below 1.
    """
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


def _timed(func, *args):
    t0 = time.perf_counter()
    out = {k: np.asarray(v) for k, v in dict(func(*args)).items()}
    return out, time.perf_counter() - t0


def _save(task: Task, result: dict, seconds: float) -> None:
    save_npz(task.path, **result)
    write_manifest(task.path, notebook=task.notebook, params=task.params, inputs=task.inputs,
                   compute_seconds=seconds)


def _client(kind: str, target):
    from distributed import Client, LocalCluster

    if kind == "local":
        import dask

        # Worker processes with one thread each: the models here are small, so processes
        # scale better than threads, and torch in a worker does not oversubscribe the cores.
        # One BLAS/OpenMP thread per worker: an inherited OMP_NUM_THREADS (the Makefile sets it
        # to the core count) would run cores x workers threads and oversubscribe the machine.
        one = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
        # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also fixes glibc's mmap
        # threshold: every large torch activation is then a fresh mmap, and the models ran
        # about 1.8x slower per query in a worker than in this process. Start them with the
        # book's allocator settings instead (MALLOC_ENV; values already in this process's
        # environment win, as Dask does it).
        from .bench import MALLOC_ENV

        with dask.config.set({f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in MALLOC_ENV.items()}):
            cluster = LocalCluster(n_workers=target, threads_per_worker=1, processes=True, dashboard_address=None,
                                   env=one)
        return Client(cluster), cluster
    return Client(target), None


def run_tasks(tasks: Sequence[Task], scheduler: str | None = None, retries: int = 2) -> list[dict[str, np.ndarray]]:
    """Compute every task whose artifact is missing or stale, on ``scheduler``.

    Each result is written, with its manifest, as soon as it arrives. On a Dask
    scheduler the client (and a local cluster) is closed afterwards, even on error.

    Parameters
    ----------
    tasks : sequence of Task
        The sweep; no two tasks may share an artifact path.
    scheduler : str, optional
        Where to compute (see :func:`parse_scheduler`); in this process if None.
    retries : int, optional
        Times Dask retries a failed task (default 2; unused in this process).

    Returns
    -------
    list of dict of str to numpy.ndarray
        Every task's arrays, loaded from its artifact, in the order of ``tasks``.

    Raises
    ------
    ValueError
        If two tasks write the same artifact, or ``scheduler`` is invalid.
    TypeError
        If ``scheduler`` is neither a string nor None.
    Exception
        Whatever a failing task raises (after the results finished before it are saved).
    """
    kind, target = parse_scheduler(scheduler)
    paths = [Path(t.path) for t in tasks]
    if len(set(paths)) != len(paths):
        raise ValueError("two tasks of the sweep write the same artifact")
    pending = [t for t in tasks if not is_complete(t.path, t.params)]
    if pending and kind == "none":
        for task in pending:
            _save(task, *_timed(task.func, *task.args))
    elif pending:
        from distributed import as_completed

        client, cluster = _client(kind, target)
        try:
            futures = {client.submit(_timed, t.func, *t.args, pure=False, retries=retries): t for t in pending}
            # Write each chunk as it arrives; a failing task raises here, after the
            # chunks finished before it are safely on disk.
            for future in as_completed(futures):
                _save(futures[future], *future.result())
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    return [load_npz(t.path) for t in tasks]


def concat(results: Sequence[Mapping[str, np.ndarray]], keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Join chunk results along their first axis (0-d arrays, e.g. seconds, are summed).

    Parameters
    ----------
    results : sequence of Mapping[str, numpy.ndarray]
        Chunk results, in order.
    keys : sequence of str, optional
        Arrays to join; defaults to the keys of the first result.

    Returns
    -------
    dict of str to numpy.ndarray
        The joined arrays.

    Raises
    ------
    ValueError
        If ``results`` is empty.
    KeyError
        If a result lacks one of the keys.
    """
    if not results:
        raise ValueError("no chunk results to join")
    keys = list(keys or results[0].keys())
    out = {}
    for k in keys:
        parts = [np.asarray(r[k]) for r in results]
        out[k] = np.sum(parts, axis=0) if parts[0].ndim == 0 else np.concatenate(parts, axis=0)
    return out


@dataclass
class Cell:
    """One result of a chapter's sweep (e.g. a method's maps of a data set's inputs), computed
    in chunks of inputs and stored whole at ``path``.

    ``func(*args(lo, hi))`` computes inputs ``lo:hi``; ``params`` key the cell (its chunks add
    ``"inputs": [lo, hi]``); ``n`` inputs; ``extra`` arrays are stored with the joined chunks;
    ``same_as`` names another cell whose result this one is (computed once, stored twice).

    Attributes
    ----------
    path : pathlib.Path
        The artifact the joined result is stored at.
    params : Mapping[str, Any]
        The parameters that key the cell.
    func : callable or None
        Computes one chunk (None for a cell with ``same_as``).
    args : callable or None
        ``args(lo, hi)`` gives the positional arguments of ``func`` for inputs
        ``lo:hi``.
    n : int
        Number of inputs.
    inputs : Mapping[str, str or os.PathLike], optional
        Input files recorded in the manifests.
    extra : Mapping[str, numpy.ndarray]
        Arrays stored with the joined chunks (default none).
    same_as : Any
        Key of another cell whose result this one is, or None.
    """

    path: Path
    params: Mapping[str, Any]
    func: Callable[..., Mapping[str, np.ndarray]] | None
    args: Callable[[int, int], tuple] | None
    n: int
    inputs: Mapping[str, str | os.PathLike] | None = None
    extra: Mapping[str, np.ndarray] = field(default_factory=dict)
    same_as: Any = None


def run_cells(cells: Mapping[Any, Cell], *, chunk_size: int, scheduler: str | None, notebook: str,
              store: bool = True) -> dict[Any, dict[str, np.ndarray]]:
    """Compute every cell's missing chunks as one sweep and return every cell's arrays.

    The missing chunks are computed as one sweep (:func:`run_tasks`); each cell's chunks
    are then joined and stored (``store=False``: chunks only).

    A complete cell needs none of its chunks; an interrupted sweep continues from the chunks
    on disk; chunking never changes a result (each input's draws are seeded by its key).
    Chunks are written to a ``chunks`` folder beside the cell's artifact (beside it when
    ``store=False``), named ``<stem>_<lo>-<hi>.npz``. Prints the number of chunks to
    compute to standard error.

    Parameters
    ----------
    cells : Mapping[Any, Cell]
        The cells, by key.
    chunk_size : int
        Inputs per chunk.
    scheduler : str or None
        Where to compute (see :func:`parse_scheduler`).
    notebook : str
        The notebook the sweep belongs to, recorded in the manifests.
    store : bool, optional
        Store each joined cell at its ``path`` (default True).

    Returns
    -------
    dict
        Every cell's arrays (dict of str to numpy.ndarray), by key, in the order of
        ``cells``.

    Raises
    ------
    ValueError
        If ``chunk_size`` is below 1, or as :func:`run_tasks` does.
    """
    copies = [key for key, cell in cells.items() if cell.same_as is not None]
    if copies and not store:
        raise ValueError(f"cells {copies} copy another cell's result (same_as), which needs store=True")
    missing = [key for key in copies if cells[key].same_as not in cells]
    if missing:
        raise ValueError(f"cells {missing} copy a cell that is not in the sweep")
    tasks, spans = [], {}
    for key, cell in cells.items():
        first = len(tasks)
        if cell.same_as is None and not (store and is_complete(cell.path, cell.params)):
            folder = cell.path.parent / "chunks" if store else cell.path.parent
            for lo, hi in chunks(cell.n, chunk_size):
                tasks.append(Task(folder / f"{cell.path.stem}_{lo:05d}-{hi:05d}.npz", cell.func, cell.args(lo, hi),
                                  {**cell.params, "inputs": [lo, hi]}, notebook, cell.inputs))
        spans[key] = (first, len(tasks))
    print(f"{len(tasks)} chunks to compute", file=sys.stderr)  # progress: the run's log, not the page
    done = run_tasks(tasks, scheduler)
    results: dict[Any, dict[str, np.ndarray]] = {}
    for key in sorted(cells, key=lambda k: cells[k].same_as is not None):  # originals before their copies
        cell, (lo, hi) = cells[key], spans[key]
        if not store:
            results[key] = concat(done[lo:hi])
            continue
        if cell.same_as is not None:
            original = results[cell.same_as]
            compute = lambda original=original: original
        else:
            compute = lambda lo=lo, hi=hi, cell=cell: {**concat(done[lo:hi]), **cell.extra}
        results[key] = cached_npz(cell.path, compute, notebook=notebook, params=cell.params, inputs=cell.inputs)
    return {key: results[key] for key in cells}
