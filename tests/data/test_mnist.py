"""MNIST (rexbench.data.mnist): IDX parsing, damaged files, and the mirrored test set."""
import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from rexbench.data import DataIntegrityError, load_mnist
from rexbench.data.mnist import parse_idx, read_idx_gz

MIRROR = os.environ.get("REXBENCH_DATA_MIRROR")


def idx_bytes(arr: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(np.uint8).tobytes()


def test_parse_idx_roundtrip():
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(parse_idx(idx_bytes(arr)), arr)


def test_parse_idx_rejects_bad_files():
    arr = np.zeros((2, 2), np.uint8)
    with pytest.raises(DataIntegrityError, match="bad magic"):
        parse_idx(b"\x01\x02" + idx_bytes(arr)[2:])
    with pytest.raises(DataIntegrityError, match="payload has 3 bytes"):
        parse_idx(idx_bytes(arr)[:-1])


def test_truncated_gzip(tmp_path):
    p = tmp_path / "x.gz"
    p.write_bytes(gzip.compress(idx_bytes(np.zeros((4, 4), np.uint8)))[:-10])
    with pytest.raises(DataIntegrityError, match="x.gz"):
        read_idx_gz(p)


@pytest.mark.skipif(not MIRROR or not Path(MIRROR, "mnist").exists(), reason="no local MNIST mirror")
def test_mnist_from_mirror():
    images, labels = load_mnist("test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).sum() == 10000 and labels.min() == 0 and labels.max() == 9
