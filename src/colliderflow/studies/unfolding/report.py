"""chi2 tables, prior shift and figures of the unfolding study (the claims:
:func:`colliderflow.studies.unfolding.claims`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ... import plotting
from . import METHODS, PRIORS
from .data import arrays, binning, chi2_ndf, histogram, load_pairs, n_effective

COLORS = {"ibu": "tab:blue", "omnifold": "tab:orange", "spinup": "tab:red"}
NAMES = {"ibu": "IBU", "omnifold": "OmniFold", "spinup": "SPINUP"}
PRIOR_NAMES = {"sim_a": "simulation A", "sim_b": "simulation B"}


def reference(table: str | Path | tuple, nbins: int) -> dict:
    """Data truth and data reco histograms in the shared binning."""
    df, attrs = load_pairs(table)
    obs = attrs["observables"]
    edges = binning(df, obs, attrs["integer"], nbins)
    d = arrays(df, "data", obs)
    g, r = d["gen_pass"], d["reco_pass"]
    return {"observables": obs, "labels": attrs.get("labels", {}), "edges": edges, "source": attrs.get("source"),
            "truth": [histogram(d["gen"][g, k], e, d["weight"][g]) for k, e in enumerate(edges)],
            "reco": [histogram(d["reco"][r, k], e, d["weight"][r]) for k, e in enumerate(edges)],
            "n_truth": n_effective(d["weight"][g]), "n_reco": n_effective(d["weight"][r])}


def central(result: dict, k: int) -> tuple:
    """(final histogram = mean over replicas, variance of the normalised bins
    over replicas, per-step curve of the replica mean) of observable k."""
    h = result["hists"][k]                       # (replicas, steps, bins)
    final = h[:, -1, :]
    p = final / final.sum(axis=1, keepdims=True)
    var = p.var(axis=0, ddof=1) if len(h) > 1 else np.zeros(h.shape[2])
    return final.mean(axis=0), var, h.mean(axis=0)


def _stat(values: list) -> dict:
    """Mean and standard error of a statistic over a method's replicas."""
    v = np.asarray(values, float)
    se = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else None  # one replica: no error (JSON null)
    return {"mean": float(v.mean()), "se": se, "n": int(len(v)), "replicas": [round(float(x), 5) for x in v]}


def null_replicas(ref: dict, table: str | Path | tuple, n: int, seed: int) -> dict:
    """The naive alternatives' replicas, Poisson bootstraps like the methods':
    the data reco level ("no unfolding") and each simulation's truth ("the
    prior as the answer"); per observable (n, bins)."""
    df, attrs = load_pairs(table) if isinstance(table, (str, Path)) else table
    obs, edges = ref["observables"], ref["edges"]
    out = {}
    d = arrays(df, "data", obs)
    r = d["reco_pass"]
    out["reco"] = [np.array([histogram(d["reco"][r, k], e, d["weight"][r] * _poisson(seed, i, r.sum()))
                             for i in range(n)]) for k, e in enumerate(edges)]
    for prior in PRIORS:
        s = arrays(df, prior, obs)
        g = s["gen_pass"]
        out[prior] = [np.array([histogram(s["gen"][g, k], e, s["weight"][g] * _poisson(seed + 1, i, g.sum()))
                                for i in range(n)]) for k, e in enumerate(edges)]
    return out


def _poisson(seed: int, i: int, n: int) -> np.ndarray:
    return np.random.default_rng([seed, 104729, i]).poisson(1.0, int(n)).astype(float)


def evaluate(ref: dict, results: dict, nulls: dict | None = None) -> dict:
    """All numbers of metrics.json from the reference, {(method, prior):
    result} and the naive alternatives' replicas (:func:`null_replicas`).

    Every statistic is a chi2/ndf with the same Poisson variances (data reco
    and truth counts) for every method; its error is the standard error over
    the method's own replicas (symmetric: no method's spread enters its own
    denominator). ``chi2_to_truth[method/prior][obs]``: the final result (IBU
    and OmniFold: last iteration) against the data truth;
    ``prior_shift[method][obs]``: replica r with sim A against replica r with
    sim B (the same resampled data)."""
    obs, nt, nr = ref["observables"], ref["n_truth"], ref["n_reco"]
    m = {"chi2_ndf": {}, "chi2_ndf_reco": {}, "chi2_vs_iteration": {}, "chi2_to_truth": {}, "prior_shift": {},
         "convergence": {}, "cpu_seconds": {}}
    for k, o in enumerate(obs):
        m["chi2_ndf_reco"][o] = chi2_ndf(ref["reco"][k], ref["truth"][k], nr, nt)
    m["chi2_ndf_reco"]["mean"] = float(np.mean([m["chi2_ndf_reco"][o] for o in obs]))
    for (meth, prior), res in results.items():
        key = f"{meth}/{prior}"
        m["cpu_seconds"][key] = res["cpu_seconds"]
        m["chi2_ndf"][key], m["chi2_to_truth"][key] = {}, {}
        for k, o in enumerate(obs):
            h, _, steps = central(res, k)
            m["chi2_ndf"][key][o] = chi2_ndf(h, ref["truth"][k], nr, nt)
            m["chi2_to_truth"][key][o] = _stat([chi2_ndf(x, ref["truth"][k], nr, nt)
                                               for x in res["hists"][k][:, -1, :]])
            if len(steps) > 1:
                m["chi2_vs_iteration"].setdefault(key, {})[o] = [chi2_ndf(s, ref["truth"][k], nr, nt) for s in steps]
                # convergence: the change of the replica mean in the last iteration, in data-statistical units
                m["convergence"].setdefault(key, {})[o] = chi2_ndf(steps[-1], steps[-2], nr, nr)
        m["chi2_ndf"][key]["mean"] = float(np.mean([m["chi2_ndf"][key][o] for o in obs]))
    # prior shift: replica r with sim A against replica r with sim B (same data)
    for meth in METHODS:
        if not all((meth, p) in results for p in PRIORS):
            continue
        a, b = (results[(meth, p)] for p in PRIORS)
        n = min(len(a["hists"][0]), len(b["hists"][0]))
        variants = {meth: -1} | ({f"{meth}_iteration_1": 0} if meth != "spinup" else {})
        for name, step in variants.items():
            m["prior_shift"][name] = {o: _stat([chi2_ndf(a["hists"][k][r, step], b["hists"][k][r, step], nr, nr)
                                                for r in range(n)]) for k, o in enumerate(obs)}
            m["prior_shift"][name]["mean"] = float(np.mean([m["prior_shift"][name][o]["mean"] for o in obs]))
    if nulls is not None:
        m["chi2_to_truth"]["reco"] = {o: _stat([chi2_ndf(x, ref["truth"][k], nr, nt) for x in nulls["reco"][k]])
                                      for k, o in enumerate(obs)}
        for prior in PRIORS:
            m["chi2_to_truth"][f"prior/{prior}"] = {
                o: _stat([chi2_ndf(x, ref["truth"][k], nr, nt) for x in nulls[prior][k]]) for k, o in enumerate(obs)}
        n = len(nulls["reco"][0])
        m["prior_shift"]["prior"] = {o: _stat([chi2_ndf(nulls[PRIORS[0]][k][r], nulls[PRIORS[1]][k][r], nr, nr)
                                               for r in range(n)]) for k, o in enumerate(obs)}
        m["prior_shift"]["prior"]["mean"] = float(np.mean([m["prior_shift"]["prior"][o]["mean"] for o in obs]))
    return m


def plot_distributions(ref: dict, results: dict, prior: str, path: str | Path, rlabel: str = "") -> list:
    """Per observable: data truth, data reco and each method's unfolded result
    with the simulation ``prior``; ratio to the truth below."""
    import matplotlib.pyplot as plt
    import mplhep

    plotting.style()
    obs = ref["observables"]
    fig, axes = plt.subplots(2, len(obs), figsize=(6.5 * len(obs), 8),
                             gridspec_kw={"height_ratios": [3, 1], "wspace": 0.35}, sharex="col", squeeze=False)
    for k, o in enumerate(obs):
        ax, rx = axes[0, k], axes[1, k]
        e = ref["edges"][k]
        w = np.diff(e)
        t = ref["truth"][k] / ref["truth"][k].sum() / w
        ax.stairs(t, e, fill=True, color="0.85", label="data truth")
        mplhep.histplot(ref["reco"][k] / ref["reco"][k].sum() / w, e, ax=ax, color="k", ls="--", label="data reco")
        rx.stairs(ref["reco"][k] / ref["reco"][k].sum() / w / np.where(t > 0, t, np.nan), e, color="k", ls="--",
                  baseline=None)
        for meth in METHODS:
            if (meth, prior) not in results:
                continue
            h, var, _ = central(results[(meth, prior)], k)
            p = h / h.sum() / w
            ax.stairs(p, e, color=COLORS[meth], lw=2, label=NAMES[meth])
            ratio = p / np.where(t > 0, t, np.nan)
            rx.stairs(ratio, e, color=COLORS[meth], lw=2, baseline=None)
            if len(results[(meth, prior)]["hists"][k]) > 1:
                s = np.sqrt(var) / w / np.where(t > 0, t, np.nan)
                rx.stairs(ratio + s, e, baseline=ratio - s, fill=True, color=COLORS[meth], alpha=0.3)
        ax.set_ylabel("normalised density")
        ax.set_ylim(0, 1.35 * ax.get_ylim()[1])  # headroom for the legend
        rx.axhline(1, color="0.5", lw=1)
        rx.set_ylim(0.6, 1.4)
        rx.set_ylabel("/ truth")
        rx.set_xlabel(ref["labels"].get(o, o))
        if k == 0:
            ax.legend(fontsize=13, title=f"unfolded with {PRIOR_NAMES[prior]}", title_fontsize=13)
            plotting.label(ax, "")
        if k == len(obs) - 1:
            ax.set_title(rlabel, loc="right", fontsize=16)
    return plotting.save(fig, path)


def plot_iterations(m: dict, path: str | Path, rlabel: str = "") -> list:
    """Mean chi2/ndf to the data truth vs iteration (IBU, OmniFold), both
    priors, with the SPINUP results and the reco level as lines."""
    import matplotlib.pyplot as plt

    plotting.style()
    fig, ax = plt.subplots(figsize=(9, 7))
    for key, per_obs in m["chi2_vs_iteration"].items():
        meth, prior = key.split("/")
        curve = np.mean([v for v in per_obs.values()], axis=0)
        ax.plot(np.arange(1, len(curve) + 1), curve, marker="o", ms=4, color=COLORS[meth],
                ls="-" if prior == "sim_a" else ":", label=f"{NAMES[meth]}, {PRIOR_NAMES[prior]}")
    for prior in PRIORS:
        v = m["chi2_ndf"].get(f"spinup/{prior}")
        if v:
            ax.axhline(v["mean"], color=COLORS["spinup"], ls="-" if prior == "sim_a" else ":",
                       label=f"SPINUP, {PRIOR_NAMES[prior]}")
    ax.axhline(m["chi2_ndf_reco"]["mean"], color="k", ls="--", label="data reco")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel(r"mean $\chi^2$/ndf to data truth")
    ax.legend(fontsize=13)
    plotting.label(ax, "")
    ax.set_title(rlabel, loc="right", fontsize=16)
    return plotting.save(fig, path)
