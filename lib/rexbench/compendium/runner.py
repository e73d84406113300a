"""Which chapters a rebuild must re-execute (used by ``scripts/run_chapters.py``).

After a chapter runs, a stamp under ``data/<profile>/.chapters/`` records its fingerprint
(its notebook's cells, its parameters, the library's code, the lock file and the data
registry), when it finished, the hash of its executed notebook and the files it wrote or
owns (artifacts whose manifest names it, tables, figures). A chapter is re-executed when

* it has no stamp, or its fingerprint changed (notebook, parameters, library, lock, registry);
* its executed notebook or a file it recorded is missing or changed (a file rewritten
  with the same bytes counts as unchanged: its content hash is recorded too);
* a chapter it reads from finished after it: the earlier chapters of its part of the book
  (chapters numbered 90 and up, the pages about the book, read every chapter).

So a second ``make book`` with nothing changed only checks stamps, and changing one
chapter re-executes it and the chapters after it in its part.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..io import atomic_write_text, sha256_file

ABOUT_FROM = 90  # chapters numbered from here on read every chapter
NOT_RESULTS = {"runner.py", "presentation.py"}  # library files that cannot change a chapter's results


def _digest(h, path: Path) -> None:
    h.update(path.name.encode())
    h.update(path.read_bytes())


def source_digest(text: str) -> str:
    """Hash a Python module's code without its docstrings and comments (its AST).

    Documenting the library therefore does not re-execute the book. A docstring is the
    first statement of a module, class or function body when it is a string constant;
    it is dropped (a body left empty becomes ``pass``) and the AST dump is hashed.

    Parameters
    ----------
    text : str
        The module's source.

    Returns
    -------
    str
        SHA-256 hex digest of the AST dump, or of the text itself for a file that does
        not parse.
    """
    import ast

    try:
        tree = ast.parse(text)
    except SyntaxError:
        return hashlib.sha256(text.encode()).hexdigest()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()


def code_fingerprint(root: Path) -> str:
    """Hash everything a chapter's results can depend on besides its own notebook and parameters.

    That is the library's code (docstrings and comments left out; the modules in
    ``NOT_RESULTS`` skipped), the lock file and the data registry (each if present).

    Parameters
    ----------
    root : pathlib.Path
        The repository root.

    Returns
    -------
    str
        SHA-256 hex digest.
    """
    h = hashlib.sha256()
    lib = root / "lib" / "rexbench"
    for p in sorted(lib.rglob("*.py")):
        if p.name in NOT_RESULTS:
            continue
        h.update(str(p.relative_to(root)).encode())
        h.update(source_digest(p.read_text()).encode())
    for path in (root / "requirements.lock", lib / "data" / "registry.txt"):
        if path.exists():
            _digest(h, path)
    return h.hexdigest()


def notebook_fingerprint(path: Path) -> str:
    """Hash a source notebook's cells (type and source), not its metadata.

    Parameters
    ----------
    path : pathlib.Path
        The ``.ipynb`` file.

    Returns
    -------
    str
        SHA-256 hex digest.

    Raises
    ------
    json.JSONDecodeError
        If the notebook is not valid JSON.
    """
    nb = json.loads(Path(path).read_text())
    cells = [(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"])
             for c in nb["cells"]]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def fingerprint(notebook: Path, params: Mapping[str, Any], code: str, extra_inputs: Iterable[Path] = ()) -> str:
    """Hash a chapter's notebook cells, parameters, code fingerprint and extra inputs.

    The extra inputs are files it reads that no chapter writes (e.g. the committed
    benchmark table); their names and contents are hashed, in sorted order.

    Parameters
    ----------
    notebook : pathlib.Path
        The chapter's source notebook.
    params : Mapping[str, Any]
        Its parameters (serialised as sorted JSON, ``str`` for other values).
    code : str
        The :func:`code_fingerprint`.
    extra_inputs : iterable of pathlib.Path, optional
        Extra input files (see :func:`extra_inputs`).

    Returns
    -------
    str
        SHA-256 hex digest.
    """
    h = hashlib.sha256()
    h.update(notebook_fingerprint(notebook).encode())
    h.update(json.dumps(dict(params), sort_keys=True, default=str).encode())
    h.update(code.encode())
    for p in sorted(Path(p) for p in extra_inputs):
        _digest(h, p)
    return h.hexdigest()


def extra_inputs(stem: str, root: Path) -> list[Path]:
    """Return the files outside the chapters' outputs that a chapter reads.

    The pages about the book (chapters numbered 90 and up) read the benchmark tables that
    `make bench` writes; other chapters read none.

    Parameters
    ----------
    stem : str
        The chapter's notebook stem, starting with its number.
    root : pathlib.Path
        The repository root.

    Returns
    -------
    list of pathlib.Path
        Sorted ``book/tables/bench_*`` files, or an empty list.

    Raises
    ------
    ValueError
        If ``stem`` does not start with a number.
    """
    if chapter_number(stem) < ABOUT_FROM:
        return []
    return sorted((Path(root) / "book" / "tables").glob("bench_*"))


def chapter_number(stem: str) -> int:
    """Return a chapter's number, the digits before the first ``_`` of its stem.

    Parameters
    ----------
    stem : str
        The chapter's notebook stem, e.g. ``"07_stroke_explanations"``.

    Returns
    -------
    int
        The number.

    Raises
    ------
    ValueError
        If the stem does not start with its number.
    """
    head = stem.split("_", 1)[0]
    if not head.isdigit():
        raise ValueError(f"chapter {stem!r} does not start with its number")
    return int(head)


def upstream(stem: str, parts: list[list[str]]) -> list[str]:
    """Return the chapters ``stem`` reads from.

    These are the earlier ones of its part (every earlier one for the pages about the
    book).

    Parameters
    ----------
    stem : str
        The chapter's stem.
    parts : list of list of str
        Chapter stems per part, in book order (see :func:`parts_from_toc`).

    Returns
    -------
    list of str
        The upstream chapters, in book order.

    Raises
    ------
    ValueError
        If ``stem`` is not in ``parts`` or does not start with its number.
    """
    order = [c for part in parts for c in part]
    if stem not in order:
        raise ValueError(f"chapter {stem!r} is not in the table of contents")
    if chapter_number(stem) >= ABOUT_FROM:
        return order[: order.index(stem)]
    part = next(p for p in parts if stem in p)
    return part[: part.index(stem)]


def parts_from_toc(toc_path: Path) -> list[list[str]]:
    """Return the chapter stems per part, in book order, from ``_toc.yml``.

    Only the numbered notebooks are listed (a written page such as ``published_work`` is
    not executed, so nothing reads from it).

    Parameters
    ----------
    toc_path : pathlib.Path
        The Jupyter Book table of contents.

    Returns
    -------
    list of list of str
        One list of chapter file names (as written in the ``file`` entries) per part.
    """
    import yaml

    toc = yaml.safe_load(Path(toc_path).read_text())
    return [[Path(c["file"]).name for c in part.get("chapters", []) if Path(c["file"]).name.split("_", 1)[0].isdigit()]
            for part in toc.get("parts", [])]


def _state(path: Path) -> list:
    """Size, modification time and content hash of a file a chapter recorded."""
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, sha256_file(path)]


def _unchanged(path: Path, state: list) -> bool:
    """Same size and time, or (rewritten with the same bytes, e.g. an identical figure) same
    content hash."""
    if not path.exists():
        return False
    st = path.stat()
    if st.st_size != state[0]:
        return False
    return st.st_mtime_ns == state[1] or (len(state) > 2 and sha256_file(path) == state[2])


def stamp_path(data_dir: Path, stem: str) -> Path:
    """Return the path of a chapter's stamp.

    Parameters
    ----------
    data_dir : pathlib.Path
        The profile's data folder.
    stem : str
        The chapter's stem.

    Returns
    -------
    pathlib.Path
        ``data_dir/.chapters/<stem>.json``.
    """
    return Path(data_dir) / ".chapters" / f"{stem}.json"


def read_stamp(data_dir: Path, stem: str) -> dict | None:
    """Return a chapter's stamp, or None if it is missing or not valid JSON.

    Parameters
    ----------
    data_dir : pathlib.Path
        The profile's data folder.
    stem : str
        The chapter's stem.

    Returns
    -------
    dict or None
        The stamp.
    """
    p = stamp_path(data_dir, stem)
    try:
        return json.loads(p.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def owned_files(stem: str, data_dir: Path, roots: Iterable[Path], since: float) -> list[Path]:
    """Return the files a chapter wrote or owns.

    These are the files it wrote in this run (modified since ``since`` under ``roots``,
    stamps left out) and the artifacts whose manifest names it (made by an earlier run
    and reused), with their manifests.

    Parameters
    ----------
    stem : str
        The chapter's stem, as manifests name it.
    data_dir : pathlib.Path
        Folder searched recursively for manifests.
    roots : iterable of pathlib.Path
        Folders searched for recently modified files (missing ones are skipped).
    since : float
        Start of the run, as a POSIX timestamp.

    Returns
    -------
    list of pathlib.Path
        The existing files, sorted.
    """
    files = set()
    for root in roots:
        root = Path(root)
        if root.exists():
            files.update(p for p in root.rglob("*") if p.is_file() and p.stat().st_mtime >= since
                         and ".chapters" not in p.parts)
    for m in Path(data_dir).rglob("*.manifest.json"):
        try:
            if json.loads(m.read_text()).get("notebook") == stem:
                files.update([m, m.with_name(m.name[: -len(".manifest.json")])])
        except (OSError, json.JSONDecodeError):
            continue
    return sorted(p for p in files if p.exists())


def write_stamp(data_dir: Path, stem: str, fp: str, executed: Path, files: Iterable[Path], base: Path) -> dict:
    """Write a chapter's stamp atomically, after it ran.

    Parameters
    ----------
    data_dir : pathlib.Path
        The profile's data folder.
    stem : str
        The chapter's stem.
    fp : str
        Its :func:`fingerprint`.
    executed : pathlib.Path
        The executed notebook (its SHA-256 is recorded).
    files : iterable of pathlib.Path
        The files it wrote or owns (see :func:`owned_files`).
    base : pathlib.Path
        Folder the files' recorded paths are relative to.

    Returns
    -------
    dict
        The stamp: chapter, fingerprint, finishing time, executed notebook (path and
        SHA-256) and each file's size, modification time (ns) and SHA-256.
    """
    stamp = {"chapter": stem, "fingerprint": fp, "finished": time.time(),
             "executed": {"path": str(executed), "sha256": sha256_file(executed)},
             "files": {os.path.relpath(p, base): _state(Path(p)) for p in files}}
    atomic_write_text(stamp_path(data_dir, stem), json.dumps(stamp, indent=1, sort_keys=True))
    return stamp


def why_run(stem: str, fp: str, data_dir: Path, executed: Path, base: Path, parts: list[list[str]]) -> str | None:
    """Say why ``stem`` must be executed, or return None if its stamp says it is up to date.

    Parameters
    ----------
    stem : str
        The chapter's stem.
    fp : str
        Its current :func:`fingerprint`.
    data_dir : pathlib.Path
        The profile's data folder.
    executed : pathlib.Path
        Its executed notebook.
    base : pathlib.Path
        Folder the stamp's file paths are relative to.
    parts : list of list of str
        Chapter stems per part (see :func:`parts_from_toc`).

    Returns
    -------
    str or None
        A short reason (never run, fingerprint changed, executed notebook or a recorded
        file missing or changed, an upstream chapter not run or run after it), or None.

    Raises
    ------
    ValueError
        If ``stem`` is not in ``parts``.
    """
    stamp = read_stamp(data_dir, stem)
    if stamp is None:
        return "never run"
    if stamp.get("fingerprint") != fp:
        return "notebook, parameters, library, lock file or registry changed"
    if not Path(executed).exists() or sha256_file(executed) != stamp["executed"]["sha256"]:
        return "executed notebook missing or changed"
    for rel, state in stamp.get("files", {}).items():
        p = Path(base) / rel
        if not _unchanged(p, state):
            return f"{rel} missing or changed"
    for up in upstream(stem, parts):
        s = read_stamp(data_dir, up)
        if s is None:
            return f"{up} (upstream) has not run"
        if s["finished"] > stamp["finished"]:
            return f"{up} ran after it"
    return None
