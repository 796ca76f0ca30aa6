"""HDF5 inputs read without running code from the file.

pandas (``pd.read_hdf``, ``HDFStore``) reads HDF5 through PyTables, which
unpickles object columns and any node attribute that looks like a pickle:
a data file could then run code. Everything colliderflow reads from HDF5
goes through h5py instead:

* :func:`open_file`: an ``h5py.File`` or one :class:`InputError` line (missing,
  empty, truncated or not HDF5); the HDF5 library's own error stack is
  silenced, so no C back trace follows the message.
* :func:`read_frame`: a pandas DataFrame stored by pandas in the ``fixed``
  format (``df.to_hdf(path, key=...)``, the LHCO files, the CaloChallenge
  tables, :func:`colliderflow.io.write_table`), read from its datasets.
  Pickled nodes (object columns or a non-numeric index) are refused, naming
  the file and the node, or with ``objects="numpy"`` unpickled by an
  unpickler that builds nothing but numpy arrays and scalars and builtin
  containers (no function of the file's choosing is ever called).
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from .errors import InputError

if TYPE_CHECKING:
    import h5py
    import pandas as pd

#: the only globals a pickled node may name under ``objects="numpy"``: numpy's
#: array and scalar reconstruction (what pandas writes for an object column)
NUMPY_GLOBALS = frozenset({
    (mod, name)
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name in ("_reconstruct", "scalar")
} | {("numpy", "ndarray"), ("numpy", "dtype")})


def silence() -> None:
    """Stop the HDF5 C library from printing its error stack (h5py turns the
    error into a Python exception, which the readers turn into one line)."""
    import h5py

    h5py._errors.silence_errors()


def open_file(path: str | Path) -> h5py.File:
    """Open ``path`` read-only; :class:`InputError` (one line) when it is
    missing, empty, truncated or not HDF5."""
    import h5py

    silence()
    path = Path(path)
    if not path.exists():
        raise InputError(path, None, "file does not exist")
    if path.is_dir():
        raise InputError(path, None, "is a folder, not an HDF5 file")
    if path.stat().st_size == 0:
        raise InputError(path, None, "file is empty")
    try:
        return h5py.File(path, "r")
    except Exception as exc:
        raise InputError(path, None, f"cannot be read as HDF5 ({type(exc).__name__}: {_short(exc)})") from None


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


class _NumpyOnly(pickle.Unpickler):
    def __init__(self, data: bytes, where: tuple[Path, str]) -> None:
        super().__init__(io.BytesIO(data))
        self.where = where

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in NUMPY_GLOBALS:
            raise InputError(self.where[0], self.where[1],
                             f"pickled object refused: it calls {module}.{name} (only numpy arrays are unpickled)")
        return super().find_class(module, name)


def _attr(node: h5py.HLObject, name: str, default: str = "") -> str:
    """A string attribute written by PyTables (bytes or str); a pickled value
    (bytes ending in '.') is not unpickled, it reads as the default."""
    value = node.attrs.get(name, None)
    if value is None:
        return default
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    return default


def _is_pickled(ds: h5py.Dataset) -> bool:
    return ds.dtype.kind == "O" or _attr(ds, "CLASS") == "VLARRAY" or _attr(ds, "PSEUDOATOM") == "object"


def _read_array(path: Path, group: h5py.Group, name: str,
                objects: Literal["refuse", "numpy"]) -> np.ndarray:
    node = f"/{group.name.strip('/')}/{name}"
    try:
        if name not in group or not isinstance(group[name], _dataset_type()):
            raise InputError(path, node, "dataset missing (not a pandas fixed-format frame?)")
        ds = group[name]
    except InputError:
        raise
    except Exception as exc:  # a corrupt link table
        raise InputError(path, node, f"cannot be read ({type(exc).__name__}: {_short(exc)})") from None
    try:
        if _is_pickled(ds):
            if objects == "refuse":
                raise InputError(path, node, "holds pickled Python objects (refused: unpickling can run code "
                                             "from the file; numeric columns expected)")
            raw = ds[0] if ds.shape and len(ds) else np.zeros(0, np.uint8)
            value = _NumpyOnly(np.asarray(raw, dtype=np.uint8).tobytes(), (path, node)).load()
            value = np.asarray(value)
        else:
            value = ds[()]
    except InputError:
        raise
    except Exception as exc:  # truncated / corrupt data
        raise InputError(path, node, f"cannot be read ({type(exc).__name__}: {_short(exc)})") from None
    # pandas stores a block as (rows, columns) (PyTables "transposed"), the layout wanted here
    if value.dtype.kind == "S":
        value = np.char.decode(value, "utf-8")
    return value


def _dataset_type() -> type:
    import h5py

    return h5py.Dataset


def frame_keys(f: h5py.File) -> list[str]:
    """The pandas objects in a file: groups with a ``pandas_type`` attribute."""
    import h5py

    out = []

    def visit(name: str, obj: object) -> None:
        if isinstance(obj, h5py.Group) and "pandas_type" in obj.attrs:
            out.append(name)

    f.visititems(visit)
    return sorted(out)


def read_frame(path: str | Path, key: str | None = None, objects: Literal["refuse", "numpy"] = "refuse",
               keys: tuple[str, ...] | None = None) -> tuple[pd.DataFrame, str]:
    """The DataFrame a pandas ``fixed``-format HDF5 file holds under ``key``
    (or the one of ``keys`` the file has, or its only frame when both are
    None). Returns ``(frame, key)``. Column names and values come from the
    datasets, never from pickles; pickled nodes follow ``objects`` (see the
    module docstring)."""
    import pandas as pd

    path = Path(path)
    with open_file(path) as f:
        try:
            found = frame_keys(f)
        except Exception as exc:
            raise InputError(path, None, f"cannot be read as HDF5 ({type(exc).__name__}: {_short(exc)})") from None
        if key is None:
            candidates = [k for k in found if keys is None or k in keys]
            want = f"one of {list(keys)}" if keys else "one pandas table"
            if len(candidates) != 1:
                raise InputError(path, "key", f"expected {want}, found {found or 'none'}")
            key = candidates[0]
        key = key.strip("/")
        if key not in found:
            raise InputError(path, f"/{key}", f"no pandas table under key '{key}' (found {found or 'none'})")
        g = f[key]
        kind = _attr(g, "pandas_type")
        if kind != "frame":
            raise InputError(path, f"/{key}", f"pandas '{kind}' object; only the fixed-format frame is read "
                                              "(write it with df.to_hdf(..., format='fixed'))")
        for axis in ("axis0", "axis1"):
            variety = _attr(g, f"{axis}_variety", "regular")
            if variety != "regular":
                raise InputError(path, f"/{key}/{axis}", f"a {variety} index is not read (flat columns and index only)")
        try:
            nblocks = int(np.asarray(g.attrs.get("nblocks", -1)))
        except (TypeError, ValueError):
            nblocks = -1
        if nblocks < 0:
            raise InputError(path, f"/{key}", "attribute nblocks missing or not an integer")
        columns = _read_array(path, g, "axis0", objects)
        index = _read_array(path, g, "axis1", objects)
        if columns.ndim != 1 or index.ndim != 1:
            raise InputError(path, f"/{key}/axis0", "axes are not one-dimensional")
        data: dict[str, np.ndarray] = {}
        for i in range(nblocks):
            items = _read_array(path, g, f"block{i}_items", objects)
            values = _read_array(path, g, f"block{i}_values", objects)
            node = f"/{key}/block{i}_values"
            if values.ndim == 1 and len(items) == 1:  # a pandas extension array (strings) is stored 1-d
                values = values[:, None]
            if values.ndim != 2 or values.shape != (len(index), len(items)):
                raise InputError(path, node, f"shape {values.shape}, expected ({len(index)}, {len(items)})")
            for j, name in enumerate(items):
                data[str(name)] = values[:, j]
    missing = [str(c) for c in columns if str(c) not in data]
    if missing or len(data) != len(columns):
        raise InputError(path, f"/{key}/axis0", f"columns and blocks disagree (missing {missing[:3]})")
    frame = pd.DataFrame({str(c): data[str(c)] for c in columns}, index=pd.Index(index))
    return frame, key


def read_dataset(f: h5py.File, path: str | Path, name: str) -> np.ndarray:
    """Dataset ``name`` of an open file as a numeric numpy array; one
    :class:`InputError` line when it is missing, truncated, corrupt or not numeric."""
    try:
        if name not in f:
            raise InputError(path, name, "dataset missing")
        value = f[name][()]
    except InputError:
        raise
    except Exception as exc:  # truncated or corrupt data
        raise InputError(path, name, f"cannot be read ({type(exc).__name__}: {_short(exc)})") from None
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        raise InputError(path, name, f"expected a numeric array, got {getattr(value, 'dtype', type(value))}")
    return value


def string_attr(path: str | Path, node: str, name: str) -> str | None:
    """A string attribute of ``node`` (None when absent; pickled values are
    not unpickled and read as absent)."""
    with open_file(path) as f:
        if node.strip("/") and node.strip("/") not in f:
            return None
        value = _attr(f[node] if node.strip("/") else f, name, "")
    return value or None
