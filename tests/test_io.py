"""Shared file I/O (rexbench.io): atomic writes, npz arrays without pickles, stable
parameter hashes; rexbench.compendium.artifacts re-exports them."""
import hashlib

import numpy as np
import pytest

from rexbench import io
from rexbench.compendium import artifacts


class Payload:
    def __reduce__(self):
        return (print, ("this should never run",))


def test_artifacts_with_objects_are_refused(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.array([Payload()], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        io.load_npz(tmp_path / "a.npz")


def test_npz_round_trip_and_atomic_writes(tmp_path):
    io.save_npz(tmp_path / "sub" / "a.npz", x=np.arange(3), s=np.array(["a", "b"]))
    back = io.load_npz(tmp_path / "sub" / "a.npz")
    assert back["x"].tolist() == [0, 1, 2] and back["s"].tolist() == ["a", "b"]
    io.atomic_write_text(tmp_path / "t.txt", "é")
    assert (tmp_path / "t.txt").read_bytes() == "é".encode()
    assert not list(tmp_path.rglob(".*.tmp"))
    assert io.sha256_file(tmp_path / "t.txt") == hashlib.sha256("é".encode()).hexdigest()


def test_params_key_is_stable_and_order_free():
    from pathlib import Path

    a = io.params_key({"b": np.int64(2), "a": [1.0, np.float32(0.5)], "p": Path("x")})
    assert a == io.params_key({"a": [1.0, 0.5], "p": "x", "b": 2}) and len(a) == 16
    assert a != io.params_key({"a": [1.0, 0.5], "p": "x", "b": 3})


def test_artifacts_reexports_io():
    for name in ("atomic_write_bytes", "atomic_write_text", "load_npz", "save_npz", "sha256_file", "params_key"):
        assert getattr(artifacts, name) is getattr(io, name)
