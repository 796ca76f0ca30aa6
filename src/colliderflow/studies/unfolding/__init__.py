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

from ...study import Step, Study, Verdict
from .config import Config, Data

METHODS = ("ibu", "omnifold", "spinup")
PRIORS = ("sim_a", "sim_b")


def claims(m: dict) -> dict:
    """The paper's claims as booleans computed from the numbers of metrics.json."""
    ok_reco = {key: v["mean"] < m["chi2_ndf_reco"]["mean"] for key, v in m["chi2_ndf"].items()}
    ps = m["prior_shift"]
    spinup_vs_of1 = (ps.get("spinup", {}).get("mean", float("inf"))
                     < ps.get("omnifold_iteration_1", {}).get("mean", -float("inf")))
    return {"closer_than_reco": ok_reco, "spinup_less_prior_dependent_than_omnifold_1it": bool(spinup_vs_of1)}


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """Every method and prior closer to the data truth than the reco level, and
    SPINUP less prior-dependent than one-iteration OmniFold."""
    c = claims(metrics)
    holds = all(c["closer_than_reco"].values()) and c["spinup_less_prior_dependent_than_omnifold_1it"]
    ps = metrics["prior_shift"]
    return Verdict(holds=bool(holds), key_metric={
        "name": "prior shift SPINUP / OmniFold(1 it), mean chi2/ndf",
        "value": round(ps["spinup"]["mean"] / max(ps["omnifold_iteration_1"]["mean"], 1e-12), 4)})


STUDY = Study(
    name="unfolding",
    paper="SPINUP (Butter, Heimel, Huetsch, Kagan, Plehn)",
    title="Unfolding jet substructure: SPINUP vs OmniFold vs IBU, prior independence",
    claim="every method unfolds closer to the data truth than the reco level; SPINUP's result depends on "
          "the simulation prior less than one-iteration OmniFold's",
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
