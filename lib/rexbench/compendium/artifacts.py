"""Atomic artifact files with manifests, so a crashed run never leaves a half-written
result and a rerun continues from what is complete.

An artifact ``X`` is written as ``X`` plus ``X.manifest.json``; the manifest records what
made it (notebook, parameters, library version, input hashes) and the SHA-256 of ``X``.
An artifact counts as present only when both exist and the hash matches.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..io import (atomic_write_bytes, atomic_write_text, jsonable, load_npz, params_key, save_npz,  # noqa: F401
                  sha256_file)

REPO_ROOT = Path(__file__).resolve().parents[3]


def manifest_path(path: str | os.PathLike) -> Path:
    """Return the manifest path of an artifact: ``path`` + ``.manifest.json``.

    Parameters
    ----------
    path : str or os.PathLike
        The artifact.

    Returns
    -------
    pathlib.Path
        The manifest's path, in the artifact's folder.
    """
    path = Path(path)
    return path.with_name(path.name + ".manifest.json")


def write_manifest(
    path: str | os.PathLike,
    *,
    notebook: str,
    params: Mapping[str, Any],
    inputs: Mapping[str, str | os.PathLike] | None = None,
    compute_seconds: float | None = None,
) -> dict:
    """Record what made ``path`` (and, if given, how long computing it took).

    Call after ``path`` itself is complete. The manifest, written atomically as sorted,
    indented JSON, holds the artifact's name and SHA-256, the notebook, the parameters
    and their :func:`~rexbench.io.params_key`, the library version, the path and SHA-256
    of each input, and the compute time rounded to 0.1 s.

    Parameters
    ----------
    path : str or os.PathLike
        The complete artifact.
    notebook : str
        The notebook that made it.
    params : Mapping[str, Any]
        The parameters that made it (JSON-serialisable after :func:`~rexbench.io.jsonable`).
    inputs : Mapping[str, str or os.PathLike], optional
        Input files by name, hashed so that a changed input makes the artifact stale.
    compute_seconds : float, optional
        How long computing it took.

    Returns
    -------
    dict
        The manifest.

    Raises
    ------
    OSError
        If the artifact or an input cannot be read (e.g. it does not exist).
    """
    path = Path(path)
    manifest = {
        "artifact": path.name,
        "sha256": sha256_file(path),
        "notebook": notebook,
        "params": jsonable(dict(params)),
        "params_key": params_key(params),
        "rexbench_version": __version__,
        "inputs": {name: {"path": str(p), "sha256": sha256_file(p)} for name, p in (inputs or {}).items()},
        "compute_seconds": None if compute_seconds is None else round(float(compute_seconds), 1),
    }
    atomic_write_text(manifest_path(path), json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def read_manifest(path: str | os.PathLike) -> dict | None:
    """Return an artifact's manifest, or None if it is missing or not valid JSON.

    Parameters
    ----------
    path : str or os.PathLike
        The artifact (not the manifest).

    Returns
    -------
    dict or None
        The parsed manifest.
    """
    mpath = manifest_path(path)
    if not mpath.exists():
        return None
    try:
        return json.loads(mpath.read_text())
    except json.JSONDecodeError:
        return None


def is_complete(path: str | os.PathLike, params: Mapping[str, Any] | None = None) -> bool:
    """Tell whether an artifact is complete and up to date.

    True if ``path`` and its manifest exist, the hash matches, (if given) the parameters
    that made it equal ``params`` (compared by :func:`~rexbench.io.params_key`), and
    every input recorded in the manifest still exists with its recorded hash.

    Parameters
    ----------
    path : str or os.PathLike
        The artifact.
    params : Mapping[str, Any], optional
        The parameters it must have been made with; not checked if None.

    Returns
    -------
    bool
        Whether the artifact can be used as is.
    """
    path = Path(path)
    if not path.exists():
        return False
    manifest = read_manifest(path)
    if manifest is None or manifest.get("sha256") != sha256_file(path):
        return False
    if params is not None and manifest.get("params_key") != params_key(params):
        return False
    for name, entry in manifest.get("inputs", {}).items():
        p = Path(entry["path"])
        if not p.exists() or sha256_file(p) != entry["sha256"]:
            return False
    return True


def cached_npz(
    path: str | os.PathLike,
    compute: Callable[[], Mapping[str, np.ndarray]],
    *,
    notebook: str,
    params: Mapping[str, Any],
    inputs: Mapping[str, str | os.PathLike] | None = None,
) -> dict[str, np.ndarray]:
    """Load ``path`` if it is a complete artifact made with ``params``; else compute it.

    When computing, the arrays are written atomically as ``.npz`` with a manifest
    (recording the compute time) and read back from the file.

    Parameters
    ----------
    path : str or os.PathLike
        The artifact.
    compute : callable
        Called with no arguments; returns a mapping of array names to arrays.
    notebook : str
        The notebook that makes it.
    params : Mapping[str, Any]
        The parameters that make it.
    inputs : Mapping[str, str or os.PathLike], optional
        Input files by name (see :func:`write_manifest`).

    Returns
    -------
    dict of str to numpy.ndarray
        The arrays, as stored.
    """
    if is_complete(path, params):
        return load_npz(path)
    import time

    t0 = time.perf_counter()
    arrays = dict(compute())
    seconds = time.perf_counter() - t0
    save_npz(path, **arrays)
    write_manifest(path, notebook=notebook, params=params, inputs=inputs, compute_seconds=seconds)
    return load_npz(path)


def write_table(df, path: str | os.PathLike, float_format: str = "%.6g") -> None:
    """Write a pandas table as CSV atomically, with a fixed float format.

    The fixed format (and newline line endings, no index column) makes reruns give
    byte-identical files.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    path : str or os.PathLike
        Destination file.
    float_format : str, optional
        Format of floats (default ``"%.6g"``).
    """
    atomic_write_text(path, df.to_csv(index=False, float_format=float_format, lineterminator="\n"))


def compute_times(folder: str | os.PathLike) -> "pandas.DataFrame":
    """List every manifest under ``folder``, for reporting what a chapter costs from scratch.

    Manifests that are not valid JSON are skipped.

    Parameters
    ----------
    folder : str or os.PathLike
        Folder searched recursively for ``*.manifest.json``.

    Returns
    -------
    pandas.DataFrame
        Columns ``notebook``, ``artifact`` (path relative to ``folder``) and
        ``compute_seconds`` (float, NaN where not recorded), one row per manifest in
        sorted path order.
    """
    import pandas as pd

    rows = []
    for m in sorted(Path(folder).rglob("*.manifest.json")):
        try:
            d = json.loads(m.read_text())
        except json.JSONDecodeError:
            continue
        rows.append({"notebook": d.get("notebook"), "artifact": str(m.relative_to(folder))[: -len(".manifest.json")],
                     "compute_seconds": d.get("compute_seconds")})
    return pd.DataFrame(rows, columns=["notebook", "artifact", "compute_seconds"]).astype({"compute_seconds": float})
