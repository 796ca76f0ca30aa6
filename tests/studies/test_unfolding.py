"""Unfolding study (SPINUP paper): toy, IBU, OmniFold, SPINUP, NanoAOD pairs, smoke outputs.

Physics checks use chi2/ndf with statistical (Poisson) variances; the
tolerances are stated next to each assertion.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from colliderflow.data.nanoaod import read_nanoaod
from colliderflow.errors import InputError
from colliderflow.io import write_table
from colliderflow.studies.unfolding import METHODS, PRIORS, Config, ibu, methods, omnifold, report, spinup, verdict
from colliderflow.studies.unfolding import data as D
from colliderflow.studies.unfolding.nets import Features, NetConfig


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as the rules run (threads: 1): cheap and deterministic on a shared machine."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def toy():
    return D.generate_toy(8000, 6000, seed=3)


def _truth(df, attrs, sample, edges):
    a = D.arrays(df, sample, attrs["observables"])
    g, r = a["gen_pass"], a["reco_pass"]
    return a, [D.histogram(a["gen"][g, k], e) for k, e in enumerate(edges)], \
        [D.histogram(a["reco"][r, k], e) for k, e in enumerate(edges)], g.sum(), r.sum()


def test_toy_priors_detector_and_seed(toy):
    df, attrs = toy
    again, _ = D.generate_toy(8000, 6000, seed=3)
    assert df.equals(again)
    m = {s: df[(df["sample"] == s) & (df.gen_pass == 1)].gen_mass.mean() for s in D.SAMPLES}
    assert m["sim_b"] < m["data"] < m["sim_a"]  # three different truth priors
    sim = df[df["sample"] == "sim_a"]
    eff = sim[sim.gen_pass == 1].reco_pass.mean()
    fake = (sim.gen_pass == 0).sum() / (sim.gen_pass == 1).sum()
    assert 0.7 < eff < 0.97
    assert abs(fake - D.FAKE_FRACTION) < 4 * np.sqrt(D.FAKE_FRACTION / 8000)
    matched = sim[(sim.gen_pass == 1) & (sim.reco_pass == 1)]
    assert np.corrcoef(matched.gen_mass, matched.reco_mass)[0, 1] > 0.7  # smeared, not scrambled
    assert matched.reco_mult.mean() < matched.gen_mult.mean()  # constituent loss beats pile-up


def test_pair_table_roundtrip_and_bad_input(toy, tmp_path):
    df, attrs = toy
    write_table(tmp_path / "p.h5", df, attrs=attrs)
    back, a = D.load_pairs(tmp_path / "p.h5")
    assert a["observables"] == list(D.TOY_OBSERVABLES) and len(back) == len(df)
    write_table(tmp_path / "bad.h5", df.drop(columns=["reco_width"]), attrs=attrs)
    with pytest.raises(InputError, match="reco_width"):
        D.load_pairs(tmp_path / "bad.h5")
    with pytest.raises(InputError, match="method"):
        methods.run((df, attrs), "svd", "sim_a", nbins=5, ibu_iterations=1, omnifold_iterations=1, net=NetConfig(),
                  spinup_cfg=None)


def test_ibu_closure_and_data(toy):
    """Closure: unfolding sim A's own reco with its response returns its truth
    (chi2/ndf < 2.5 per observable); on the data, converged IBU is closer to
    the data truth than the reco level and moves less with the prior than one
    iteration."""
    df, attrs = toy
    edges = D.binning(df, attrs["observables"], attrs["integer"], 10)
    sim, t_sim, _, nt, nr = _truth(df, attrs, "sim_a", edges)
    for k, h in enumerate(ibu.unfold(sim, sim, edges, 10)):
        assert D.chi2_ndf(h[-1], t_sim[k], nr, nt) < 2.5
    data, t, r, nt, nr = _truth(df, attrs, "data", edges)
    res = {p: ibu.unfold(D.arrays(df, p, attrs["observables"]), data, edges, 8) for p in PRIORS}
    reco = np.mean([D.chi2_ndf(r[k], t[k], nr, nt) for k in range(4)])
    for p in PRIORS:
        assert np.mean([D.chi2_ndf(res[p][k][-1], t[k], nr, nt) for k in range(4)]) < reco
    shift = [np.mean([D.chi2_ndf(res["sim_a"][k][i], res["sim_b"][k][i], nr, nr) for k in range(4)]) for i in (0, -1)]
    assert shift[1] < shift[0]


def test_ibu_and_report_run_without_torch(toy, tmp_path):
    """IBU and the report read histograms only: their jobs do not import torch (1.4 CPU s each)."""
    import subprocess
    import sys
    from pathlib import Path

    import colliderflow

    write_table(tmp_path / "p.h5", *toy[:1], attrs=toy[1])
    code = ("import sys\nfrom colliderflow.studies.unfolding import methods, report, steps\n"
            f"r = methods.run({str(tmp_path / 'p.h5')!r}, 'ibu', 'sim_a', nbins=5, ibu_iterations=3, "
            "omnifold_iterations=1)\nassert len(r['hists']) == 4 and r['hists'][0].shape == (1, 3, 5)\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    src = str(Path(colliderflow.__file__).parents[1])
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": src})
    assert proc.returncode == 0, proc.stderr


def test_omnifold_small_closer_than_reco(toy):
    df, attrs = toy
    obs = attrs["observables"]
    edges = D.binning(df, obs, attrs["integer"], 10)
    data, t, r, nt, nr = _truth(df, attrs, "data", edges)
    sim = D.arrays(df, "sim_a", obs)
    w = omnifold.unfold(sim, data, Features(obs, attrs["log"], attrs["integer"]), 1,
                        NetConfig(hidden=32, layers=2, epochs=4, batch_size=1024))
    assert w.shape == (1, sim["gen_pass"].sum()) and np.all(w > 0)
    g = sim["gen"][sim["gen_pass"]]
    unf = np.mean([D.chi2_ndf(D.histogram(g[:, k], e, w[-1]), t[k], nr, nt) for k, e in enumerate(edges)])
    reco = np.mean([D.chi2_ndf(r[k], t[k], nr, nt) for k in range(4)])
    assert unf < reco


def test_omnifold_health_rejects_a_classifier_that_never_moves(toy):
    """Step 1 after iteration 1 may rightly learn nothing (judged on its own-data loss); a training that never moves the
    classifiers (learning rate 0) still fails, at every iteration."""
    from colliderflow import health

    df, attrs = toy
    obs = attrs["observables"]
    sim, data = D.arrays(df, "sim_a", obs), D.arrays(df, "data", obs)
    feats = Features(obs, attrs["log"], attrs["integer"])
    blocks = {}
    for lr in (2e-3, 0.0):
        health.clear()
        omnifold.unfold(sim, data, feats, 2, NetConfig(hidden=32, layers=2, epochs=4, batch_size=1024, lr=lr))
        blocks[lr] = health.block()
    health.clear()
    ok, broken = blocks[2e-3], blocks[0.0]
    assert set(ok) == {f"omnifold step{s} it{i}" for s in (1, 2) for i in (1, 2)}
    assert all(b["trained"] for b in ok.values()), {k: (b["initial"], b["best"], b["trained"]) for k, b in ok.items()}
    assert "indistinguishable" in ok["omnifold step1 it2"]["criterion"]
    assert not any(b["trained"] for b in broken.values()), broken


def test_classifier_of_indistinguishable_samples_is_judged_on_its_own_data():
    from colliderflow import health
    from colliderflow.studies.unfolding.nets import train_classifier

    rng = np.random.default_rng(0)
    x0, x1, w = rng.normal(size=(3000, 3)), rng.normal(size=(3000, 3)), np.ones(3000)
    recs = {}
    for lr in (2e-3, 0.0):
        health.clear()
        train_classifier(x0, w, x1, w, NetConfig(hidden=16, layers=2, epochs=3, batch_size=256, lr=lr), desc="same",
                         may_learn_nothing=True)
        (_, recs[lr]), = health.RECORDS
    health.clear()
    assert recs[2e-3]["trained"] and recs[2e-3]["own_data_final"] < recs[2e-3]["own_data_initial"]
    assert recs[2e-3]["best"] > math.log(2) - 0.01  # nothing to learn: it stays near the constant's loss
    assert not recs[0.0]["trained"] and recs[0.0]["own_data_final"] == recs[0.0]["own_data_initial"]


def test_spinup_closure():
    """SPINUP closure: the reco level of an independent sim-A sample, unfolded
    with sim A's detector model, returns its truth: mean chi2/ndf (Poisson +
    ensemble variance) below 3 and clearly below the reco level's."""
    import pandas as pd

    sim_df, attrs = D.generate_toy(6000, 200, seed=11)
    other, _ = D.generate_toy(4000, 200, seed=12)
    df = pd.concat([sim_df[sim_df["sample"] != "data"],
                    other[other["sample"] == "sim_a"].assign(sample="data")], ignore_index=True)
    cfg = spinup.SpinupConfig(transforms=2, hidden=32, epochs=12, batch_size=128, proposals=16, ensemble=2,
                              samples=10000, seed=1)
    res = methods.run((df, attrs), "spinup", "sim_a", nbins=10, ibu_iterations=1, omnifold_iterations=1,
                    net=NetConfig(hidden=32, layers=2, epochs=5, batch_size=256), spinup_cfg=cfg)
    edges = res["edges"]
    _, t, r, nt, nr = _truth(df, attrs, "data", edges)
    chi2 = [D.chi2_ndf(*report.central(res, k)[:1], t[k], nr, nt, report.central(res, k)[1]) for k in range(4)]
    reco = [D.chi2_ndf(r[k], t[k], nr, nt) for k in range(4)]
    assert np.mean(chi2) < 3.0, chi2
    assert np.mean(chi2) < 0.5 * np.mean(reco), (chi2, reco)


def test_features_inverse_and_dequantisation():
    f = Features(["m", "n"], log=["m"], integer=["n"])
    x = np.array([[10.0, 3.0], [50.0, 7.0]])
    y = f(x, np.random.default_rng(0))
    assert np.all(np.abs(f.inverse(y)[:, 1] - x[:, 1]) <= 0.5)
    np.testing.assert_allclose(f.inverse(f(x))[:, 0], x[:, 0])


def test_chi2_ndf_statistics():
    """chi2/ndf of a Poisson fluctuation around its expectation is ~1."""
    rng = np.random.default_rng(1)
    expect = np.full(20, 500.0)
    vals = [D.chi2_ndf(rng.poisson(expect).astype(float), expect, 1e4, 1e12) for _ in range(200)]
    assert abs(np.mean(vals) - 1.0) < 0.1


def test_toy_step_reads_the_data_section(tmp_path):
    """The toy step gets config data.unfolding (its own section) and writes a pair table."""
    import yaml

    from colliderflow.study import run_job

    from ..conftest import REPO

    section = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["data"]["unfolding"]
    section = {**section, "toy": {"n_sim": 300, "n_data": 200}}
    out = tmp_path / "pairs.h5"
    job = {"step": "unfolding.toy", "cfg": section, "seed": 3, "tier": "smoke", "input": {"all": [], "named": {}},
           "output": {"all": [str(out)], "named": {"pairs": str(out)}}, "log": str(tmp_path / "toy.log")}
    assert run_job(job) == 0
    df, attrs = D.load_pairs(out)
    assert df.equals(D.generate_toy(300, 200, seed=3)[0])
    assert run_job({**job, "cfg": {**section, "toy": {"n_sim": 300}}}) == 2  # n_data missing: one-line error


@pytest.mark.real
def test_read_nanoaod_collections_list(shared_data):
    f = shared_data / "cms_nanoaod_samples_coffea" / "nano_dy.root"
    ev = read_nanoaod(f, ["Jet", "GenJet"])
    assert "genJetIdx" in ev["Jet"].fields and set(ev["GenJet"].fields) >= {"pt", "mass"}
    old = read_nanoaod(f, {"Jet": ["pt", "mass"]})  # the dict form still works as before
    assert old["Jet"].fields == ["pt", "mass"]
    with pytest.raises(InputError, match="NoSuchColl"):
        read_nanoaod(f, ["NoSuchColl"])


@pytest.mark.real
def test_nanoaod_pairs_real(shared_data):
    files = sorted((shared_data / "cms_nanoaod_samples_coffea").glob("nano_tt_v1*.root"))
    df, attrs = D.nanoaod_pairs(files)
    sim = df[df["sample"] == "sim_a"]
    matched = sim[(sim.gen_pass == 1) & (sim.reco_pass == 1)]
    assert len(matched) > 500 and len(df[df["sample"] == "data"]) > 500
    assert 0.6 < len(matched) / (sim.gen_pass == 1).sum() <= 1.0  # reconstruction efficiency of GenJets
    # the jet energy response of matched jets is near one
    assert 0.8 < np.median(matched.reco_pt / matched.gen_pt) < 1.2
    simb = df[df["sample"] == "sim_b"]
    assert (simb.weight.to_numpy() != 1).any()  # a second truth prior


# ------------------------------------------------------------------ the verdict seen failing and passing
@pytest.fixture(scope="module")
def judged(toy, tmp_path_factory):
    """The report's real evaluation (report.evaluate + the study's verdict) on
    the toy with cheap stand-ins: converged IBU (30 iterations, 40 bootstrap
    replicas) in the competitors' slots; ``judge`` puts any result in SPINUP's
    slot. ~2 CPU s."""
    from colliderflow.study import build_config

    from ..conftest import study_config

    path = tmp_path_factory.mktemp("unf") / "pairs.h5"
    write_table(path, toy[0], attrs=toy[1])
    ref = report.reference(path, 10)
    nulls = report.null_replicas(ref, path, 40, 0)
    cfg = build_config(Config, study_config("unfolding"))
    run = {(s, p): methods.run(path, "ibu", p, nbins=10, ibu_iterations=30, omnifold_iterations=1, ibu_bootstrap=40,
                               seed=s) for s in (0, 1) for p in PRIORS}

    def judge(method: dict):
        res = {(m, p): run[(0, p)] for m in ("ibu", "omnifold") for p in PRIORS}
        res |= {("spinup", p): {**run[(0, p)], **method[p]} for p in PRIORS}
        return verdict(report.evaluate(ref, res, nulls), cfg)

    rng = np.random.default_rng(1)
    oracle = [rng.poisson(t, (40, len(t))).astype(float) for t in ref["truth"]]  # data truth, bootstrapped
    return {"judge": judge, "run": run, "nulls": nulls, "oracle": oracle}


def _as_result(per_obs: list) -> dict:
    """(replicas, bins) per observable -> a method result's hists (replicas, 1, bins)."""
    return {"hists": [h[:, None, :] for h in per_obs]}


def _failing(v) -> set:
    return {(c.competitor, c.statistic) for c in v.comparisons if c.required and not c.holds}


def test_verdict_passes_an_oracle_and_rejects_the_naive_alternatives(judged):
    """The real evaluation and verdict: the data truth itself (an oracle)
    passes; it fails (holds False) for the simulation prior as the answer
    (moves with the prior), the data reco level as the answer (no better than
    itself), the oracle with its jet mass left at the reco level (the
    per-observable criterion: a mean over observables hid exactly this), a
    one-iteration unfolding (prior-dependent: the old competitor) and
    converged IBU with its own spread inflated (a method's spread must not
    count in its favour)."""
    judge, run, nulls, oracle = judged["judge"], judged["run"], judged["nulls"], judged["oracle"]
    assert judge({p: _as_result(oracle) for p in PRIORS}).holds is True
    v = judge({p: _as_result(nulls[p]) for p in PRIORS})
    assert v.holds is False and any(c.startswith("converged") for c, _ in _failing(v))
    v = judge({p: _as_result(nulls["reco"]) for p in PRIORS})
    assert v.holds is False and {c for c, _ in _failing(v)} == {"data reco (no unfolding)"}
    v = judge({p: _as_result([nulls["reco"][0], *oracle[1:]]) for p in PRIORS})
    assert v.holds is False and [s.split(",")[1].split()[0] for _, s in _failing(v)] == ["mass"]
    v = judge({p: {"hists": [h[:, :1, :] for h in run[(1, p)]["hists"]]} for p in PRIORS})
    assert v.holds is False and any(c.startswith("converged") for c, _ in _failing(v))
    rng = np.random.default_rng(5)
    noisy = {p: {"hists": [h[:, -1:, :] * rng.lognormal(0, 0.2, h[:, -1:, :].shape) for h in run[(1, p)]["hists"]]}
             for p in PRIORS}
    assert judge(noisy).holds is False


def test_converged_ibu_is_judged_against_itself_fairly(judged):
    """Converged IBU with other bootstrap replicas in SPINUP's slot: its prior
    shift equals the competitors' within the stated tolerance (the comparison
    is symmetric: the same statistic and errors for both sides)."""
    judge, run = judged["judge"], judged["run"]
    v = judge({p: run[(1, p)] for p in PRIORS})
    shift = [c for c in v.comparisons if c.statistic.startswith("prior shift") and c.competitor == "converged IBU"]
    assert len(shift) == 4 and all(c.holds for c in shift), [(c.effect, c.error) for c in shift]


@pytest.mark.workflow
def test_smoke_outputs(smoke_run):
    out = smoke_run / "results" / "unfolding"
    doc = json.loads((out / "metrics.json").read_text())
    m = doc["metrics"]
    for f in ("unfolded_sim_a", "unfolded_sim_b", "chi2_vs_iteration"):
        assert (out / f"{f}.png").stat().st_size > 0 and (out / f"{f}.pdf").exists()
    assert set(m["chi2_to_truth"]) >= {f"{a}/{b}" for a in METHODS for b in PRIORS} | {"reco"}
    # the competitors are the converged iterative methods, with their own spread (>= 2 replicas each)
    assert len(m["chi2_vs_iteration"]["omnifold/sim_a"]["mass"]) >= 3
    assert all(v["n"] >= 2 for key in ("ibu", "omnifold", "spinup") for o, v in m["prior_shift"][key].items()
               if o != "mean")
    comps = doc["verdict"]["comparisons"]
    required = {(c["competitor"], c["statistic"].split(",")[-1].split("(")[0].strip()) for c in comps if c["required"]}
    for o in m["chi2_ndf_reco"]:
        if o != "mean":
            assert ("converged OmniFold", o) in required and ("converged IBU", o) in required
    assert sum(c["null"] and c["required"] for c in comps) == 5  # reco per observable + the prior itself
    assert doc["holds"] == all(c["holds"] for c in comps if c["required"])
