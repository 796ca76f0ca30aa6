"""Steps of the R-ANODE study (rules ``ranode_<step>``). ``background`` and
``scan`` serve the transit study too."""

from __future__ import annotations

from ...io import read_json
from ...study import Context, build_config
from ..transit import Config as TransitConfig


def background(ctx: Context) -> None:
    """Frozen background model: conditional flow p_B(x | mjj) on the sidebands and a p_B(mjj) fit."""
    from .background import background_step

    ctx.logger.info("%s", background_step(ctx.input.events, ctx.output.model, ctx.cfg, ctx.seed))


def scan(ctx: Context) -> None:
    """One seed (wildcard scan_seed) of the injection scan: every method at every injection."""
    from .scan import scan_step

    tcfg = build_config(TransitConfig, ctx.params["transit"], "studies.transit")
    scan_step(ctx.input.events, ctx.input.background, ctx.input.transit, ctx.output.scan, ctx.cfg, tcfg.source_width,
              ctx.seed, int(ctx.wildcards["scan_seed"]), ctx.threads)


def report(ctx: Context) -> None:
    """max SIC vs S/sqrt(B), SIC curves, learned w; metrics.json."""
    from .plots import ranode_report
    from .training import training_block

    scans = [read_json(p) for p in ctx.input.scans]
    metrics = ranode_report(scans, ctx.cfg, ctx.output.max_sic, ctx.output.curves, ctx.output.w)
    training, metrics["training_per_injection"] = training_block(scans)
    ctx.write_metrics(metrics, training=training)
