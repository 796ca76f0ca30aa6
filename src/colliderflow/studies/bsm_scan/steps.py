"""Steps of the bsm_scan study (rule ``bsm_scan_<step>``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ...study import Context
from . import core


def run(ctx: Context) -> None:
    """Generate, train, fit, scan, pseudo-experiments -> figure, metrics.json."""
    cfg = dataclasses.asdict(ctx.cfg)
    res = core.run(cfg, ctx.seed)
    metrics = core.summarise(res, cfg)
    core.plot(res, ctx.output.png, rlabel=core.rlabel(metrics))
    published = core.publish(res, cfg, Path(ctx.output.onnx).parent, metrics)
    ctx.write_metrics({**metrics, "published": published, "config": cfg})
