"""Fetching data files against a SHA-256 registry, from a local mirror or by download.

The registry (``registry.txt``, package data beside this module) lists ``relative/path sha256``
lines; each data set has a base URL. If the environment variable ``REXBENCH_DATA_MIRROR``
(or the ``mirror`` argument) names a folder laid out like upstream, files are read from
there and verified; otherwise pooch downloads them into the cache
(``REXBENCH_CACHE``; default: pooch's user cache folder for ``rexbench``; the
compendium's Makefile and chapter runner set it to ``data/cache`` in the repository) and verifies them.
"""
from __future__ import annotations

import os
from pathlib import Path

import pooch

from ..io import sha256_file

REGISTRY_FILE = Path(__file__).with_name("registry.txt")
MIRROR_ENV = "REXBENCH_DATA_MIRROR"
CACHE_ENV = "REXBENCH_CACHE"

# Upstream locations of each data set (the registry paths are relative to these).
BASE_URLS = {
    "mnist": "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "fsdd": "https://raw.githubusercontent.com/Jakobovski/free-spoken-digit-dataset/26eb9aaf76e81b692f806f9140c2d2777410d7a1/",
}


class DataIntegrityError(RuntimeError):
    """A data file is missing, truncated or does not match its registered hash."""


def load_registry(path: str | os.PathLike = REGISTRY_FILE) -> dict[str, str]:
    registry = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or len(parts[1]) != 64:
            raise ValueError(f"{path}:{n}: expected 'relative/path sha256', got {line!r}")
        registry[parts[0]] = parts[1]
    return registry


def mirror_dir(mirror: str | os.PathLike | None = None) -> Path | None:
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV)
    return Path(mirror).expanduser() if mirror else None


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or pooch.os_cache("rexbench")).expanduser()


def verify(path: Path, expected: str, name: str) -> Path:
    if not path.exists():
        raise DataIntegrityError(f"{name}: file {path} is missing (expected sha256 {expected})")
    actual = sha256_file(path)
    if actual != expected:
        raise DataIntegrityError(
            f"{name}: file {path} is corrupt or not the registered version: "
            f"sha256 {actual}, expected {expected}"
        )
    return path


def fetch(name: str, mirror: str | os.PathLike | None = None, registry: dict[str, str] | None = None) -> Path:
    """Return a verified local path for registry entry ``name`` (e.g. ``mnist/t10k-labels-idx1-ubyte.gz``).

    With a mirror, the file must be in the mirror (no silent download fallback): a
    missing or corrupt mirror file is an error naming the file and its expected hash.
    """
    registry = load_registry() if registry is None else registry
    if name not in registry:
        raise KeyError(f"{name!r} is not in the data registry {REGISTRY_FILE}")
    expected = registry[name]
    root = mirror_dir(mirror)
    if root is not None:
        return verify(root / name, expected, name)
    dataset, _, rel = name.partition("/")
    if dataset not in BASE_URLS:
        raise DataIntegrityError(f"{name}: no download location is known; set {MIRROR_ENV} to a local copy")
    try:
        path = pooch.retrieve(
            url=BASE_URLS[dataset] + rel,
            known_hash=f"sha256:{expected}",
            fname=rel.replace("/", "_"),
            path=cache_dir() / dataset,
            progressbar=False,
        )
    except ValueError as err:  # pooch's hash mismatch
        raise DataIntegrityError(f"{name}: downloaded file failed verification: {err}") from err
    return Path(path)
