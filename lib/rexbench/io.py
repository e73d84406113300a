"""File I/O the whole library shares: content hashes, atomic writes, npz arrays and stable
hashes of parameter mappings. Knows nothing of chapters, profiles or caches."""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Return the SHA-256 hex digest of a file's contents.

    Parameters
    ----------
    path : str or os.PathLike
        File to hash.
    chunk : int, optional
        Number of bytes read at a time (default 1 MiB).

    Returns
    -------
    str
        Hexadecimal SHA-256 digest (64 characters).

    Raises
    ------
    OSError
        If the file cannot be opened or read.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    Missing parent folders are created. The temporary file is flushed and fsynced, given
    the usual permissions (``0o666`` minus the umask) and then renamed over ``path``, so
    readers see either the old file or the complete new one. On any error the temporary
    file is removed and the exception re-raised.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file.
    data : bytes
        Bytes to write.

    Raises
    ------
    OSError
        If the folder cannot be created or the file written or renamed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically, encoded as UTF-8.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file.
    text : str
        Text to write.

    See Also
    --------
    atomic_write_bytes
    """
    atomic_write_bytes(path, text.encode("utf-8"))


def jsonable(obj: Any) -> Any:
    """Convert an object, recursively, into something :func:`json.dumps` accepts.

    Mappings become dicts with ``str`` keys, lists and tuples become lists, numpy
    integers and floats become ``int`` and ``float``, and paths become ``str``. Anything
    else is returned unchanged.

    Parameters
    ----------
    obj : Any
        Object to convert.

    Returns
    -------
    Any
        The converted object.
    """
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def params_key(params: Mapping[str, Any]) -> str:
    """Return a short stable hash of a parameter mapping.

    The mapping is passed through :func:`jsonable`, dumped as JSON with sorted keys and
    hashed with SHA-256.

    Parameters
    ----------
    params : Mapping[str, Any]
        Parameters to hash.

    Returns
    -------
    str
        The first 16 hexadecimal characters of the digest.

    Raises
    ------
    TypeError
        If a value cannot be serialised to JSON.
    """
    blob = json.dumps(jsonable(params), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Save arrays to a compressed ``.npz`` file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file (written as given; no ``.npz`` suffix is added).
    **arrays : numpy.ndarray
        Arrays to store, under their keyword names.
    """
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz`` file into a dict.

    Pickled (object) arrays are refused.

    Parameters
    ----------
    path : str or os.PathLike
        File to read.

    Returns
    -------
    dict of str to numpy.ndarray
        The arrays, by name.

    Raises
    ------
    ValueError
        If the file holds object arrays (``allow_pickle=False``).
    """
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def array_digest(array) -> str:
    """A 16-character hash of an array's dtype, shape and bytes (numpy array or tensor):
    how an array setting (a baseline, a background set, a feature mask) enters a cache key.

    Parameters
    ----------
    array : numpy.ndarray, torch.Tensor or array_like
        The array; a tensor is detached and copied to the CPU.

    Returns
    -------
    str
        The first 16 hex digits of the SHA-256 of the dtype (with its byte order), the shape
        and the C-ordered bytes: equal values of another dtype or shape hash differently.
    """
    a = np.ascontiguousarray(array.detach().cpu().numpy() if hasattr(array, "detach") else np.asarray(array))
    return hashlib.sha256(str((a.dtype.str, a.shape)).encode() + a.tobytes()).hexdigest()[:16]
