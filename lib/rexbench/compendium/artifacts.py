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
    """Record what made ``path`` (and, if given, how long computing it took): call after
    ``path`` itself is complete."""
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
    mpath = manifest_path(path)
    if not mpath.exists():
        return None
    try:
        return json.loads(mpath.read_text())
    except json.JSONDecodeError:
        return None


def is_complete(path: str | os.PathLike, params: Mapping[str, Any] | None = None) -> bool:
    """True if ``path`` and its manifest exist, the hash matches and (if given) the
    parameters that made it equal ``params``."""
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
    """Load ``path`` if it is a complete artifact made with ``params``; else compute,
    write atomically with a manifest, and return the arrays."""
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
    """Write a pandas table as CSV atomically, with a fixed float format so that
    reruns give byte-identical files."""
    atomic_write_text(path, df.to_csv(index=False, float_format=float_format, lineterminator="\n"))


def compute_times(folder: str | os.PathLike) -> "pandas.DataFrame":
    """Every manifest under ``folder``: notebook, artifact and the seconds computing it
    took (NaN where not recorded), for reporting what a chapter costs from scratch."""
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
