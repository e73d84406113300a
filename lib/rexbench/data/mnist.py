"""MNIST from the original gzip-compressed IDX files."""
from __future__ import annotations

import gzip
import os
import struct

import numpy as np

from .registry import DataIntegrityError, fetch

FILES = {
    "train": ("mnist/train-images-idx3-ubyte.gz", "mnist/train-labels-idx1-ubyte.gz"),
    "test": ("mnist/t10k-images-idx3-ubyte.gz", "mnist/t10k-labels-idx1-ubyte.gz"),
}


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse an (uncompressed) IDX file: magic 0x0000{type}{ndim}, big-endian dims, data.

    Parameters
    ----------
    raw : bytes
        Contents of the IDX file.
    name : str, optional
        Name of the source, used in error messages.

    Returns
    -------
    numpy.ndarray
        Array of shape ``dims`` in the file's data type, converted to native byte order.

    Raises
    ------
    DataIntegrityError
        If the magic number or data type code is invalid, the header is truncated, or
        the payload size does not match the dimensions.
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataIntegrityError(f"{name}: not an IDX file (bad magic {raw[:4]!r})")
    dtype_code, ndim = raw[2], raw[3]
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if dtype_code not in dtypes:
        raise DataIntegrityError(f"{name}: unknown IDX data type 0x{dtype_code:02x}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataIntegrityError(f"{name}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(dtypes[dtype_code])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataIntegrityError(
            f"{name}: IDX payload has {len(raw) - header} bytes, dims {dims} need {expected}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def read_idx_gz(path: str | os.PathLike) -> np.ndarray:
    """Read and parse a gzip-compressed IDX file.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.gz`` file.

    Returns
    -------
    numpy.ndarray
        The parsed array (see :func:`parse_idx`).

    Raises
    ------
    DataIntegrityError
        If the file cannot be opened or decompressed, or is not a valid IDX file.
    """
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise DataIntegrityError(f"{path}: cannot decompress: {err}") from err
    return parse_idx(raw, str(path))


def load_mnist(split: str = "train", mirror: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Load an MNIST split from its registry-verified IDX files.

    Parameters
    ----------
    split : {"train", "test"}, optional
        Which split to load (default ``"train"``).
    mirror : str or os.PathLike, optional
        Local mirror folder passed to :func:`~rexbench.data.registry.fetch`.

    Returns
    -------
    images : numpy.ndarray
        ``uint8`` array of shape ``(N, 28, 28)``.
    labels : numpy.ndarray
        ``int64`` array of shape ``(N,)``.

    Raises
    ------
    ValueError
        If ``split`` is not ``"train"`` or ``"test"``.
    DataIntegrityError
        If a file is missing, corrupt or malformed, or images are not 3-D or their count
        differs from the labels'.
    """
    if split not in FILES:
        raise ValueError(f"split must be one of {sorted(FILES)}, got {split!r}")
    img_name, lab_name = FILES[split]
    images = read_idx_gz(fetch(img_name, mirror))
    labels = read_idx_gz(fetch(lab_name, mirror)).astype(np.int64)
    if images.ndim != 3 or len(images) != len(labels):
        raise DataIntegrityError(f"MNIST {split}: {images.shape} images vs {labels.shape} labels")
    return images, labels
