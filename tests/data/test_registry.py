"""Fetching data against the SHA-256 registry (rexbench.data.registry): package data, the
mirror, checksum failures and the cache folder."""
from pathlib import Path

import pooch
import pytest

import rexbench.data
from helpers import ROOT
from rexbench.data import DataIntegrityError, fetch
from rexbench.data.registry import REGISTRY_FILE, cache_dir, load_registry


def test_checksum_failure_names_file_and_hash(tmp_path):
    registry = {"mnist/t10k-labels-idx1-ubyte.gz": "a" * 64}
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"corrupt")
    with pytest.raises(DataIntegrityError, match="t10k-labels-idx1-ubyte.gz.*expected a{64}"):
        fetch("mnist/t10k-labels-idx1-ubyte.gz", mirror=tmp_path, registry=registry)


def test_missing_mirror_file(tmp_path):
    with pytest.raises(DataIntegrityError, match="is missing"):
        fetch("mnist/t10k-labels-idx1-ubyte.gz", mirror=tmp_path)


def test_registry_lists_every_mnist_file():
    reg = load_registry()
    assert {k for k in reg if k.startswith("mnist/")} == {
        f"mnist/{s}-{k}-idx{n}-ubyte.gz" for s in ("train", "t10k") for k, n in (("images", 3), ("labels", 1))
    }


def test_the_registry_is_package_data_beside_its_module():
    """One registry, installed with the package (pyproject's package-data), not a file of
    the repository's data folder."""
    assert REGISTRY_FILE == Path(rexbench.data.__file__).parent / "registry.txt" and REGISTRY_FILE.is_file()
    assert not (ROOT / "data" / "registry.txt").exists()
    assert load_registry() == load_registry(REGISTRY_FILE)


def test_bad_registry_lines_and_unknown_names(tmp_path):
    bad = tmp_path / "registry.txt"
    bad.write_text("# comment\n\nmnist/a.gz 1234\n")
    with pytest.raises(ValueError, match=r"registry.txt:3: expected 'relative/path sha256'"):
        load_registry(bad)
    with pytest.raises(KeyError, match="'mnist/nothing.gz' is not in the data registry"):
        fetch("mnist/nothing.gz", mirror=tmp_path)


def test_cache_folder_is_rexbench_cache_or_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("REXBENCH_CACHE", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("REXBENCH_CACHE")
    assert cache_dir() == Path(pooch.os_cache("rexbench"))
    monkeypatch.setenv("REXBENCH_CACHE", "")  # set but empty: the default, not the working directory
    assert cache_dir() == Path(pooch.os_cache("rexbench"))
