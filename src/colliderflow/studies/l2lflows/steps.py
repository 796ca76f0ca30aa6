"""Steps of the l2lflows study (rules ``l2lflows_<step>``)."""

from __future__ import annotations

from pathlib import Path

from ...study import Context
from . import core


def train(ctx: Context) -> None:
    """Train on the training showers, save the model, generate showers for the test file's half B."""
    i, o = ctx.input, ctx.output
    core.train_step(i.train, i.test, i.geometry, ctx.cfg, ctx.seed, o.model, o.generated, o.summary, o.ablation)


def report(ctx: Context) -> None:
    """Baseline, CaloChallenge-style evaluation (AUCs, W1), figures, metrics.json."""
    i = ctx.input
    tables = i.names().get("tables", [])  # the published tables (config reference_results), often none
    tables = [tables] if isinstance(tables, str) else tables
    metrics = core.report_step(i.train, i.test, i.geometry, i.generated, i.summary, ctx.cfg, ctx.seed,
                               Path(ctx.output.metrics).parent, tables=tables, tier=ctx.tier,
                               ablation_path=i.ablation)
    ctx.write_metrics(metrics)
