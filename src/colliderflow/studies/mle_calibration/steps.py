"""Steps of the mle_calibration study (rule ``mle_calibration_<step>``)."""

from __future__ import annotations

import dataclasses

from ...study import Context
from . import core


def run(ctx: Context) -> None:
    """Train under both priors, calibrate the test showers -> figure, metrics.json."""
    cfg = dataclasses.asdict(ctx.cfg)
    res = core.run(cfg, ctx.seed)
    metrics = core.summarise(res, cfg)
    core.plot(res, cfg, ctx.output.png)
    ctx.write_metrics({**metrics, "config": cfg})
