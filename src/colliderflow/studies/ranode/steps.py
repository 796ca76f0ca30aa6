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
    """One job of the injection scan (wildcards method, n_sig, scan_seed, split; see :mod:`.jobs`)."""
    from .scan import scan_step

    tcfg = build_config(TransitConfig, ctx.params["transit"], "studies.transit")
    w = ctx.wildcards
    scan_step(ctx.input.events, ctx.input.background, ctx.input.names().get("transit"), ctx.output.scan, ctx.cfg,
              tcfg.source_width, ctx.seed, int(w["scan_seed"]), ctx.threads, method=w.get("method", "all"),
              n_sig=w.get("n_sig", "all"), split_index=int(w.get("split", 0)))


def aggregate(ctx: Context) -> None:
    """The scan jobs merged per seed and split, with the median and 68 % band over them."""
    from ...io import write_json
    from .methods import aggregate as summary
    from .methods import merge_cells

    cells = [ctx.input.cells] if isinstance(ctx.input.cells, str) else ctx.input.cells
    records = merge_cells(((p, read_json(p)) for p in cells), ctx.cfg.methods)
    agg = summary(records, ctx.cfg.methods)
    write_json(ctx.output.scans, {"records": records, "aggregate": agg})
    ctx.logger.info("%d scan jobs -> %d (seed, split) records", len(cells), len(records))


def report(ctx: Context) -> None:
    """max SIC vs S/sqrt(B), SIC curves, learned w; metrics.json."""
    from .plots import ranode_report
    from .training import training_block

    scans = read_json(ctx.input.scans)["records"]
    metrics = ranode_report(scans, ctx.cfg, ctx.output.max_sic, ctx.output.curves, ctx.output.w)
    training, metrics["training_per_injection"] = training_block(scans)
    ctx.write_metrics(metrics, training=training)
