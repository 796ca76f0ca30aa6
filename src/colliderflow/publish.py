"""Published models for reinterpretation (arXiv:2312.14575): any torch model
-> ONNX + model card + frozen validation set, and a check that re-runs the
ONNX file in onnxruntime against the stored outputs.

Layout of a published model directory::

    model.onnx          the network (batch axis dynamic)
    model_card.json     inputs (names, shapes, units, preprocessing), outputs,
                        training data, metrics, versions, sha256 of model.onnx
    model_card.md       the same, readable
    validation.npz      frozen inputs and the torch outputs on them

Any study calls :func:`publish_model` (or :func:`publish_checked`, which also
runs the onnxruntime check and records an exporter failure instead of raising)
and writes its check record with :func:`write_check`; the pipeline's verify
rule calls :func:`verify_published`.

Nothing published names the machine that built it: every string written
(the ONNX file's doc strings, node names and metadata such as the dynamo
exporter's stack traces, the model card, the check record, a recorded
exporter error) goes through :func:`relative_paths`, which writes the
repository and the working directory as relative paths, site-packages as
``<site-packages>``, the Python installation as ``<sys.prefix>``, the
temporary directory as ``<tmp>`` and the home directory as ``~``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import re
import site
import sys
import sysconfig
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .errors import InputError
from .io import atomic_path, read_json, write_json

if TYPE_CHECKING:
    import torch

#: onnxruntime vs torch outputs of a model exported by :func:`publish_model`
DEFAULT_ATOL = 1e-5
CARD_FIELDS = ("name", "inputs", "outputs", "training_data", "metrics", "versions", "onnx_sha256")


#: a site-packages (or dist-packages) directory anywhere: ``<site-packages>``
_SITE_PACKAGES = r"(?:[A-Za-z]:)?[^\s\"'`<>()\[\]{},;:=|]*[/\\](?:site|dist)-packages(?![\w.-])"


def _variants(path: str | os.PathLike | None) -> set[str]:
    """``path`` as given, absolute and with its links resolved (no trailing separator)."""
    if not path:
        return set()
    out = {os.path.abspath(path), os.path.realpath(path)}
    return {p.rstrip("/\\") for p in out if len(p.rstrip("/\\")) > 1}  # never the root itself


def _repository() -> Path | None:
    """The checkout this module is imported from (``<repo>/src/colliderflow``), else None."""
    here = Path(__file__).resolve().parent
    return here.parents[1] if here.parent.name == "src" else None


@cache
def _roots(cwd: str) -> tuple[re.Pattern, dict[str, str]]:
    """The pattern of every machine path :func:`relative_paths` rewrites, and
    each literal root's replacement ("" for a root written relative)."""
    roots: dict[str, str] = {}

    def add(paths: set[str], repl: str) -> None:
        for p in paths:
            roots.setdefault(p, repl)

    sites = set(site.getsitepackages()) if hasattr(site, "getsitepackages") else set()
    sites |= {site.getusersitepackages(), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    for p in sites:
        add(_variants(p), "<site-packages>")
    for key in ("stdlib", "platstdlib"):
        add(_variants(sysconfig.get_paths()[key]), "<stdlib>")
    for p in (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix):
        add(_variants(p), "<sys.prefix>")
    add(_variants(cwd), "")
    add(_variants(_repository()), "")
    add(_variants(tempfile.gettempdir()) | _variants("/tmp"), "<tmp>")
    add(_variants(os.path.expanduser("~")), "~")
    literal = "|".join(re.escape(p) for p in sorted(roots, key=len, reverse=True))
    return re.compile(rf"(?P<site>{_SITE_PACKAGES})|(?<![\w./\\-])(?P<root>{literal})(?![\w.-])(?P<rest>[/\\]?)"), roots


def relative_paths(obj: Any) -> Any:
    """``obj`` (a string, or dicts, lists and tuples of them; anything else is
    returned as is) with every path of this machine rewritten: the repository
    and the working directory relative (``/repo/src/x.py`` -> ``src/x.py``,
    the directory itself ``.``), site-packages ``<site-packages>``, the
    standard library ``<stdlib>``, the rest of the Python installation
    ``<sys.prefix>``, the temporary directory ``<tmp>``, home ``~``."""
    if isinstance(obj, str):
        pattern, roots = _roots(os.getcwd())

        def repl(m: re.Match) -> str:
            if m["site"] is not None:
                return "<site-packages>"
            new = roots[m["root"]]
            if new:
                return new + m["rest"]
            return "" if m["rest"] else "."

        return pattern.sub(repl, obj)
    if isinstance(obj, dict):
        return {relative_paths(k): relative_paths(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(relative_paths(v) for v in obj)
    return obj


def _relative_proto(msg: Any) -> None:
    """Every string field of a protobuf message (recursively) through :func:`relative_paths`, in place."""
    for fd, value in msg.ListFields():
        repeated = fd.is_repeated if hasattr(fd, "is_repeated") else fd.label == fd.LABEL_REPEATED
        if fd.type == fd.TYPE_MESSAGE:
            for m in (value if repeated else (value,)):
                _relative_proto(m)
        elif fd.type == fd.TYPE_STRING:
            if repeated:
                value[:] = [relative_paths(v) for v in value]
            else:
                setattr(msg, fd.name, relative_paths(value))


def relative_onnx(path: str | Path) -> None:
    """Rewrite an ONNX file (one self-contained file) with every string in it
    (doc strings, names, metadata: the dynamo exporter's stack traces) through
    :func:`relative_paths`; the weights are untouched."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    _relative_proto(model)
    onnx.save(model, str(path))


def write_check(path: str | Path, record: dict) -> None:
    """Write a study's published-model check record (published_check.json)
    with its paths made machine-free (:func:`relative_paths`)."""
    write_json(path, relative_paths(record))


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("colliderflow", "torch", "numpy", "onnx", "onnxruntime"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def _sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def publish_model(model: torch.nn.Module, inputs: dict[str, np.ndarray], out_dir: str | Path, *, name: str,
                  input_specs: dict[str, dict], outputs: dict[str, dict], training_data: dict,
                  metrics: dict | None = None, description: str = "", opset: int = 17, dynamo: bool = False,
                  float_dtype: DTypeLike = np.float32) -> dict:
    """Export ``model`` (torch.nn.Module, called as ``model(*inputs.values())``)
    to ``out_dir``; returns the model card.

    ``inputs``: the frozen validation set, one array per model input (first
    axis = batch); integer arrays (token ids) stay int64, the rest become
    ``float_dtype`` (float32; float64 for a model run in double precision).
    ``input_specs``: per input a dict with at least ``units`` and
    ``preprocessing``. ``outputs``: per output a dict with ``description``.
    ``dynamo``: use torch.onnx's torch.export-based exporter instead of the
    TorchScript one (for models the latter cannot convert; opset >= 18).
    """
    import torch

    _check_specs(inputs, input_specs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    inputs = {k: _as_input(v, float_dtype) for k, v in inputs.items()}
    tensors = tuple(torch.as_tensor(v) for v in inputs.values())
    in_names, out_names = list(inputs), list(outputs)
    axes = {n: {0: "batch"} for n in in_names + out_names}
    onnx_path = out_dir / "model.onnx"
    with atomic_path(onnx_path) as tmp:
        extra = {"external_data": False, "optimize": False} if dynamo else {}  # one self-contained file
        torch.onnx.export(model, tensors, str(tmp), input_names=in_names, output_names=out_names,
                          dynamic_axes=axes, opset_version=opset, dynamo=dynamo, **extra)
        relative_onnx(tmp)
    with torch.no_grad():
        res = model(*tensors)
    res = res if isinstance(res, (tuple, list)) else (res,)
    frozen = {f"input__{k}": v for k, v in inputs.items()}
    frozen.update({f"output__{k}": r.detach().cpu().numpy() for k, r in zip(out_names, res)})
    fmt = f"ONNX opset {opset}, batch axis dynamic" + (" (torch.onnx dynamo exporter)" if dynamo else "")
    return _write_card(out_dir, frozen, name=name, description=description, fmt=fmt,
                       input_specs=input_specs, outputs=outputs, training_data=training_data, metrics=metrics,
                       atol=DEFAULT_ATOL)


def publish_exported(onnx_file: str | Path, inputs: dict[str, np.ndarray], reference: dict[str, np.ndarray],
                     out_dir: str | Path, *, name: str, input_specs: dict[str, dict], outputs: dict[str, dict],
                     training_data: dict, tolerance: float, tolerance_reason: str, metrics: dict | None = None,
                     description: str = "", fmt: str = "ONNX", graph_optimization: str = "ORT_ENABLE_ALL") -> dict:
    """Publish an ONNX file exported elsewhere (e.g. Brevitas' QCDQ export of a
    quantized model, which reproduces its torch model only to a stated
    tolerance or only with some of onnxruntime's graph optimisations); returns
    the model card.

    ``reference``: per output (the names of ``outputs``, in the file's output
    order) the source model's outputs on ``inputs``, stored as the frozen
    validation set. The file is run in onnxruntime first; a ``tolerance``
    tighter than its difference from ``reference`` is refused (one line, nothing
    written). The card states the tolerance and ``tolerance_reason``, and
    :func:`verify_published` checks against that tolerance.
    ``graph_optimization``: the onnxruntime ``GraphOptimizationLevel`` the
    outputs are reproduced with, stated in the card and used by the check
    (e.g. ``ORT_DISABLE_ALL`` for a QDQ graph: the default levels fuse
    Quantize/DequantizeLinear and Gemm into integer kernels that requantize
    a float bias, a different arithmetic from the source model's).
    """
    import shutil

    onnx_file = Path(onnx_file)
    if not onnx_file.is_file():
        raise InputError(onnx_file, None, "file does not exist")
    if not (math.isfinite(tolerance) and tolerance > 0) or not tolerance_reason.strip():
        raise InputError(None, "tolerance", f"{name}: a positive tolerance with its reason is required")
    _check_specs(inputs, input_specs)
    inputs = {k: _as_input(v) for k, v in inputs.items()}
    sess = _session(onnx_file, graph_optimization)
    out_names = [o.name for o in sess.get_outputs()]
    if out_names != list(outputs) or set(reference) != set(outputs):
        raise InputError(onnx_file, "outputs", f"{name}: the file's outputs {out_names}, the card's {list(outputs)}, "
                                               f"the reference's {sorted(reference)} must agree")
    got = sess.run(out_names, {i.name: inputs[i.name] for i in sess.get_inputs()})
    diff = max(float(np.max(np.abs(g.astype(np.float64) - np.asarray(reference[n], np.float64)), initial=0.0))
               for n, g in zip(out_names, got))
    if not diff <= tolerance:
        raise InputError(onnx_file, "tolerance", f"{name}: stated tolerance {tolerance:g} is tighter than "
                                                 f"onnxruntime's difference {diff:.3g} from the reference outputs")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "model.onnx") as tmp:
        shutil.copyfile(onnx_file, tmp)
        relative_onnx(tmp)
    frozen = {f"input__{k}": v for k, v in inputs.items()}
    frozen.update({f"output__{k}": np.asarray(reference[k]) for k in out_names})
    return _write_card(out_dir, frozen, name=name, description=description, fmt=fmt, input_specs=input_specs,
                       outputs=outputs, training_data=training_data, metrics=metrics, atol=tolerance,
                       reason=tolerance_reason, measured=diff, graph_optimization=graph_optimization)


def _session(onnx_path: str | Path, graph_optimization: str = "ORT_ENABLE_ALL") -> Any:
    """An onnxruntime CPU session at the ``GraphOptimizationLevel`` named ``graph_optimization``."""
    import onnxruntime as ort

    level = getattr(ort.GraphOptimizationLevel, str(graph_optimization), None)
    if not isinstance(level, ort.GraphOptimizationLevel):
        raise InputError(None, "graph_optimization", f"'{graph_optimization}' is not an onnxruntime "
                                                     "GraphOptimizationLevel (e.g. ORT_DISABLE_ALL, ORT_ENABLE_ALL)")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = level
    return ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])


def _check_specs(inputs: dict, input_specs: dict) -> None:
    missing = [k for k in inputs if k not in input_specs]
    if missing:
        raise InputError(None, missing[0], "input has no entry in input_specs (units, preprocessing)")
    for k, spec in input_specs.items():
        for field in ("units", "preprocessing"):
            if field not in spec:
                raise InputError(None, f"input_specs.{k}.{field}", "required for the model card")


def _write_card(out_dir: Path, frozen: dict[str, np.ndarray], *, name: str, description: str, fmt: str,
                input_specs: dict, outputs: dict, training_data: dict, metrics: dict | None, atol: float,
                reason: str | None = None, measured: float | None = None,
                graph_optimization: str = "ORT_ENABLE_ALL") -> dict:
    """validation.npz (``input__<name>`` / ``output__<name>`` arrays) and the
    model card (JSON and markdown) beside ``out_dir/model.onnx``."""
    with atomic_path(out_dir / "validation.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **frozen)
    ins = {k[len("input__"):]: v for k, v in frozen.items() if k.startswith("input__")}
    tol = f"onnxruntime must reproduce the stored outputs within {atol:g}".replace("e-0", "e-")
    tol += f" ({reason})" if reason else ""
    val = {"file": "validation.npz", "n": int(len(next(iter(ins.values())))), "tolerance": tol, "atol": atol}
    if measured is not None:
        val["max_abs_diff_at_publication"] = measured
    if graph_optimization != "ORT_ENABLE_ALL":  # onnxruntime's default
        val["tolerance"] += f"; run with onnxruntime graph_optimization_level {graph_optimization}"
        val["onnxruntime_graph_optimization"] = graph_optimization
    card = relative_paths({
        "name": name,
        "description": description,
        "format": fmt,
        "inputs": {k: {"shape": ["batch", *v.shape[1:]], "dtype": str(v.dtype), **input_specs[k]}
                   for k, v in ins.items()},
        "outputs": {k: {"shape": ["batch", *frozen[f"output__{k}"].shape[1:]], **outputs[k]} for k in outputs},
        "training_data": training_data,
        "metrics": metrics or {},
        "validation_set": val,
        "versions": _versions(),
        "onnx_sha256": _sha256(out_dir / "model.onnx"),
    })
    write_json(out_dir / "model_card.json", card)
    with atomic_path(out_dir / "model_card.md") as tmp:
        tmp.write_text(card_markdown(card))
    return card


def _as_input(v: ArrayLike, float_dtype: DTypeLike = np.float32) -> np.ndarray:
    v = np.asarray(v)
    return v.astype(np.int64) if np.issubdtype(v.dtype, np.integer) else v.astype(float_dtype)


def publish_checked(model: torch.nn.Module, inputs: dict[str, np.ndarray], out_dir: str | Path, **card) -> dict:
    """:func:`publish_model` then :func:`verify_published`; returns the record a
    study keeps (``exported``, ``passed``, ``max_abs_diff``, ``dir``). A model the
    exporter cannot convert is a result to report: ``exported`` false and the
    error, not an exception (only a bad ``input_specs`` still raises)."""
    try:
        publish_model(model, inputs, out_dir, **card)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 -- an exporter failure is a result to report
        return {"exported": False, "error": relative_paths(f"{type(exc).__name__}: {exc}")[:500]}
    check = verify_published(out_dir)
    return {"exported": True, "max_abs_diff": check["max_abs_diff"], "passed": bool(check["passed"]),
            "dir": relative_paths(str(out_dir))}


def card_markdown(card: dict) -> str:
    lines = [f"# Model card: {card['name']}", "", card.get("description", ""), "",
             f"Format: {card['format']}. sha256 of model.onnx: `{card['onnx_sha256']}`.", "", "## Inputs", ""]
    for k, s in card["inputs"].items():
        lines.append(f"- `{k}` shape {s['shape']}, units: {s['units']}; preprocessing: {s['preprocessing']}")
    lines += ["", "## Outputs", ""]
    for k, s in card["outputs"].items():
        lines.append(f"- `{k}` shape {s['shape']}: {s.get('description', '')}")
    lines += ["", "## Training data", "", "```", json.dumps(card["training_data"], indent=2), "```",
              "", "## Metrics", "", "```", json.dumps(card["metrics"], indent=2), "```",
              "", "## Versions", "", "```", json.dumps(card["versions"], indent=2), "```",
              "", f"Validation: {card['validation_set']['n']} frozen inputs in validation.npz; "
              f"{card['validation_set']['tolerance']}.", ""]
    return "\n".join(lines)


def verify_published(out_dir: str | Path, atol: float | None = DEFAULT_ATOL) -> dict:
    """Re-run ``model.onnx`` in onnxruntime on the frozen inputs; compare to
    the stored outputs. Returns ``{"max_abs_diff", "passed", ...}``.
    ``atol=None``: the tolerance the card states (``validation_set.atol``,
    :func:`publish_exported`), else :data:`DEFAULT_ATOL`."""
    import onnxruntime as ort

    out_dir = Path(out_dir)
    card = read_json(out_dir / "model_card.json")
    missing = [f for f in CARD_FIELDS if f not in card]
    if missing:
        raise InputError(out_dir / "model_card.json", missing[0], "model card field missing")
    if atol is None:
        atol = float(card.get("validation_set", {}).get("atol", DEFAULT_ATOL))
    onnx_path = out_dir / "model.onnx"
    if not onnx_path.exists():
        raise InputError(onnx_path, None, "file does not exist")
    sha_ok = _sha256(onnx_path) == card["onnx_sha256"]
    val_path = out_dir / "validation.npz"
    if not val_path.exists():
        raise InputError(val_path, None, "file does not exist")
    val = np.load(val_path)
    sess = _session(onnx_path, card.get("validation_set", {}).get("onnxruntime_graph_optimization", "ORT_ENABLE_ALL"))
    feeds = {}
    for inp in sess.get_inputs():
        key = f"input__{inp.name}"
        if key not in val:
            raise InputError(val_path, key, "frozen input missing")
        feeds[inp.name] = val[key]
    names = [o.name for o in sess.get_outputs()]
    got = sess.run(names, feeds)
    diffs = {}
    for n, g in zip(names, got):
        key = f"output__{n}"
        if key not in val:
            raise InputError(val_path, key, "stored output missing")
        ref = val[key]
        if ref.shape != g.shape:
            raise InputError(val_path, key, f"shape {ref.shape} but onnxruntime gives {g.shape}")
        diffs[n] = float(np.max(np.abs(g.astype(np.float64) - ref))) if ref.size else 0.0
    worst = max(diffs.values()) if diffs else 0.0
    return {"name": card["name"], "max_abs_diff": worst, "per_output": diffs, "atol": atol,
            "sha256_matches_card": sha_ok, "n": int(len(next(iter(feeds.values())))),
            "onnxruntime": ort.__version__, "passed": bool(worst <= atol and sha_ok)}
