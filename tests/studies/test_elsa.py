"""ELSA (arXiv:2305.07696): truth generator, observables, deviation and AUC
measures, LASER (HMC on the pulled-back latent density), the verdict, config
checks and the smoke-tier claim. Tolerances are stated at each check; inputs are seeded."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from colliderflow.nn.flows import StandardizedFlow
from colliderflow.studies.elsa import STUDY, AucClassifierConfig, Config, HMCConfig
from colliderflow.studies.elsa import core as E
from colliderflow.study import build_config, run_job

from ..conftest import schema_errors, strict_metrics, study_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _cfg() -> Config:
    return build_config(Config, study_config("elsa"), "studies.elsa")


def test_truth_generator_has_the_physics():
    x = E.generate(20000, seed=1)
    assert np.array_equal(x, E.generate(20000, seed=1))
    o = E._np(E.observables, x)
    pt1, pt2, dphi = o[:, 0], o[:, 1], o[:, 4]
    assert np.all(pt1 >= E.PT1_MIN * 0.999) and np.all(pt2 >= E.PT2_MIN * 0.999) and np.all(pt2 <= pt1 * 1.0001)
    assert np.all((dphi >= 0) & (dphi <= math.pi + 1e-5))
    # falling spectrum, back-to-back jets, more balanced -> more back-to-back
    assert np.median(pt1) < 50 and np.mean(dphi > 2.5) > 0.7
    r = pt2 / pt1
    assert np.corrcoef(r, dphi)[0, 1] > 0.2


def test_observables_match_four_vectors():
    x = E.generate(500, seed=2).astype(np.float64)
    pt, eta, phi = np.exp(x[:, :2]), x[:, 2:4], np.stack([np.zeros(500), x[:, 4]], 1)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = pt * np.cosh(eta)
    m = np.sqrt(np.maximum(e.sum(1) ** 2 - px.sum(1) ** 2 - py.sum(1) ** 2 - pz.sum(1) ** 2, 0))
    o = E.observables(torch.as_tensor(x)).numpy()
    assert np.allclose(o[:, 5], m, rtol=1e-4) and np.allclose(o[:, 6], np.hypot(px.sum(1), py.sum(1)), rtol=1e-4)


def test_chi2_ndf_is_one_for_equal_samples_and_large_for_shifted():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=20000), rng.normal(size=20000)
    # equal distributions: chi2/ndf ~ 1 +- sqrt(2/20) (4 sigma)
    assert abs(E.chi2_ndf(a, b) - 1) < 4 * math.sqrt(2 / 20)
    assert E.chi2_ndf(a, b + 0.1) > 5
    # weights that undo a distortion bring it back (importance weights of N(0.1, 1) vs N(0, 1))
    c = rng.normal(0.1, 1.0, 20000)
    w = np.exp(-0.5 * c**2 + 0.5 * (c - 0.1) ** 2)
    assert abs(E.chi2_ndf(a, c, w) - 1) < 4 * math.sqrt(2 / 20) + 0.3


def test_fresh_auc_is_half_for_equal_samples():
    cfg = dataclasses.replace(_cfg(), auc_classifier=AucClassifierConfig(n_estimators=40, max_depth=3,
                                                                         learning_rate=0.1))
    a, b = E.generate(6000, 4), E.generate(6000, 5)
    r = E.fresh_auc(a, b, None, cfg, 0)
    assert abs(r["auc"] - 0.5) < 4 * r["auc_err"] and 0 < r["auc_err"] < 0.02
    bad = b.copy()
    bad[:, 4] = bad[:, 4] * 0.9  # jets less back-to-back
    assert E.fresh_auc(a, bad, None, cfg, 0)["auc"] > 0.6


class _Logit(torch.nn.Module):
    """A stand-in DCTR classifier: logit = k * eta_j1 (feature 2 of the classifier inputs)."""

    def __init__(self, k):
        super().__init__()
        self.k = torch.nn.Parameter(torch.tensor(k))

    def forward(self, feats):
        return self.k * feats[:, 2]


def test_laser_samples_the_pulled_back_density():
    # LASER must draw x from q(x) w(x) / Z; check <eta1> against importance weighting of flow samples
    torch.manual_seed(0)
    flow = StandardizedFlow.fitted_to(torch.as_tensor(E.generate(2000, 6)), kind="nsf", transforms=2, hidden=(16,),
                                      bins=4, passes=2)
    cfg = dataclasses.replace(_cfg(), weight_clip=4.0, hmc=HMCConfig(steps=15, adapt_steps=15, n_leapfrog=4,
                                                                     step_size=0.3, target_accept=0.7))
    clf = _Logit(0.7)
    x, z, res = E.laser(flow, clf, 3000, cfg, seed=1)
    with torch.no_grad():
        xq = flow.sample(40000)
        w = torch.exp(E.log_weight(clf, xq, 4.0))
    expect = float((w * xq[:, 2]).sum() / w.sum())
    base = float(xq[:, 2].mean())
    sd = float(xq[:, 2].std())
    assert expect - base > 0.5 * sd  # the weight really moves the distribution
    assert abs(x[:, 2].mean() - expect) < 5 * sd / math.sqrt(3000) + 0.05 * sd
    assert res.accept_rate > 0.3 and np.isfinite(z).all()


def test_bad_config_is_rejected_by_the_schema():
    assert schema_errors("elsa", study_config("elsa")) == []
    bad = study_config("elsa")
    bad["hmc"]["steps"] = 0
    assert "hmc.steps" in schema_errors("elsa", bad)
    bad = study_config("elsa")
    bad["weight_clip"] = "big"
    assert "weight_clip" in schema_errors("elsa", bad)


def test_step_reports_a_missing_config_key_in_one_line(tmp_path, capfd):
    cfg = study_config("elsa")
    del cfg["hmc"]["steps"]
    out = {k: str(tmp_path / f"{k}.out") for k in STUDY.step("study").outputs}
    job = {"step": "elsa.study", "cfg": cfg, "seed": 0, "tier": "smoke", "input": {"all": [], "named": {}},
           "output": {"all": list(out.values()), "named": out}}
    assert run_job(job) == 2
    err = capfd.readouterr().err
    assert "studies.elsa.hmc.steps" in err and "Traceback" not in err


def _judge(cfg, truth, surrogate, laser, training_gain=0.001, w=None):
    """The report's evaluation (fresh AUCs, paired bootstraps, summarise) and
    the study's verdict for given samples; DCTR reweighting = the surrogate
    with weights ``w`` (None: ones)."""
    ref = E.generate(len(truth), 99)
    samples = {"surrogate": (surrogate, None), "reweighted": (surrogate, w), "laser": (laser, None)}
    res = {"auc": {k: E.fresh_auc(truth, x, wk, cfg, 6) for k, (x, wk) in samples.items()},
           "chi2_ndf": {k: E.deviations(truth, x, wk) for k, (x, wk) in samples.items()},
           "hmc": {}, "weights": {}, "surrogate_training": {"epochs": 30, "last_quarter_gain": training_gain}}
    res["auc"]["truth_vs_truth"] = E.fresh_auc(truth, ref, None, cfg, 6)
    res["chi2_ndf"]["truth_vs_truth"] = E.deviations(truth, ref)
    return STUDY.verdict(E.summarise(res, cfg, 0), cfg)


def test_verdict_passes_a_perfect_refinement_and_rejects_the_naive_alternatives():
    """Real evaluation (fresh AUCs, paired bootstrap, verdict) on samples of
    4000: a surrogate with too back-to-back jets refined into a truth sample
    (a perfect LASER) passes; no refinement (LASER = the surrogate) fails
    against the unrefined surrogate and the perfect surrogate; a half-way
    refinement fails the gap criterion; an unconverged surrogate fails."""
    cfg = dataclasses.replace(_cfg(), bootstrap=40, auc_classifier=AucClassifierConfig(
        n_estimators=40, max_depth=3, learning_rate=0.1))
    truth = E.generate(4000, 1)
    surrogate = E.generate(4000, 2)
    surrogate[:, 4] = np.minimum(surrogate[:, 4] * 1.08, math.pi)  # dphi: too back-to-back
    perfect = E.generate(4000, 3)
    v = _judge(cfg, truth, surrogate, perfect)
    assert v.holds is True, [(c.competitor, c.effect, c.error) for c in v.comparisons]
    v = _judge(cfg, truth, surrogate, surrogate)
    failing = {c.competitor for c in v.comparisons if not c.holds}
    assert v.holds is False and failing == {"unrefined surrogate (converged flow)",
                                            "second truth sample (a perfect surrogate)"}, failing
    half = E.generate(4000, 3)
    half[:, 4] = np.minimum(half[:, 4] * 1.06, math.pi)
    v = _judge(cfg, truth, surrogate, half)
    assert v.holds is False and "second truth sample (a perfect surrogate)" in {
        c.competitor for c in v.comparisons if not c.holds}
    v = _judge(cfg, truth, surrogate, perfect, training_gain=0.4)  # a 2-epoch surrogate still gains ~0.5 nats
    assert v.holds is False and [c.competitor for c in v.comparisons if not c.holds] == ["converged surrogate"]


def test_convergence_record():
    c = E.convergence([3.0, 2.0, 1.5, 1.4, 1.35, 1.34, 1.335, 1.334], 4.0, False)
    assert c["last_quarter_gain"] == pytest.approx(1.34 - 1.334)  # the last quarter: 2 of 8 epochs
    assert E.convergence([3.0, 2.5], 4.0, False)["last_quarter_gain"] == pytest.approx(1.5)


def test_paired_auc_bootstrap():
    rng = np.random.default_rng(0)
    t = rng.normal(1, 1, 3000)
    s = rng.normal(0, 1, 3000)
    a = {"test": (t, s, np.ones(3000))}
    from sklearn.metrics import roc_auc_score
    assert E.auc_of(t, s, np.ones(3000)) == pytest.approx(roc_auc_score(np.r_[np.ones(3000), np.zeros(3000)],
                                                                        np.r_[t, s]))
    d, e = E.paired_auc(a, a, n=30)
    assert d == 0 and e == 0
    d, e = E.paired_auc(a, None, n=50)
    assert d == pytest.approx(E.auc_of(t, s, np.ones(3000)) - 0.5) and 0.003 < e < 0.015


def test_smoke_outputs(smoke_run):
    out = smoke_run / "results" / "elsa"
    doc = strict_metrics(out / "metrics.json")
    m = doc["metrics"]
    assert doc["paper"] == "arXiv:2305.07696" and doc["tier"] == "smoke"
    auc = m["auc"]
    # the measure's scale: a second truth sample is indistinguishable (AUC 0.5 within 4 sigma)
    assert abs(auc["truth_vs_truth"]["auc"] - 0.5) < 4 * auc["truth_vs_truth"]["auc_err"]
    # the surrogate trained until early stopping or the epoch limit, its convergence recorded and judged
    assert m["surrogate_training"]["epochs"] >= 8
    comps = doc["verdict"]["comparisons"]
    assert {c["competitor"] for c in comps} >= {"unrefined surrogate (converged flow)",
                                                "DCTR reweighting (the paper's competitor)", "converged surrogate"}
    assert doc["holds"] == all(c["holds"] for c in comps if c["required"])
    for f in ("ratios", "roc"):
        assert (out / f"{f}.png").stat().st_size > 10000 and (out / f"{f}.pdf").exists()


def test_dctr_health_is_a_held_out_separation_check():
    """The DCTR classifier's study-specific health check replaces the shared loop's record: trained when its
    logit separates held-out truth from surrogate events beyond 2 SE; a classifier that sees no difference
    (identical samples, or a constant logit) did not train."""
    from colliderflow import health

    health.clear()
    truth, other = E.generate(4000, 1), E.generate(4000, 2)
    shifted = other.copy()
    shifted[:, 2] -= 0.3  # eta_j1 lower in the surrogate: the stand-in classifier's feature
    health.add("DCTR classifier", health.record(0.70, 0.69, 0.69, 10))  # what the shared loop left
    rec = E.dctr_health(_Logit(0.7), truth, shifted)
    assert rec["trained"] and rec["heldout_auc"] > 0.5 + 2 * rec["heldout_auc_err"]
    assert [n for n, _ in health.RECORDS] == ["DCTR classifier"] and rec["initial"] == 0.7
    assert not E.dctr_health(_Logit(0.7), truth, other)["trained"]
    assert not E.dctr_health(_Logit(0.0), truth, shifted)["trained"]
    assert not E.dctr_health(_Logit(-0.7), truth, shifted)["trained"]  # the weights the wrong way round
    health.clear()
