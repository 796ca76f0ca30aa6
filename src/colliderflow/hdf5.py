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
  the file and the node, or with ``objects="numpy"`` read by walking the
  pickle's opcodes (:func:`read_numpy_pickle`): nothing is unpickled, numpy
  arrays, scalars and builtin containers are built here from the opcodes'
  values, and any other global or opcode is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from .errors import InputError

if TYPE_CHECKING:
    import h5py
    import pandas as pd

#: the only globals a pickled node may name under ``objects="numpy"``: numpy's
#: array, scalar and dtype reconstruction (what pandas writes for an object column)
NUMPY_GLOBALS = frozenset({
    (mod, name)
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name in ("_reconstruct", "scalar")
} | {(mod, "_frombuffer") for mod in ("numpy.core.numeric", "numpy._core.numeric")}
  | {("numpy", "ndarray"), ("numpy", "dtype")})


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


class _Array:
    """``numpy.core.multiarray._reconstruct(ndarray, ...)``: an array whose state follows (BUILD)."""


class _DType:
    def __init__(self, code: str) -> None:
        self.code, self.value = code, None

    def dtype(self) -> np.dtype:
        return self.value if self.value is not None else np.dtype(self.code)


def _as_dtype(x: object) -> np.dtype:
    if isinstance(x, _DType):
        return x.dtype()
    raise ValueError("a dtype was expected")


#: what each permitted global builds, without calling anything of the file's choosing
_BUILDERS = {"_reconstruct": lambda cls, shape, code: _Array(),
             "scalar": lambda dt, data=None: (np.frombuffer(data, dtype=_as_dtype(dt))[0] if data is not None
                                              else None),
             "dtype": lambda code, align=False, copy=True: _DType(str(code)),
             "_frombuffer": lambda buf, dt, shape, order: np.frombuffer(bytes(buf), dtype=_as_dtype(dt)).copy()
             .reshape(tuple(shape), order=str(order)),
             "ndarray": None}

_MARK = object()


def _build(obj: object, state: object) -> object:
    """BUILD (``__setstate__``) for the two objects a pandas pickle sets: arrays and dtypes."""
    if isinstance(obj, _DType) and isinstance(state, tuple) and len(state) >= 2:
        endian = state[1] if state[1] in ("<", ">", "=", "|") else "|"
        obj.value = np.dtype(obj.code).newbyteorder(endian) if endian in "<>" else np.dtype(obj.code)
        return obj
    if isinstance(obj, _Array) and isinstance(state, tuple) and len(state) == 5:
        _, shape, dt, fortran, data = state
        dt = _as_dtype(dt)
        if dt.kind == "O":  # numpy lists an object array's items in index (C) order, whatever its layout
            arr = np.empty(len(data), dtype=object)
            for i, v in enumerate(data):  # element by element: lists stay list objects
                arr[i] = v
            arr = arr.reshape(tuple(shape))
            return np.asfortranarray(arr) if fortran else arr
        # raw bytes are the memory buffer, in the layout's order
        return np.frombuffer(bytes(data), dtype=dt).copy().reshape(tuple(shape), order="F" if fortran else "C")
    raise ValueError(f"BUILD of {type(obj).__name__} is not a numpy array or dtype")


def read_numpy_pickle(data: bytes, where: tuple[Path, str]) -> object:
    """The numpy arrays, scalars and builtin containers of a pickle, read by
    walking its opcodes (:mod:`pickletools`): nothing is unpickled, no class
    is looked up, the only globals accepted are numpy's array/scalar/dtype
    reconstruction (:data:`NUMPY_GLOBALS`), each built here from its arguments.
    Anything else is an :class:`InputError` naming the file and node."""
    import pickletools

    def refuse(why: str) -> InputError:
        return InputError(where[0], where[1], f"pickled object refused: {why} (only numpy arrays are read)")

    stack: list = []
    memo: dict[int, object] = {}
    memo_of: dict[int, list[int]] = {}  # placeholder id -> its memo keys

    def pop_mark() -> list:
        for i in range(len(stack) - 1, -1, -1):
            if stack[i] is _MARK:
                items = stack[i + 1:]
                del stack[i:]
                return items
        raise refuse("malformed pickle (no MARK)")

    try:
        for op, arg, _pos in pickletools.genops(data):
            name = op.name
            if name in ("PROTO", "FRAME"):
                continue
            if name == "STOP":
                if len(stack) != 1:
                    raise refuse("malformed pickle")
                return stack[0]
            if name in ("GLOBAL", "STACK_GLOBAL"):
                module, attr = arg.split(" ", 1) if name == "GLOBAL" else (None, None)
                if name == "STACK_GLOBAL":
                    attr, module = stack.pop(), stack.pop()
                if (module, attr) not in NUMPY_GLOBALS:
                    raise refuse(f"it calls {module}.{attr}")
                stack.append(("global", attr))
            elif name == "REDUCE":
                args, fn = stack.pop(), stack.pop()
                if not (isinstance(fn, tuple) and len(fn) == 2 and fn[0] == "global" and _BUILDERS.get(fn[1])):
                    raise refuse("it calls something other than numpy's reconstruction")
                stack.append(_BUILDERS[fn[1]](*args))
            elif name == "BUILD":
                state, obj = stack.pop(), stack[-1]
                stack[-1] = built = _build(obj, state)
                for key in memo_of.pop(id(obj), ()):  # the memo pointed at the placeholder
                    memo[key] = built
            elif name == "MARK":
                stack.append(_MARK)
            elif name in ("MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"):
                key = len(memo) if name == "MEMOIZE" else arg
                memo[key] = stack[-1]
                if isinstance(stack[-1], (_Array, _DType)):
                    memo_of.setdefault(id(stack[-1]), []).append(key)
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo[arg])
            elif name in ("EMPTY_LIST",):
                stack.append([])
            elif name == "EMPTY_TUPLE":
                stack.append(())
            elif name == "EMPTY_DICT":
                stack.append({})
            elif name == "APPEND":
                v = stack.pop()
                stack[-1].append(v)
            elif name == "APPENDS":
                items = pop_mark()
                stack[-1].extend(items)
            elif name == "SETITEMS":
                items = pop_mark()
                stack[-1].update(zip(items[::2], items[1::2], strict=True))
            elif name == "SETITEM":
                v, k = stack.pop(), stack.pop()
                stack[-1][k] = v
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                n = int(name[-1])
                items = tuple(stack[-n:])
                del stack[-n:]
                stack.append(items)
            elif name == "TUPLE":
                stack.append(tuple(pop_mark()))
            elif name == "LIST":
                stack.append(pop_mark())
            elif name == "NONE":
                stack.append(None)
            elif name in ("NEWTRUE", "NEWFALSE"):
                stack.append(name == "NEWTRUE")
            elif name in ("BININT", "BININT1", "BININT2", "LONG1", "LONG4", "INT", "LONG", "BINFLOAT", "FLOAT",
                          "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINBYTES",
                          "BINBYTES", "BINBYTES8", "BYTEARRAY8", "SHORT_BINSTRING", "BINSTRING", "STRING"):
                stack.append(arg)
            else:
                raise refuse(f"opcode {name} is not part of a numpy array pickle")
    except InputError:
        raise
    except Exception as exc:  # truncated bytes, wrong arities, bad dtypes
        raise refuse(f"malformed ({type(exc).__name__}: {_short(exc)})") from None
    raise refuse("malformed pickle (no STOP)")


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
            value = read_numpy_pickle(np.asarray(raw, dtype=np.uint8).tobytes(), (path, node))
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
