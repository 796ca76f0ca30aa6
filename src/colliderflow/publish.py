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

    missing = [k for k in inputs if k not in input_specs]
    if missing:
        raise InputError(None, missing[0], "input has no entry in input_specs (units, preprocessing)")
    for k, spec in input_specs.items():
        for field in ("units", "preprocessing"):
            if field not in spec:
                raise InputError(None, f"input_specs.{k}.{field}", "required for the model card")
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
    with atomic_path(out_dir / "validation.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **frozen)
    card = relative_paths({
        "name": name,
        "description": description,
        "format": f"ONNX opset {opset}, batch axis dynamic" + (" (torch.onnx dynamo exporter)" if dynamo else ""),
        "inputs": {k: {"shape": ["batch", *v.shape[1:]], "dtype": str(v.dtype), **input_specs[k]}
                   for k, v in inputs.items()},
        "outputs": {k: {"shape": ["batch", *frozen[f"output__{k}"].shape[1:]], **outputs[k]} for k in out_names},
        "training_data": training_data,
        "metrics": metrics or {},
        "validation_set": {"file": "validation.npz", "n": int(len(next(iter(inputs.values())))),
                           "tolerance": "onnxruntime must reproduce the stored outputs within 1e-5"},
        "versions": _versions(),
        "onnx_sha256": _sha256(onnx_path),
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


def verify_published(out_dir: str | Path, atol: float = 1e-5) -> dict:
    """Re-run ``model.onnx`` in onnxruntime on the frozen inputs; compare to
    the stored outputs. Returns ``{"max_abs_diff", "passed", ...}``."""
    import onnxruntime as ort

    out_dir = Path(out_dir)
    card = read_json(out_dir / "model_card.json")
    missing = [f for f in CARD_FIELDS if f not in card]
    if missing:
        raise InputError(out_dir / "model_card.json", missing[0], "model card field missing")
    onnx_path = out_dir / "model.onnx"
    if not onnx_path.exists():
        raise InputError(onnx_path, None, "file does not exist")
    sha_ok = _sha256(onnx_path) == card["onnx_sha256"]
    val_path = out_dir / "validation.npz"
    if not val_path.exists():
        raise InputError(val_path, None, "file does not exist")
    val = np.load(val_path)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
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


def publish_flow(flow: torch.nn.Module, inputs: dict[str, np.ndarray], out_dir: str | Path, *, name: str,
                 input_specs: dict[str, dict], description: str = "", sampler: bool = False, **card) -> dict:
    """A (conditional) :class:`colliderflow.nn.flows.StandardizedFlow` published in float64 (in float32 torch
    and onnxruntime differ by 1e-5 to 5e-5 on log-densities of O(10), over the check's 1e-5): ``out_dir``
    holds ``log_prob`` = log p(x [| c]) of ``inputs`` (``x``, then the context), and with ``sampler``
    ``out_dir``/sampler the inverse transform ``x = f^-1(z [; c])`` (draw ``z`` from N(0, 1) for samples
    of the flow), checked on the latent images of the frozen ``x`` (about 5 CPU s more for a 4-d NSF of 3
    transforms: a study publishes the sampler where its paper samples the flow). Returns
    :func:`publish_checked`'s record of the log-density with the sampler's under ``sampler``."""
    import copy

    import torch

    from .nn.flows import Decoder, LogLikelihood

    flow64 = copy.deepcopy(flow).double().eval()
    x_name, *c_names = list(inputs)
    rec = publish_checked(LogLikelihood(flow64), inputs, out_dir, name=name, input_specs=input_specs,
                          description=description, float_dtype=np.float64,
                          outputs={"log_prob": {"description": "log-density of each row of x"
                                                + (f" given {', '.join(c_names)}" if c_names else "")}}, **card)
    if sampler:
        c = [np.asarray(inputs[k], dtype=np.float64) for k in c_names]
        with torch.no_grad():
            z = flow64.latent(torch.as_tensor(np.asarray(inputs[x_name], dtype=np.float64)),
                              *(torch.as_tensor(v) for v in c)).numpy()
        specs = {"z": {"units": "1", "preprocessing": "none: a standard-normal draw, one row per sample"},
                 **{k: input_specs[k] for k in c_names}}
        rec["sampler"] = publish_checked(
            Decoder(flow64), {"z": z, **dict(zip(c_names, c))}, Path(out_dir) / "sampler", name=f"{name} (sampler)",
            input_specs=specs, description=f"the inverse transform of: {description}", float_dtype=np.float64,
            outputs={x_name: {"description": f"{x_name} = f^-1(z) in the units of {x_name}: a sample of the flow "
                                             "for z ~ N(0, 1)"}}, **card)
    return rec

