"""Glue the chapters share: set-up (parameter checks, threads, output folders), training
or loading a model once per set of parameters, figures and tables.

Figures are saved as PNG and glued (myst-nb) under their file's stem, so a chapter's
markdown shows each one where its text discusses it, as a numbered figure with a caption::

    ```{glue:figure} raman_confusion
    :name: fig-raman-confusion

    What to look at. {download}`PNG <figures/raman_confusion.png>`
    ```

Tables are displayed with :func:`show_table`: a numbered MyST ``list-table`` with a caption,
a download link to its CSV, integers as integers, "n/a" where a value does not apply and
p-values in scientific notation.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

PROFILES = ("smoke", "full")


def check_params(profile: str, **ranges) -> None:
    """Fail in the first cells with a message naming the bad parameter.

    ``ranges``: ``name=(value, low, high)``; ``None`` bounds are open.

    Parameters
    ----------
    profile : str
        The chapter's profile, one of ``PROFILES`` (``"smoke"``, ``"full"``).
    **ranges : tuple
        ``(value, low, high)`` per parameter name; bounds are inclusive.

    Raises
    ------
    ValueError
        If ``profile`` is unknown or a value lies outside its range.
    """
    if profile not in PROFILES:
        raise ValueError(f"parameter 'profile' must be one of {PROFILES}, got {profile!r}")
    for name, (value, low, high) in ranges.items():
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(f"parameter {name!r}={value!r} is out of range [{low}, {high}]")


def setup(profile: str, book_dir: str, data_dir: str, *, threads: int | None = None, **ranges) -> "Outputs":
    """Set up a chapter; its first call.

    Checks its parameters (see :func:`check_params`), gives torch ``threads`` threads
    (default: ``OMP_NUM_THREADS``, else 2; the machines have two cores; skipped where
    torch is not installed), and returns its :class:`Outputs`, creating their folders.

    Parameters
    ----------
    profile : str
        The chapter's profile.
    book_dir : str
        The book folder (tables and figures go under it).
    data_dir : str
        The profile's data folder (artifacts go under it).
    threads : int, optional
        Number of torch threads.
    **ranges : tuple
        Parameter ranges, as for :func:`check_params`.

    Returns
    -------
    Outputs
        Where the chapter writes.

    Raises
    ------
    ValueError
        If a parameter is invalid.
    """
    import os

    check_params(profile, **ranges)
    try:
        import torch

        torch.set_num_threads(int(threads or os.environ.get("OMP_NUM_THREADS") or 2))
    except ImportError:  # a chapter without torch
        pass
    return Outputs.make(book_dir, data_dir)


def is_trained(weights, params: dict) -> bool:
    """Whether :func:`train_or_load` would load ``weights`` instead of training: a complete
    artifact made with ``params``, with its history file beside it."""
    from .artifacts import is_complete

    weights = Path(weights)
    return is_complete(weights, params) and weights.with_suffix(".history.json").exists()


def train_or_load(weights, params: dict, *, build, train, save, load, notebook: str, inputs=None, seed: int = 0):
    """Return a trained model and its history, training it only when needed.

    The model is loaded when ``weights`` is a complete artifact made with ``params`` (and
    its history file exists), else built with torch seeded by ``seed`` (the initial
    weights do not depend on what ran before), trained, and written atomically with a
    manifest (the history first, then the weights, then the manifest).

    Parameters
    ----------
    weights : path
        The model file; its history goes beside it as ``<stem>.history.json``.
    params : dict
        What keys the model (every setting of data, architecture and training).
    build : callable
        ``build() -> torch.nn.Module``.
    train : callable
        ``train(model) -> history``, JSON-serialisable (e.g. the list of per-epoch dicts
        of :func:`rexbench.training.train_classifier`).
    save, load : callable
        ``save(model, path)``, ``load(path) -> model``.
    notebook : str
        The chapter that owns the artifact.
    inputs : dict, optional
        Files the model was trained from (their hashes go into the manifest).
    seed : int, optional
        Seed of torch before ``build()`` (default 0).

    Returns
    -------
    model : torch.nn.Module
        In eval mode.
    history : object
        What ``train`` returned (as read back from JSON when loaded).
    """
    import json
    import time

    import torch

    from .artifacts import atomic_write_text, write_manifest

    weights = Path(weights)
    hist_path = weights.with_suffix(".history.json")
    if is_trained(weights, params):
        return load(weights).eval(), json.loads(hist_path.read_text())
    torch.manual_seed(seed)
    model = build()
    t0 = time.perf_counter()
    history = train(model)
    atomic_write_text(hist_path, json.dumps(history))
    save(model, weights)
    write_manifest(weights, notebook=notebook, params=params, inputs=inputs, compute_seconds=time.perf_counter() - t0)
    return model.eval(), history


@dataclass
class Outputs:
    """Where a chapter writes: ``tables/`` and ``figures/`` under the book folder, its
    artifacts under the profile's data folder.

    Attributes
    ----------
    book : pathlib.Path
        The book folder.
    data : pathlib.Path
        The profile's data folder.
    """

    book: Path
    data: Path

    @classmethod
    def make(cls, book_dir: str, data_dir: str) -> "Outputs":
        """Create the outputs and their folders (tables, figures, data).

        Parameters
        ----------
        book_dir : str
            The book folder.
        data_dir : str
            The profile's data folder.

        Returns
        -------
        Outputs
            The outputs.
        """
        out = cls(Path(book_dir), Path(data_dir))
        for p in (out.tables, out.figures, out.data):
            p.mkdir(parents=True, exist_ok=True)
        return out

    @property
    def tables(self) -> Path:
        """pathlib.Path: The ``tables/`` folder under the book folder."""
        return self.book / "tables"

    @property
    def figures(self) -> Path:
        """pathlib.Path: The ``figures/`` folder under the book folder."""
        return self.book / "figures"

    def save_table(self, df, name: str, float_format: str = "%.6g") -> Path:
        """Save a table as ``tables/<name>.csv`` (see :func:`~rexbench.compendium.artifacts.write_table`).

        Parameters
        ----------
        df : pandas.DataFrame
            The table.
        name : str
            File stem.
        float_format : str, optional
            Format of floats (default ``"%.6g"``).

        Returns
        -------
        pathlib.Path
            The CSV file.
        """
        from .artifacts import write_table

        path = self.tables / f"{name}.csv"
        write_table(df, path, float_format)
        return path

    def save_figure(self, fig, name: str, *, glue: bool = True) -> None:
        """Save a figure as ``figures/<name>.png``, glue it and close it.

        The PNG has fixed metadata (no timestamps), so reruns are identical; the same PNG
        is glued under ``name`` for a ``{glue:figure}`` in the chapter's text, and the
        figure is closed (the page shows the glued copy, not the cell's output).

        Parameters
        ----------
        fig : matplotlib.figure.Figure
            The figure.
        name : str
            File stem and glue name.
        glue : bool, optional
            Glue the PNG with myst-nb (default True).
        """
        import io

        import matplotlib.pyplot as plt

        from .artifacts import atomic_write_bytes

        path = self.figures / f"{name}.png"
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=FIGURE_DPI, bbox_inches="tight", metadata={"Software": None})
        atomic_write_bytes(path, buf.getvalue())
        plt.close(fig)
        if glue:
            from IPython.display import Image
            from myst_nb import glue as myst_glue

            myst_glue(name, Image(data=buf.getvalue(), format="png"), display=False)
        # Nothing returned: a cell ending in save_figure shows no path.

    def show_table(self, df, caption: str, file: str | None = None, **kw) -> "Table":
        """:func:`show_table` with the download link to ``tables/<file>.csv`` (which must
        exist: this chapter saved it).

        Parameters
        ----------
        df : pandas.DataFrame or pandas.Series
            The table.
        caption : str
            Its caption.
        file : str, optional
            Stem of the saved CSV to link to.
        **kw
            Other arguments of :func:`show_table`.

        Returns
        -------
        Table
            The table to display.

        Raises
        ------
        FileNotFoundError
            If ``file`` is given and ``tables/<file>.csv`` does not exist.
        """
        if file is not None and not (self.tables / f"{file}.csv").exists():
            raise FileNotFoundError(f"table {file!r}: {self.tables / (file + '.csv')} does not exist; save it first")
        return show_table(df, caption, file=file, **kw)


FIGURE_DPI = 110
PVALUE = re.compile(r"(^p$|^p_|_p$|p_value|pvalue|p_holm)")


class Table:
    """A table for the book: MyST markdown (a numbered ``list-table``) for the HTML page and
    plain text for the notebook and nbval (so checked cells compare the numbers).

    Parameters
    ----------
    markdown : str
        The MyST markdown (``_repr_markdown_``).
    text : str
        The plain text (``repr``).

    Attributes
    ----------
    markdown : str
        As given.
    text : str
        As given.
    """

    def __init__(self, markdown: str, text: str):
        self.markdown, self.text = markdown, text

    def _repr_markdown_(self) -> str:
        return self.markdown

    def __repr__(self) -> str:
        return self.text


def _escape(text: str) -> str:
    """Escape what MyST would read as markup in a table cell."""
    return re.sub(r"([\\`*_\[\]<>|{}#~])", r"\\\1", str(text)).replace("\n", " ")


def _is_nan(v) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):  # not a scalar
        return False


def format_value(v, *, digits: int = 3, integer: bool = False, pvalue: bool = False, na: str = "n/a") -> str:
    """Format one table cell.

    ``na`` for a missing value (not applicable), integers without decimals, p-values in
    scientific notation, other numbers with ``digits`` decimals. Booleans print as
    ``"yes"``/``"no"``, infinities as ``"inf"``/``"-inf"``, anything else with ``str``.

    Parameters
    ----------
    v : object
        The value.
    digits : int, optional
        Decimals of a float (default 3).
    integer : bool, optional
        Round a float to an integer (default False).
    pvalue : bool, optional
        Print a float as a p-value, one decimal in scientific notation, ``"0"`` for 0
        (default False).
    na : str, optional
        Text for a missing value (default ``"n/a"``).

    Returns
    -------
    str
        The cell's text.
    """
    import numpy as np

    if _is_nan(v):
        return na
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v)}"
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if pvalue:
            return "0" if v == 0 else f"{v:.1e}"
        if integer:
            return f"{int(round(v))}"
        return f"{v:.{digits}f}"
    return str(v)


def with_interval(df, columns, *, digits: int = 2, na: str = "n/a"):
    """Return ``df`` with each of ``columns`` shown as ``"estimate [low, high]"`` from its
    ``<column>_ci_low`` / ``<column>_ci_high`` columns (which are dropped): a headline
    number and its confidence interval in one table cell.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    columns : sequence of str
        The estimates that have interval columns.
    digits : int, optional
        Decimals (default 2).
    na : str, optional
        Text for a missing estimate (default ``"n/a"``); a missing interval prints the
        estimate alone.

    Returns
    -------
    pandas.DataFrame
        A copy with those columns as text.

    Raises
    ------
    KeyError
        If an estimate or one of its interval columns is missing.
    """
    out = df.copy()
    for c in columns:
        lo, hi = f"{c}_ci_low", f"{c}_ci_high"
        missing = [k for k in (c, lo, hi) if k not in out.columns]
        if missing:
            raise KeyError(f"with_interval: no column(s) {missing} in the table")
        text = []
        for v, a, b in zip(out[c], out[lo], out[hi]):
            if _is_nan(v):
                text.append(na)
            elif _is_nan(a) or _is_nan(b):
                text.append(format_value(v, digits=digits))
            else:
                text.append(f"{format_value(v, digits=digits)} [{format_value(a, digits=digits)}, "
                            f"{format_value(b, digits=digits)}]")
        out[c] = text
        out = out.drop(columns=[lo, hi])
    return out


def _integral(col) -> bool:
    """A float column of whole numbers that are counts, not rates (some value above 1)."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
        return False
    if pd.api.types.is_integer_dtype(col):
        return True
    v = pd.to_numeric(col, errors="coerce").dropna().to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    return len(v) > 0 and bool(np.all(v == np.round(v))) and bool(np.abs(v).max() > 1)


def _label(key) -> str:
    if isinstance(key, tuple):
        return " / ".join(str(k) for k in key if str(k) != "")
    return str(key)


def show_table(df, caption: str, file: str | None = None, *, name: str | None = None, digits: int | dict = 3,
               integers=(), pvalues=(), na: str = "n/a", rename: dict | None = None, index: bool = True,
               css_class: str = "rexbench-table") -> Table:
    """Display ``df`` (its index as row labels, kept while the table scrolls) as a numbered
    table with ``caption`` and, if ``file`` is given, a link to download ``tables/<file>.csv``.

    Integer columns (and float columns of whole counts) print as integers; columns named like
    p-values (``p``, ``p_value``, ``*_p``...) or listed in ``pvalues`` in scientific notation;
    missing values as ``na`` ("not applicable"); ``digits`` decimals otherwise (per column if a
    dict). ``rename`` maps column names to headers (e.g. to add units). Headers that
    mention seconds get `` (s)`` appended.

    Parameters
    ----------
    df : pandas.DataFrame or pandas.Series
        The table (a Series is turned into a one-column frame).
    caption : str
        The caption.
    file : str, optional
        Stem of ``tables/<file>.csv`` to link to; also gives the default name.
    name : str, optional
        The table's MyST name; default ``tbl-<file>`` with ``_`` as ``-``.
    digits : int or dict, optional
        Decimals, or decimals per column label (3 for columns not in the dict).
    integers : sequence of str, optional
        Columns to print as integers.
    pvalues : sequence of str, optional
        Columns to print as p-values.
    na : str, optional
        Text for missing values (default ``"n/a"``).
    rename : dict, optional
        Header per column name.
    index : bool, optional
        Show the index as stub columns (default True).
    css_class : str, optional
        CSS class of the table (default ``"rexbench-table"``).

    Returns
    -------
    Table
        The table, as MyST markdown and plain text.
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        df = df.to_frame()
    n_stub = df.index.nlevels if index else 0
    flat = df.reset_index() if index else df.reset_index(drop=True)
    if index and n_stub == 1 and df.index.name is None:
        flat = flat.rename(columns={flat.columns[0]: ""})
    headers = [(rename or {}).get(c, _label(c)) for c in flat.columns]
    headers = [h + " (s)" if re.search(r"seconds", h) and "(s)" not in h else h for h in headers]
    cols = []
    for j, c in enumerate(flat.columns):
        col = flat[c]
        key = _label(c)
        d = digits.get(key, 3) if isinstance(digits, dict) else digits
        is_p = key in pvalues or bool(PVALUE.search(key.split(" / ")[-1]))
        is_int = j >= n_stub and (key in integers or (not is_p and _integral(col)))
        cols.append([format_value(v, digits=d, integer=is_int, pvalue=is_p, na=na) for v in col])
    rows = list(zip(*cols)) if cols else []
    label = name or (f"tbl-{file.replace('_', '-')}" if file else None)
    title = caption.strip()
    if file:
        title += f" {{download}}`{file}.csv <tables/{file}.csv>`"
    lines = [f"~~~{{list-table}} {title}", ":header-rows: 1", f":stub-columns: {n_stub}", f":class: {css_class}"]
    if label:
        lines.append(f":name: {label}")
    lines.append("")
    for row in [headers, *rows]:
        lines.append(f"* - {_escape(row[0]) if row else ''}")
        lines.extend(f"  - {_escape(v)}" for v in row[1:])
    lines.append("~~~")
    text = pd.DataFrame(rows, columns=headers).to_string(index=False) if rows else "(empty table)"
    return Table("\n".join(lines), f"{caption.strip()}\n{text}")
