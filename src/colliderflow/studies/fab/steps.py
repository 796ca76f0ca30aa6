"""Steps of the fab study (rule ``fab_<step>``)."""

from __future__ import annotations

from pathlib import Path

from ...study import Context
from . import core


def train(ctx: Context) -> None:
    """FAB, reverse KL, forward KL and VEGAS on the Dalitz target; curves.json, figures, metrics.json."""
    ctx.write_metrics(core.report(ctx.cfg, ctx.seed, Path(ctx.output.metrics).parent, ctx.tier))
