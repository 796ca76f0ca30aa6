"""Steps of the likelihood_flows study (rule ``likelihood_flows_<step>``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ...study import Context
from . import core


def run(ctx: Context) -> None:
    """Fit, test, export the accepted flow beside metrics.json (``export/``) -> figure, metrics.json."""
    cfg = dataclasses.asdict(ctx.cfg)
    res = core.run(cfg, ctx.seed, Path(ctx.output.metrics).parent / "export")
    metrics = core.summarise(res, cfg)
    core.plot(res, cfg, ctx.output.png)
    ctx.write_metrics({**metrics, "config": cfg})
