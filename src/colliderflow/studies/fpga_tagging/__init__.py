"""Jet tagging on FPGAs (arXiv:2402.01876): quantization-aware MLP, Deep Sets
and interaction-network taggers through QONNX/hls4ml C simulation and a
vendor-free synthesis stand-in; every float tagger published as ONNX + model
card (arXiv:2312.14575) and re-checked in onnxruntime."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...study import Step, Study, Verdict

CLAIM = ("quantization-aware MLP, Deep Sets and interaction network taggers convert to bit-accurate hls4ml "
         "firmware (C-sim argmax agreement >= {min_agreement:.0%}), Deep Sets accuracy grows with N, and the "
         "published ONNX models reproduce within 1e-5")


@dataclass(frozen=True)
class Hidden:
    mlp: tuple[int, ...]
    deepsets_phi: tuple[int, ...]
    deepsets_rho: tuple[int, ...]
    in_edge: tuple[int, ...]
    in_node: tuple[int, ...]


@dataclass(frozen=True)
class Config:
    archs: tuple[str, ...]
    n_constituents: tuple[int, ...]
    bits: int
    hidden: Hidden
    in_sizes: tuple[int, ...]
    epochs: int
    batch_size: int
    lr: float
    n_eval: int
    rtl_models: tuple[str, ...]
    rtl_n_sim: int
    yosys: bool
    yosys_timeout: int
    min_agreement: float


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """Every C simulation agrees with its QAT model (argmax) at least ``min_agreement``,
    every published ONNX model reproduces, and Deep Sets accuracy does not drop with N."""
    agree = list(metrics["csim_argmax_agreement_qat"].values())
    min_agree = float(min(agree)) if agree else math.nan
    published = metrics["published_models"]
    onnx_ok = all(v["passed"] for v in published.values()) if published else False
    holds = bool(min_agree >= cfg.min_agreement and onnx_ok
                 and (metrics["deepsets_accuracy_non_decreasing_in_N"] is not False))
    return Verdict(holds=holds, claim=CLAIM.format(min_agreement=cfg.min_agreement), key_metric={
        "name": "min C-sim argmax agreement with QAT torch (MLP, Deep Sets, interaction network)",
        "value": min_agree})


STUDY = Study(
    name="fpga_tagging",
    paper="arXiv:2402.01876",
    title="Jet tagging on FPGAs: QAT MLP, Deep Sets and interaction network through QONNX/hls4ml, "
          "vendor-free synthesis stand-in",
    claim=CLAIM.format(min_agreement=0.99),
    config=Config,
    steps=(
        Step("train", inputs=("jets",), outputs=("train", "qat", "flt", "onnx", "card"), env="hls", gpu=True,
             mem_mb=8000, runtime=120,
             doc="train the float and the QAT tagger of one architecture and N; publish the float one"),
        Step("hls", inputs=("qat", "train"), outputs=("csim",), env="hls",
             doc="QAT model -> QONNX -> hls4ml project, compile and C-simulate against torch"),
        Step("rtl", inputs=("qat", "train"), outputs=("rtl",), env="hls",
             doc="one MLP: da4ml -> Verilog -> Verilator simulation, then Yosys synth_xilinx (beside it with "
                 "--set-threads fpga_tagging_rtl=2)"),
        Step("synth", inputs=("csim", "rtl"), outputs=("report",), env="hls",
             doc="vendor HLS when on PATH, else the open stand-in (C-sim report + the rtl results)"),
        Step("verify", inputs=("onnx", "card"), outputs=("check",), env="hls",
             doc="re-run a published ONNX model in onnxruntime on its frozen validation set"),
        Step("report", inputs=("train", "csim", "synth", "verify"), outputs=("metrics", "png", "pdf"), env="hls",
             doc="scaling figure (accuracy / latency / resources vs N), judge"),
    ),
    figures=("fpga_scaling",),
    category="arXiv:2402.01876 FPGA jet tagging",
    verdict=verdict,
)
