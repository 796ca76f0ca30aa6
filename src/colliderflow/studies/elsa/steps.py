"""Steps of the elsa study (rule ``elsa_<step>``)."""

from __future__ import annotations

from pathlib import Path

from ...study import Context
from . import core


def study(ctx: Context) -> None:
    """Surrogate flow, DCTR weights, LASER (HMC in the latent space); AUCs, chi2/ndf, figures, metrics.json."""
    ctx.write_metrics(core.report(ctx.cfg, ctx.seed, Path(ctx.output.metrics).parent, ctx.tier))
