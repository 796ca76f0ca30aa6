"""Steps of the tails_abcd study (rules ``tails_abcd_<step>``)."""

from __future__ import annotations

from ...study import Context


def toy(ctx: Context) -> None:
    """The tails toy (background, control, signal pool) as one HDF5 table."""
    import dataclasses

    from ...io import write_table
    from .core import generate_toy

    t = ctx.cfg.toy
    kw = {k: v for k, v in dataclasses.asdict(t).items() if k not in ("n_background", "n_control", "n_signal")}
    df = generate_toy(t.n_background, t.n_control, t.n_signal, ctx.seed, **kw)
    write_table(ctx.output[0], df,
                attrs={"generator": "colliderflow.studies.tails_abcd.core.generate_toy", "seed": ctx.seed, **kw})


def flow(ctx: Context) -> None:
    """Conditional flow p(y | MET) on a fraction of the control events; the latent of every event."""
    from .core import flow_step

    f = ctx.cfg.flow
    flow_step(ctx.input.toy, ctx.output.model, ctx.output.latent, flow_fraction=f.train_fraction, seed=ctx.seed,
              transforms=f.transforms, hidden=list(f.hidden), bins=f.bins, epochs=f.epochs, batch_size=f.batch_size,
              lr=f.lr, patience=f.patience)


def analysis(ctx: Context) -> None:
    """Weakly supervised classifiers, ABCD closure and injection, pyhf significance, figures; metrics.json."""
    from .core import ClassifierConfig, analysis_step

    a, c = ctx.cfg.abcd, ctx.cfg.classifier
    import dataclasses

    ccfg = ClassifierConfig(folds=c.folds, n_estimators=c.n_estimators, max_depth=c.max_depth,
                            learning_rate=c.learning_rate, threads=ctx.threads, seed=ctx.seed)
    metrics = analysis_step(
        ctx.input.toy, ctx.input.latent, ctx.output.results,
        (ctx.output.corr, ctx.output.closure, ctx.output.significance, ctx.output.mismatch), t_cut=a.met_cut,
        t_cut_scan=list(a.met_cut_scan), score_efficiency=a.score_efficiency, injections=list(a.injections),
        reference_injection=a.reference_injection, ccfg=ccfg, seed=ctx.seed, dcor_events=a.dcor_events,
        independence_events=a.independence_events, seeds=a.seeds, flow_path=ctx.input.model,
        mismatch=list(a.mismatch_scan), toy=dataclasses.asdict(ctx.cfg.toy),
        closure_tolerance=a.closure_tolerance)
    ctx.write_metrics(metrics)
