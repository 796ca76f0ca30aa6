"""Steps of the likelihood_flows study (rule ``likelihood_flows_<step>``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ...study import Context
from . import core


def run(ctx: Context) -> None:
    """Fit, test, export the accepted flow beside metrics.json (``export/``, ONNX in ``published/``) -> figure,
    metrics.json (a rejected flow is still published, for inspection; its card says it failed the gate)."""
    cfg = dataclasses.asdict(ctx.cfg)
    res = core.run(cfg, ctx.seed, Path(ctx.output.metrics).parent / "export", Path(ctx.output.card).parent)
    if not res["accepted"]:  # nothing to publish: the verdict says so; the rule's outputs still exist
        core.publish_onnx(res["flow"], Path(ctx.output.card).parent, res["gof"], cfg, res["x_val"])
    metrics = core.summarise(res, cfg, seed=ctx.seed)
    core.plot(res, cfg, ctx.output.png)
    ctx.write_metrics({**metrics, "config": cfg})
