"""Steps of the mle_calibration study (rule ``mle_calibration_<step>``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ...study import Context
from . import core


def run(ctx: Context) -> None:
    """Train under both priors, calibrate the test showers -> figure, metrics.json."""
    cfg = dataclasses.asdict(ctx.cfg)
    res = core.run(cfg, ctx.seed)
    metrics = core.summarise(res, cfg)
    core.plot(res, cfg, ctx.output.png)
    published = {p: core.publish(res, cfg, p, Path(onnx).parent) for p, onnx in zip(cfg["priors"], ctx.output.onnx)}
    ctx.write_metrics({**metrics, "published": published, "config": cfg})
