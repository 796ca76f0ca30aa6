"""Steps of the L-GATr study (rule ``lgatr_<step>``)."""

from __future__ import annotations

from pathlib import Path

from ...study import Context
from . import core

#: frozen validation jets of each published model
N_VAL = 200


def train(ctx: Context) -> None:
    """L-GATr (with and without spurions) and the plain transformer at every training size for the
    training seed ``{seed}``; the test split follows the global seed."""
    core.run_seed(ctx.input.jets, Path(ctx.output.result).parent, ctx.cfg, int(ctx.wildcards["seed"]), ctx.seed)


def publish(ctx: Context) -> None:
    """ONNX + model cards of the first seed's invariant L-GATr and baseline, checked in onnxruntime."""
    from ...publish import write_check

    out_dir = Path(ctx.output.card[0]).parent.parent
    write_check(ctx.output.check, core.publish(Path(ctx.input.result[0]).parent, ctx.input.jets, out_dir, ctx.cfg,
                                              ctx.seed, N_VAL))


def report(ctx: Context) -> None:
    """Invariance scan, the performance and invariance figures, metrics.json."""
    metrics = core.report(ctx.input.results, Path(ctx.input.models[0]).parent, ctx.input.jets,
                          Path(ctx.output.metrics).parent, ctx.cfg, ctx.seed, ctx.tier, published=ctx.input.publish)
    ctx.write_metrics(metrics)
