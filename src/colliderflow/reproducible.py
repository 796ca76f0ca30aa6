"""Same seed, same bytes: compare the outputs of two runs of the same DAG.

Two runs with the same config and seed, in two working directories, must
write the same bytes. :func:`compare` walks both directories and sorts every
file into one of

``same``
    identical bytes;
``timing``
    the bytes differ, but only in measured time: with every value under a key
    matching :data:`TIMING_KEY` dropped (JSON, ``.npz`` members, HDF5
    datasets and JSON attributes), the contents are identical. Measured CPU
    and wall seconds depend on the machine's load, not on the seed;
``differ``
    anything else: a reproducibility bug;
``missing``
    in one directory only.

Paths matching :data:`EXCLUDED` are not compared at all; each carries its reason.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

#: paths (relative to the working directory, fnmatch patterns) never compared, with the reason
EXCLUDED: tuple[tuple[str, str], ...] = (
    ("logs/*", "job logs and job records: time stamps, durations, the machine's load"),
    (".snakemake/*", "Snakemake's bookkeeping: times, job ids, locks"),
    ("*/benchmarks/*.tsv", "Snakemake benchmarks: measured wall/CPU time and memory of each rule"),
    ("*.tmp", "a writer's temporary file (none is left after a complete run)"),
    ("results/l2lflows/auc.png", "prints the measured CPU time per generated shower beside the published timings"),
    ("results/l2lflows/auc.pdf", "prints the measured CPU time per generated shower beside the published timings"),
    ("results/fpga_tagging/hls/*/hls4ml_prj/firmware/*.so",
     "hls4ml's C-simulation library: it reads its weights at run time from its own project folder, whose absolute "
     "path is compiled in (WEIGHTS_DIR), so two working directories give two libraries; rebuilt in the same "
     "folder it is byte-identical"),
)
#: keys holding measured time (cpu_seconds, wall_seconds, cpu_time, cpu_ms_per_shower, ..._ms_per_shower_cpu):
#: compared outputs may differ in their values only
TIMING_KEY = re.compile(r"(^|_)(cpu|wall)(_|$)|_seconds$")

STATUSES = ("same", "timing", "differ", "missing")


@dataclasses.dataclass(frozen=True)
class FileResult:
    path: str
    status: str
    detail: str = ""


def excluded(rel: str) -> str | None:
    """The reason ``rel`` is not compared, or None."""
    for pattern, reason in EXCLUDED:
        if fnmatch.fnmatch(rel, pattern):
            return reason
    return None


def files(root: Path) -> set[str]:
    """Every compared file under ``root``, relative, as POSIX paths."""
    root = Path(root)
    out = set()
    for p in root.rglob("*"):
        if p.is_file():
            rel = p.relative_to(root).as_posix()
            if excluded(rel) is None:
                out.add(rel)
    return out


def _drop_timing(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _drop_timing(v) for k, v in obj.items() if not TIMING_KEY.search(str(k))}
    if isinstance(obj, list):
        return [_drop_timing(v) for v in obj]
    return obj


def _json_text(value: Any) -> Any:
    """A JSON string attribute parsed (timing keys dropped), anything else as is."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return _drop_timing(json.loads(value))
        except json.JSONDecodeError:
            return value
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype.kind in "fc":
            return bool(np.array_equal(a, b, equal_nan=True))
        return bool(np.array_equal(a, b))
    return a == b


def _content_without_timing(path: Path) -> Any:
    """The file's content with measured times dropped, as comparable Python values
    (None where the format is not understood)."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _drop_timing(json.loads(path.read_text()))
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in sorted(z.files) if not TIMING_KEY.search(k)}
    if suffix in (".h5", ".hdf5"):
        import h5py

        out: dict[str, Any] = {}

        def visit(name: str, obj: Any) -> None:
            if TIMING_KEY.search(name.rsplit("/", 1)[-1]):
                return
            attrs = {k: _json_text(v) for k, v in obj.attrs.items() if not TIMING_KEY.search(k)}
            if isinstance(obj, h5py.Dataset):
                out[name] = (obj[()], attrs)
            else:
                out[name] = attrs

        with h5py.File(path, "r") as f:
            out["/"] = {k: _json_text(v) for k, v in f.attrs.items()}
            f.visititems(visit)
        return out
    return None


def _same_content(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_content(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(_same_content(x, y) for x, y in zip(a, b, strict=True))
    return _equal(a, b)


def compare_file(a: Path, b: Path, rel: str) -> FileResult:
    if a.read_bytes() == b.read_bytes():
        return FileResult(rel, "same")
    try:
        ca, cb = _content_without_timing(a), _content_without_timing(b)
    except Exception as exc:  # unreadable: plainly different bytes
        return FileResult(rel, "differ", f"bytes differ ({type(exc).__name__} reading the content)")
    if ca is not None and _same_content(ca, cb):
        return FileResult(rel, "timing", "only measured time differs")
    size = (a.stat().st_size, b.stat().st_size)
    first = next((i for i, (x, y) in enumerate(zip(a.read_bytes(), b.read_bytes())) if x != y), min(size))
    return FileResult(rel, "differ", f"bytes differ from offset {first} (sizes {size[0]}, {size[1]})")


def compare(a: str | Path, b: str | Path, only: Iterable[str] | None = None) -> list[FileResult]:
    """Every compared file of two working directories (or of ``only``,
    relative paths), sorted by path."""
    a, b = Path(a), Path(b)
    paths = sorted(set(only) if only is not None else files(a) | files(b))
    out = []
    for rel in paths:
        pa, pb = a / rel, b / rel
        if not (pa.is_file() and pb.is_file()):
            out.append(FileResult(rel, "missing", f"only in {a if pa.is_file() else b}"))
        else:
            out.append(compare_file(pa, pb, rel))
    return out


def metric_values(path: str | Path) -> dict[str, Any]:
    """Every number of a metrics.json, flattened (``metrics.auc.mlp.100.mean`` ...)."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, obj: Any) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                walk(f"{prefix}[{i}]", v)
        elif isinstance(obj, int | float) and not isinstance(obj, bool):
            flat[prefix] = obj

    walk("", json.loads(Path(path).read_text()))
    return flat
