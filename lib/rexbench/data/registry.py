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
    """Read a registry file of ``relative/path sha256`` lines.

    Blank lines and lines starting with ``#`` are skipped.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Registry file (default: the package's ``registry.txt``).

    Returns
    -------
    dict of str to str
        SHA-256 hex digest by relative path.

    Raises
    ------
    ValueError
        If a line does not have exactly two fields or its hash is not 64 characters long.
    OSError
        If the file cannot be read.
    """
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
    """Return the local mirror folder, if one is configured.

    Parameters
    ----------
    mirror : str or os.PathLike, optional
        Mirror folder; if None, the ``REXBENCH_DATA_MIRROR`` environment variable is used.

    Returns
    -------
    pathlib.Path or None
        The folder with ``~`` expanded, or None when neither gives a (non-empty) value.
    """
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV)
    return Path(mirror).expanduser() if mirror else None


def cache_dir() -> Path:
    """Return the download cache folder.

    Returns
    -------
    pathlib.Path
        ``REXBENCH_CACHE`` if set and non-empty, else pooch's user cache folder for
        ``rexbench``, with ``~`` expanded.
    """
    return Path(os.environ.get(CACHE_ENV) or pooch.os_cache("rexbench")).expanduser()


def verify(path: Path, expected: str, name: str) -> Path:
    """Check that a file exists and has the expected SHA-256 hash.

    Parameters
    ----------
    path : pathlib.Path
        File to check.
    expected : str
        Expected SHA-256 hex digest.
    name : str
        Registry name of the file, used in error messages.

    Returns
    -------
    pathlib.Path
        ``path``, unchanged.

    Raises
    ------
    DataIntegrityError
        If the file is missing or its hash differs from ``expected``.
    """
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
    """Return a verified local path for registry entry ``name``.

    With a mirror, the file must be in the mirror (no silent download fallback): a
    missing or corrupt mirror file is an error naming the file and its expected hash.
    Without one, pooch downloads the file from the data set's base URL into
    ``cache_dir() / <data set>`` (or reuses a cached copy) and verifies its hash.

    Parameters
    ----------
    name : str
        Registry entry, ``<data set>/<relative path>``, e.g.
        ``mnist/t10k-labels-idx1-ubyte.gz``.
    mirror : str or os.PathLike, optional
        Mirror folder laid out like upstream; defaults to ``REXBENCH_DATA_MIRROR``.
    registry : dict of str to str, optional
        Hash by entry name; defaults to :func:`load_registry` of the package registry.

    Returns
    -------
    pathlib.Path
        Local path of the verified file.

    Raises
    ------
    KeyError
        If ``name`` is not in the registry.
    DataIntegrityError
        If the mirror file is missing or corrupt, no download location is known for the
        data set, or the downloaded file fails verification.
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
