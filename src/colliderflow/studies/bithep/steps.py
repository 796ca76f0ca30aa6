"""Steps of the BitHEP study (rule ``bithep_<step>``)."""

from __future__ import annotations

from ...io import read_json
from ...study import Context
from . import PUBLISHED, core

#: frozen validation jets of each published tagger
N_VAL = 200


def task(ctx: Context) -> None:
    """Train the task ``{task}`` in full, binary and ternary precision; its result JSON, arrays and networks."""
    core.run_task(ctx.wildcards["task"], ctx.input.jets, ctx.cfg, ctx.seed, ctx.output.json, ctx.output.npz,
                  ctx.output.models)


def publish(ctx: Context) -> None:
    """ONNX + model cards of the full-precision and ternary q/g taggers, checked in onnxruntime."""
    from pathlib import Path

    from ...publish import write_check

    models = dict(zip(PUBLISHED, ctx.input.models, strict=True))
    out_root = Path(ctx.output.card[0]).parent.parent
    write_check(ctx.output.check, core.publish(models, ctx.input.tagging, ctx.input.jets, out_root, N_VAL))


def report(ctx: Context) -> None:
    """The four-panel figure and metrics.json from the three task results."""
    docs, arrays = core.load_results(ctx.input.tasks)
    metrics = core.report(docs, arrays, ctx.output.png, ctx.cfg.auc_loss_max, read_json(ctx.input.publish))
    ctx.write_metrics(metrics)
