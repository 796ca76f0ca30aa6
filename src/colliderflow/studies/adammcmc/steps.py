"""Steps of the AdamMCMC study (rule ``adammcmc_<step>``)."""

from __future__ import annotations

from pathlib import Path

from ...study import Context
from . import core

#: frozen validation jets of the published tagger
N_VAL = 200


def train(ctx: Context) -> None:
    """The pretrained tagger and a deep ensemble of ``n_samples`` taggers with other seeds."""
    c = ctx.cfg
    core.check_config(c)
    core.train_taggers(ctx.input.jets, Path(ctx.output.tagger).parent, signal=c.signal, background=c.background,
                       ood=c.ood, n_constituents=c.n_constituents, hidden=c.hidden, epochs=c.epochs,
                       batch_size=c.batch_size, train_lr=c.train_lr, test_fraction=c.test_fraction,
                       n_samples=c.n_samples, seed=ctx.seed, ood_path=ctx.input.ood_jets)


def sample(ctx: Context) -> None:
    """Acceptance scan, the sampling chain, and the predictions of samples, ensemble and pretrained tagger."""
    c = ctx.cfg
    core.sample(ctx.input.tagger, ctx.input.ensemble, ctx.output.npz, ctx.output.info, lr=c.lr, sigma=c.sigma,
                stretch=c.stretch, temperature_per_jet=c.temperature_per_jet, prior_std=c.prior_std,
                scan_sigmas=c.scan_sigmas, scan_steps=c.scan_steps, burn_in=c.burn_in, thin=c.thin,
                n_samples=c.n_samples, reverse=c.reverse, seed=ctx.seed)


def publish(ctx: Context) -> None:
    """ONNX + model card of the pretrained tagger (the chains' starting point), checked in onnxruntime."""
    from ...publish import write_check

    write_check(ctx.output.check, core.publish(ctx.input.tagger, ctx.input.npz, ctx.input.info,
                                              Path(ctx.output.card).parent, N_VAL))


def report(ctx: Context) -> None:
    """Acceptance-vs-sigma and predictive-spread figures, metrics.json."""
    metrics = core.report(ctx.input.npz, ctx.input.info, Path(ctx.output.metrics).parent, tier=ctx.tier,
                          acceptance_margin=ctx.cfg.acceptance_margin, n_sigma=ctx.cfg.spread_n_sigma,
                          published=ctx.input.publish)
    ctx.write_metrics(metrics)
