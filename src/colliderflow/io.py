"""Small I/O helpers shared by every step: atomic outputs, JSON, tables.

Every script writes through :func:`atomic_path` so an interrupted or failed
step never leaves a half-written file under its final name.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from glob import escape as glob_escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from .errors import InputError

if TYPE_CHECKING:
    import h5py
    import pandas as pd


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path for ``path``; rename it onto ``path`` on
    success, delete it on any exception.

    The temporary path has the final file name, inside a hidden temporary
    folder beside ``path``: libraries that pick a format from the extension
    (matplotlib, pandas) behave as for the final name, and writers that store
    their own file name (ROOT's TFile name, torch's archive prefix) write the
    same bytes whatever the temporary folder is called.
    """
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix or ".tmp"
    # A writer killed hard (SIGKILL, node failure) cannot delete its temporary
    # folder; the next writer of the same output removes it (mkdtemp: 8 chars).
    for stale in path.parent.glob(f".{glob_escape(path.stem)}.{'?' * 8}{glob_escape(suffix)}"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent))
    tmp = folder / path.name  # writers create the file (or folder) themselves
    try:
        yield tmp
        if not tmp.exists():
            raise RuntimeError(f"writer produced no file for {path}")
        os.replace(tmp, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _json_default(obj: object) -> object:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_json(path: str | Path, data: object) -> None:
    """Write ``data`` as indented JSON atomically (numpy scalars/arrays allowed)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise InputError(path, None, "file does not exist")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(path, None, f"not valid JSON ({exc.msg} at line {exc.lineno})") from None


@contextlib.contextmanager
def untimed_hdf5() -> Iterator[None]:
    """Make pandas' PyTables writers stamp no creation/modification times on
    the arrays they create, so the same table gives the same bytes.

    ``HDFStore.put(..., track_times=False)`` reaches only the ``table``
    format; the ``fixed`` format (ours, and the LHCO files') calls
    ``tables.File.create_array``/``create_carray`` with the default
    ``track_times=True``. Within this block their default is False.
    (h5py's own default is already False.)"""
    import functools

    import tables

    saved = {}
    for name in ("create_array", "create_carray", "create_earray", "create_vlarray"):
        saved[name] = original = getattr(tables.File, name)
        setattr(tables.File, name, functools.partialmethod(original, track_times=False))
    try:
        yield
    finally:
        for name, original in saved.items():
            setattr(tables.File, name, original)


def write_table(path: str | Path, df: pd.DataFrame, key: str = "events", attrs: dict | None = None) -> None:
    """Write a pandas DataFrame to HDF5 (key ``key``) with provenance ``attrs``
    stored as JSON in the node's attributes; atomic."""
    import pandas as pd

    with atomic_path(path) as tmp, untimed_hdf5():
        with pd.HDFStore(tmp, mode="w") as store:
            store.put(key, df, format="fixed", track_times=False)
            store.get_storer(key).attrs.colliderflow = json.dumps(attrs or {}, default=_json_default)


def read_table(path: str | Path, columns: list[str] | None = None, key: str = "events") -> tuple[pd.DataFrame, dict]:
    """Read a table written by :func:`write_table`; checks the columns exist and
    are finite. Returns ``(DataFrame, attrs)``. Read with h5py
    (:func:`colliderflow.hdf5.read_frame`): nothing in the file is unpickled
    beyond numpy arrays of strings."""
    from .hdf5 import read_frame, string_attr

    path = Path(path)
    df, _ = read_frame(path, key, objects="numpy")
    raw = string_attr(path, key, "colliderflow") or "{}"
    try:
        attrs = json.loads(raw)
    except json.JSONDecodeError:
        raise InputError(path, f"/{key} colliderflow", "provenance attribute is not JSON") from None
    if columns is not None:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise InputError(path, missing[0], f"column missing (have {list(df.columns)})")
        df = df[columns]
    numeric = df.select_dtypes("number")
    bad = ~np.isfinite(numeric.to_numpy(dtype=float))
    if bad.any():
        col = numeric.columns[np.where(bad.any(axis=0))[0][0]]
        raise InputError(path, col, f"{int(bad.any(axis=1).sum())} row(s) hold NaN or inf")
    return df, attrs


def open_hdf5(path: str | Path, required: tuple[str, ...] = ()) -> h5py.File:
    """Open an HDF5 file for reading (h5py.File, use as a context manager);
    :class:`InputError` naming the file and the dataset when the file is
    missing, empty, not HDF5, or lacks one of the ``required`` datasets (the
    HDF5 library's own error stack silenced)."""
    from .hdf5 import open_file

    f = open_file(path)
    for key in required:
        try:
            present = key in f
        except Exception as exc:  # a corrupt link table
            f.close()
            raise InputError(path, key, f"cannot be read ({type(exc).__name__}: {str(exc)[:200]})") from None
        if not present:
            f.close()
            raise InputError(path, key, "dataset missing")
    return f
