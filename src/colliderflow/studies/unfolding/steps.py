"""Steps of the unfolding study (rules ``unfolding_<step>``): the pair table
(``toy`` or ``nanoaod``, config ``data.unfolding``), ``unfold`` (one method,
one simulation prior) and ``report``."""

from __future__ import annotations

from ...io import write_table
from ...study import Context
from . import PRIORS, data

# unfold and report import their (torch, matplotlib) modules themselves: the
# dataset steps run in the io environment.


def toy(ctx: Context) -> None:
    """The jet-substructure toy: gen/reco pairs of two simulations and the data."""
    df, attrs = data.generate_toy(ctx.cfg.toy.n_sim, ctx.cfg.toy.n_data, ctx.seed)
    write_table(ctx.output.pairs, df, attrs=attrs)


def nanoaod(ctx: Context) -> None:
    """GenJet/Jet pairs of NanoAOD files (Jet_genJetIdx) as a pair table."""
    df, attrs = data.nanoaod_pairs(list(ctx.input.files), min_pt=ctx.cfg.min_pt, prior_slope=ctx.cfg.prior_slope)
    write_table(ctx.output.pairs, df, attrs=attrs)


def unfold(ctx: Context) -> None:
    """Unfold the data of the pair table with method ``{method}`` and simulation prior ``{prior}``."""
    from . import methods

    c, method = ctx.cfg, ctx.wildcards["method"]
    net = sc = None
    if method != "ibu":  # the neural methods' settings (their modules import torch; IBU needs none of it)
        from .nets import NetConfig
        from .spinup import SpinupConfig

        net = NetConfig(hidden=c.classifier.hidden, layers=c.classifier.layers, epochs=c.classifier.epochs,
                        batch_size=c.classifier.batch_size, seed=ctx.seed)
        s = c.spinup
        sc = SpinupConfig(kind=s.kind, transforms=s.transforms, hidden=s.hidden, epochs=s.epochs,
                          batch_size=s.batch_size, proposals=s.proposals, ensemble=s.ensemble, samples=s.samples,
                          seed=ctx.seed)
    res = methods.run(ctx.input.table, method, ctx.wildcards["prior"], nbins=c.bins,
                      ibu_iterations=c.ibu.iterations, omnifold_iterations=c.omnifold.iterations, net=net,
                      spinup_cfg=sc, max_events=c.max_events, ibu_bootstrap=c.ibu.bootstrap,
                      omnifold_ensemble=c.omnifold.ensemble, seed=ctx.seed)
    methods.save(res, ctx.output.unfolded)


def report(ctx: Context) -> None:
    """chi2 to the data truth, prior shift, figures, metrics.json."""
    from . import methods
    from . import report as evaluation

    ref = evaluation.reference(ctx.input.table, ctx.cfg.bins)
    results = {}
    for p in ctx.input.results:
        r = methods.load(p)
        results[(r["method"], r["prior"])] = r
    m = evaluation.evaluate(ref, results, evaluation.null_replicas(ref, ctx.input.table, ctx.cfg.ibu.bootstrap,
                                                                   ctx.seed))
    rl = f"{ref['source']}, {int(ref['n_reco'])} reco jets"
    figures = {"sim_a": ctx.output.a, "sim_b": ctx.output.b}
    for prior in PRIORS:
        evaluation.plot_distributions(ref, results, prior, figures[prior], rlabel=rl)
    evaluation.plot_iterations(m, ctx.output.it, rlabel=rl)
    ctx.write_metrics({
        **m, "source": ref["source"], "n_data_reco": ref["n_reco"], "n_data_truth": ref["n_truth"],
        "statistic": "chi2/ndf with the Poisson variances of the data (reco) and truth counts, the same for every "
                     "method; errors: standard error over each method's own replicas (IBU and the naive "
                     "alternatives: Poisson bootstraps of the data; OmniFold and SPINUP: ensemble members with their "
                     "own seed and bootstrap); prior shift: replica r with sim A vs replica r with sim B"})
