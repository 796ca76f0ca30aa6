"""Unfolding study (SPINUP, Butter, Heimel, Huetsch, Kagan, Plehn): IBU,
OmniFold and SPINUP on a toy of jet substructure observables, with a
prior-independence test, plus a small real gen/reco check on CMS NanoAOD.

Modules:

* :mod:`.config` -- the config dataclasses (study section, dataset section).
* :mod:`.steps` -- the steps: ``toy``/``nanoaod`` (the pair table), ``unfold``, ``report``.
* :mod:`.data` -- the gen/reco pair table (toy generator, detector model,
  NanoAOD GenJet/Jet reader), binning and the chi2 used by every method.
* :mod:`.methods` -- one method on one simulation prior, its ``.npz``.
* :mod:`.ibu` -- iterative Bayesian unfolding (binned, numpy).
* :mod:`.omnifold` -- OmniFold (two-step classifier reweighting, torch).
* :mod:`.spinup` -- SPINUP (conditional-flow forward model + unfolded flow
  fitted to the data likelihood with neural importance sampling, zuko).
* :mod:`.report` -- chi2 tables, prior shift, figures.
"""

from __future__ import annotations

import math

from ...study import Step, Study, Verdict
from .config import Config, Data

METHODS = ("ibu", "omnifold", "spinup")
PRIORS = ("sim_a", "sim_b")


NAMES = {"ibu": "IBU", "omnifold": "OmniFold", "spinup": "SPINUP"}
K = 2.0  # margins in standard errors


def _combine(a: dict, b: dict) -> tuple[float, int]:
    """Error of a difference of two independent replica means, and the smaller replica count."""
    if a["se"] is None or b["se"] is None:  # a single replica: nothing can be concluded
        return math.inf, min(a["n"], b["n"])
    return math.hypot(a["se"], b["se"]), min(a["n"], b["n"])


def _over_observables(stat: dict, observables: list) -> dict:
    """A statistic averaged over the observables, replica by replica (its error over the replicas)."""
    reps = [sum(stat[o]["replicas"][r] for o in observables) / len(observables)
            for r in range(min(stat[o]["n"] for o in observables))]
    mean = sum(reps) / len(reps)
    se = math.sqrt(sum((x - mean) ** 2 for x in reps) / (len(reps) - 1) / len(reps)) if len(reps) > 1 else math.inf
    return {"mean": mean, "se": se, "n": len(reps)}


def comparisons(metrics: dict, cfg: Config, method: str = "spinup") -> list:
    """The claim's comparisons from metrics.json (``method``: the unfolding
    judged; the tests also judge a naive alternative with it).

    Required, per observable: closer to the data truth than the data reco
    level (no unfolding; null) with either simulation prior; a prior shift
    (sim A vs sim B result) not larger than converged OmniFold's and
    converged IBU's by more than ``prior_shift_tolerance``; and, over the
    observables, a smaller prior shift than the simulation prior itself
    (the prior as the answer; null). Context only: chi2/ndf to truth against
    converged OmniFold and IBU, the prior shift against one-iteration OmniFold."""
    from ...verdict import Comparison

    obs = [o for o in metrics["chi2_ndf_reco"] if o != "mean"]
    ct, ps = metrics["chi2_to_truth"], metrics["prior_shift"]
    name = NAMES.get(method, method)
    tol = cfg.prior_shift_tolerance
    out = []
    for o in obs:
        worst = max(PRIORS, key=lambda p: ct[f"{method}/{p}"][o]["mean"])
        s, r = ct[f"{method}/{worst}"][o], ct["reco"][o]
        err, n = _combine(s, r)
        out.append(Comparison.estimate(
            "data reco (no unfolding)", f"chi2/ndf to data truth, {o} ({name}, worse prior {worst})", s["mean"],
            r["mean"], err, n=n, over="bootstrap", k=K, higher_is_better=False, null=True,
            reason="unfolding must beat the uncorrected detector level on every observable (the mean over "
                   "observables hid a jet mass that got worse)"))
    for comp in ("omnifold", "ibu"):
        for o in obs:
            s, c = ps[method][o], ps[comp][o]
            err, n = _combine(s, c)
            out.append(Comparison.estimate(
                f"converged {NAMES[comp]}", f"prior shift chi2/ndf (sim A vs sim B result), {o}", s["mean"],
                c["mean"], err, n=n, over="bootstrap", margin=-tol, k=K, higher_is_better=False,
                reason=f"the paper: the result is independent of the simulation prior; converged iterative methods "
                       f"are prior-independent too, so {name} must be non-inferior: its shift may exceed theirs by "
                       f"at most {tol:g} chi2/ndf (below the replica-to-replica spread, ~3, of one converged "
                       "method's prior shift on the toy)"))
    s, p = _over_observables(ps[method], obs), _over_observables(ps["prior"], obs)
    err, n = _combine(s, p)
    out.append(Comparison.estimate(
        "the simulation prior (no unfolding)", "prior shift chi2/ndf, mean over observables", s["mean"], p["mean"],
        err, n=n, over="bootstrap", k=K, higher_is_better=False, null=True,
        reason="an unfolding that returned its prior would move with it; the shift must be smaller"))
    for comp in ("omnifold", "ibu"):
        s, c = (_over_observables(ct[f"{m}/{PRIORS[0]}"], obs) for m in (method, comp))
        err, n = _combine(s, c)
        out.append(Comparison.estimate(
            f"converged {NAMES[comp]}", f"chi2/ndf to data truth, mean over observables ({PRIORS[0]})",
            s["mean"], c["mean"], err, n=n, over="bootstrap", k=K, higher_is_better=False,
            required=False, reason="context: precision against the converged iterative methods"))
    if "omnifold_iteration_1" in ps:
        s, c = _over_observables(ps[method], obs), _over_observables(ps["omnifold_iteration_1"], obs)
        err, n = _combine(s, c)
        out.append(Comparison.estimate(
            "one-iteration OmniFold", "prior shift chi2/ndf, mean over observables", s["mean"], c["mean"], err, n=n,
            over="bootstrap", k=K, higher_is_better=False, required=False,
            reason="context: the comparison of the paper's figure (a single iteration keeps the prior)"))
    return out


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """SPINUP against the data reco level and the simulation prior (nulls) and
    against converged OmniFold and IBU (prior shift, per observable)."""
    ps = metrics["prior_shift"]
    return Verdict.of(comparisons(metrics, cfg), key_metric={
        "name": "SPINUP prior shift chi2/ndf, mean over observables",
        "value": round(ps["spinup"]["mean"], 3)}, claim=CLAIM)


CLAIM = ("SPINUP unfolds every observable closer to the data truth than the reco level, and its result depends on "
         "the simulation prior no more than converged OmniFold's and IBU's (the paper: independent of the prior "
         "from the simulated training data)")


STUDY = Study(
    name="unfolding",
    paper="SPINUP (Butter, Heimel, Huetsch, Kagan, Plehn)",
    title="Unfolding jet substructure: SPINUP vs OmniFold vs IBU, prior independence",
    claim=CLAIM,
    config=Config,
    steps=(
        Step("toy", outputs=("pairs",), env="io", section="data/unfolding", config=Data,
             doc="the jet-substructure gen/reco pair table toy (two simulation priors and the data)"),
        Step("nanoaod", inputs=("files",), outputs=("pairs",), env="io", section="data/unfolding", config=Data,
             doc="GenJet/Jet pairs of NanoAOD files (Jet_genJetIdx) as a pair table"),
        Step("unfold", inputs=("table",), outputs=("unfolded",), env="torch", gpu=True, mem_mb=8000, runtime=120,
             doc="unfold the data with one method ({method}) and one simulation prior ({prior})"),
        Step("report", inputs=("table", "results"), outputs=("metrics", "a", "b", "it", "pdfs"), env="torch",
             doc="chi2 to the data truth, prior shift, figures, judge"),
    ),
    figures=("unfolded_sim_a", "unfolded_sim_b", "chi2_vs_iteration"),
    category="SPINUP unfolding",
    verdict=verdict,
)
