"""Steps of the jet_radiation study (rule ``jet_radiation_<step>``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ...study import Context
from . import VARIANTS

#: frozen validation inputs of each published step network
N_VAL = 200


def toy(ctx: Context) -> None:
    """The staircase Z + jets toy (truth for every multiplicity)."""
    from ...data.jet_radiation_toy import make_toy

    make_toy(ctx.output.events, dataclasses.asdict(ctx.cfg.toy), ctx.cfg.n_events, ctx.seed)


def lhe(ctx: Context) -> None:
    """Real truth events: the outgoing partons of a Les Houches Event file (source: lhe)."""
    from ...data.jet_radiation_toy import from_lhe

    from_lhe(ctx.input.lhe, ctx.output.events, ctx.cfg.lhe.pt_min, ctx.cfg.n_train_max + 1)


def train(ctx: Context) -> None:
    """Train one variant ({variant} wildcard; the bootstrap starts from the modified model) with training
    seed number {rep} and generate events."""
    from . import core

    c = ctx.cfg
    init = ctx.input.names().get("init") or []
    init = [init] if isinstance(init, str) else init
    seed = ctx.seed + 1000 * int(ctx.wildcards["rep"])
    core.run_training(ctx.input.events, ctx.wildcards["variant"], core.hparams(c), seed, ctx.output.model,
                      ctx.output.samples, ctx.output.forced, ctx.output.record, train_fraction=c.train_fraction,
                      n_generate=c.n_generate, n_gen_max=c.n_gen_max, init_path=init[0] if init else None)


def publish(ctx: Context) -> None:
    """Every variant's step network as ONNX + model card, checked in onnxruntime."""
    from ...publish import write_check
    from . import core

    out_root = Path(ctx.output.onnx[0]).parent.parent
    write_check(ctx.output.check, core.publish(
        dict(zip(VARIANTS, ctx.input.models)), dict(zip(VARIANTS, ctx.input.records)), ctx.input.events, out_root,
        train_fraction=ctx.cfg.train_fraction, n_gen_max=ctx.cfg.n_gen_max, n_val=N_VAL))


def report(ctx: Context) -> None:
    """Multiplicity and first-unseen-jet figures, metrics.json."""
    from . import core

    c = ctx.cfg
    per = len(ctx.input.samples) // len(VARIANTS)  # inputs ordered variant by variant, seeds inside

    def by_variant(paths: list) -> dict:
        return {v: list(paths[i * per:(i + 1) * per]) for i, v in enumerate(VARIANTS)}

    metrics = core.run_report(
        ctx.input.events, by_variant(ctx.input.samples), by_variant(ctx.input.forced), by_variant(ctx.input.records),
        ctx.output.mult, ctx.output.kin, train_fraction=c.train_fraction, n_train_max=c.n_train_max,
        n_gen_max=c.n_gen_max, published=ctx.input.publish)
    ctx.write_metrics(metrics)
