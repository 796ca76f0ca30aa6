"""Steps of the TRANSIT study (rules ``transit_<step>``). They also read the
R-ANODE section (regions, data split, classifier): the rule param ``ranode``."""

from __future__ import annotations

from pathlib import Path

from ...io import read_json
from ...study import Context, build_config
from ..ranode import Config as RanodeConfig


def _ranode(ctx: Context) -> RanodeConfig:
    return build_config(RanodeConfig, ctx.params["ranode"], "studies.ranode")


def train(ctx: Context) -> None:
    """The transport network on the sidebands."""
    from .model import transit_step

    ctx.logger.info("%s", transit_step(ctx.input.events, ctx.output.model, _ranode(ctx), ctx.cfg, ctx.seed))


def closure(ctx: Context) -> None:
    """Template closure in the SR (TRANSIT, CATHODE flow samples, untransported sidebands vs truth)."""
    from .model import closure_step

    doc = closure_step(ctx.input.events, ctx.input.background, ctx.input.transit, ctx.output.json, ctx.output.png,
                       _ranode(ctx), ctx.cfg, ctx.seed, ctx.threads, ctx.tier)
    ctx.logger.info("closure AUC %s", doc["closure_auc"])


def _hparams(model: str) -> dict:
    """The hyper-parameters (and training time) saved beside a model .pt."""
    return read_json(Path(model).with_suffix(".json"))


def report(ctx: Context) -> None:
    """Closure AUC, CWoLa max SIC vs injection beside CATHODE, training time; metrics.json."""
    from ... import health
    from ..ranode.training import history_health
    from .model import transit_report

    scans = read_json(ctx.input.scans)["records"]
    bg, tr = _hparams(ctx.input.background), _hparams(ctx.input.transit)
    training = health.block([(name, rec) for name, rec in (("transit", history_health(tr.get("history"))),
                                                           ("background_flow", history_health(bg.get("history"))))
                             if rec is not None])
    ctx.write_metrics(transit_report(scans, read_json(ctx.input.closure), bg, tr, ctx.output.png, _ranode(ctx),
                                     ctx.cfg), training=training)
