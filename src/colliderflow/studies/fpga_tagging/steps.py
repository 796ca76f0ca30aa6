"""Steps of the fpga_tagging study (rule ``fpga_tagging_<step>``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ...publish import verify_published, write_check
from ...study import Context
from . import core

#: onnxruntime vs stored outputs of a published model
VERIFY_ATOL = 1e-5
#: seconds before a vendor HLS synthesis is stopped
VENDOR_TIMEOUT = 3600
#: Deep Sets accuracy may drop with N by this much (plus the binomial error) and still count as non-decreasing
ACC_TOLERANCE = 0.01


def train(ctx: Context) -> None:
    """Jets -> float and QAT tagger of one (arch, N) (wildcards), test set, predictions, published float model."""
    c = ctx.cfg
    hidden = {k: list(v) for k, v in dataclasses.asdict(c.hidden).items()}
    core.train_pair(ctx.input.jets, Path(ctx.output.train).parent, arch=ctx.wildcards["arch"],
                    n=int(ctx.wildcards["n"]), hidden=hidden, bits=c.bits, epochs=c.epochs, batch_size=c.batch_size,
                    lr=c.lr, seed=ctx.seed)


def hls(ctx: Context) -> None:
    """QAT model -> QONNX -> hls4ml project (Vitis, io_parallel), compiled and C-simulated against torch."""
    core.hls_csim(Path(ctx.input.qat).parent, Path(ctx.output.csim).parent, n_eval=ctx.cfg.n_eval)


def rtl(ctx: Context) -> None:
    """One MLP (wildcard ``model``): da4ml -> Verilog -> Verilator, then Yosys (beside it with 2 threads)."""
    from ...io import write_json

    c = ctx.cfg
    res = core.open_rtl(Path(ctx.input.qat).parent, Path(ctx.output.rtl).parent, n_sim=c.rtl_n_sim,
                        run_yosys=c.yosys, yosys_timeout=c.yosys_timeout, threads=ctx.threads)
    write_json(ctx.output.rtl, res)


def synth(ctx: Context) -> None:
    """Synthesis: vendor HLS when on PATH, else the open stand-in (C-sim report + the rtl step's
    da4ml/Verilator/Yosys results), labelled."""
    core.synthesize(list(ctx.input.csim), ctx.output.report, rtl_files=list(ctx.input.rtl),
                    vendor_timeout=VENDOR_TIMEOUT)


def verify(ctx: Context) -> None:
    """The published float ONNX model (and the quantized one, when the job has it) re-run in onnxruntime on
    its frozen validation set, compared with the stored outputs: the float one within ``VERIFY_ATOL``, the
    quantized one within the tolerance its card states (:data:`core.QAT_ONNX_ATOL`, with its reason)."""
    model_dir = Path(ctx.input.onnx).parent
    res = verify_published(model_dir, VERIFY_ATOL)
    failed = [(model_dir, res)] if not res["passed"] else []
    if "qat_onnx" in ctx.input.names():
        qdir = Path(ctx.input.qat_onnx).parent
        res["quantized"] = verify_published(qdir, None)
        failed += [(qdir, res["quantized"])] if not res["quantized"]["passed"] else []
    write_check(ctx.output.check, res)
    if failed:
        d, r = failed[0]
        raise RuntimeError(f"published model {d}: onnxruntime differs by {r['max_abs_diff']:.3g} > {r['atol']:g}")


def report(ctx: Context) -> None:
    """Scaling figures (accuracy / latency / resources vs N) and metrics.json."""
    metrics = core.report(list(ctx.input.train), list(ctx.input.csim), ctx.input.synth, list(ctx.input.verify),
                          ctx.output.png, tier=ctx.tier, min_agreement=ctx.cfg.min_agreement,
                          acc_tolerance=ACC_TOLERANCE)
    ctx.write_metrics(metrics)
