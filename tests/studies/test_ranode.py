"""R-ANODE (study `ranode`): data split, background model, the injection
scan (shared with `transit`, tests/studies/test_transit.py).

Unit tests run on tiny inputs (seconds); physics checks use statistical
tolerances; the smoke-tier outputs are checked through `smoke_run`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import torch

from colliderflow.data import lhco
from colliderflow.errors import InputError
from colliderflow.studies import transit
from colliderflow.studies.ranode import Classifier, Config, Flow, Regions
from colliderflow.studies.ranode import background as R
from colliderflow.studies.ranode import scan as S
from colliderflow.studies.ranode import training as RT
from colliderflow.studies.transit import model as T
from colliderflow.study import build_config, run_job

from ..conftest import REPO, strict_metrics, study_config

torch.set_num_threads(1)  # the tests' timings assume one thread (CI machines are small and shared)

TINY_FLOW = Flow(kind="nsf", transforms=2, hidden=(16, 16), bins=8, epochs=4, batch_size=512, lr=3e-3, patience=2,
                 max_events=20000)
TINY_CLF = Classifier(n_estimators=60, max_depth=3, learning_rate=0.2, early_stopping=5, min_child_weight=20.0)
REG = Regions(sr_lo=3.3, sr_hi=3.7, sb_lo=2.6, sb_hi=5.0)


def ranode_config(**changes) -> Config:
    """The default-tier studies.ranode section as its frozen Config, with changes."""
    return dataclasses.replace(build_config(Config, study_config("ranode"), "studies.ranode"), **changes)


@pytest.fixture(scope="module")
def toy_events():
    raw = lhco.generate_toy_features(40000, 4000, seed=3)
    df = lhco._ad_table(lhco._mjj(raw), raw["mj1"], raw["mj2"], raw["tau2j1"] / raw["tau1j1"],
                        raw["tau2j2"] / raw["tau1j2"], raw["label"])
    return df


def test_flow_space_roundtrip(toy_events):
    x = R.flow_space(toy_events)
    assert x.shape == (len(toy_events), 4) and np.isfinite(x).all()
    back = R.from_flow_space(x)
    inner = (toy_events["tau21_j1"].between(1e-3, 1 - 1e-3) & toy_events["tau21_j2"].between(1e-3, 1 - 1e-3)).to_numpy()
    np.testing.assert_allclose(back[inner], toy_events[R.FEATURES].to_numpy()[inner], rtol=1e-3, atol=1e-5)


def test_regions_reject_bad_order():
    with pytest.raises(InputError, match="regions"):
        Regions(sr_lo=3.7, sr_hi=3.3, sb_lo=2.6, sb_hi=5.0)


def test_missing_column_is_input_error(toy_events):
    with pytest.raises(InputError, match="tau21_j2"):
        R.split_events(toy_events.drop(columns="tau21_j2"), REG, source="x.h5")


def test_split_disjoint_and_exact_injection(toy_events):
    reg = REG
    sp = R.split_events(toy_events, reg, (0.6, 0.2, 0.2), max_injection=200, seed=1)
    n_bg_sr = int((reg.sr(toy_events["mjj"]) & (toy_events["label"] == 0)).sum())
    assert sum(len(p[0]) for p in (sp.bg_data, sp.bg_iad, sp.bg_test)) == n_bg_sr
    assert abs(len(sp.bg_data[0]) - 0.6 * n_bg_sr) <= 2
    assert reg.sr(sp.bg_test[1]).all() and reg.sb(sp.sb_m).all()
    x, m, y = R.inject(sp, 200, seed=5)
    assert int(y.sum()) == 200 and len(x) == len(sp.bg_data[0]) + 200
    # sideband contamination of the largest injection: small, not zero
    n_sb_sig = len(sp.sb_m) - int((reg.sb(toy_events["mjj"]) & (toy_events["label"] == 0)).sum())
    assert 0 < n_sb_sig < 200
    with pytest.raises(InputError, match="label"):
        R.split_events(toy_events, reg, max_injection=10**6)


def test_mass_density_normalised_and_falling(toy_events):
    reg = REG
    m_sb = toy_events["mjj"].to_numpy()[reg.sb(toy_events["mjj"])]
    coef = R.fit_mass_density(m_sb, reg)
    grid = np.linspace(reg.sr_lo, reg.sr_hi, 1001)
    dens = np.exp(R.mass_log_density(grid, coef, reg))
    assert np.trapezoid(dens, grid) == pytest.approx(1.0, abs=1e-3)
    assert dens[0] > dens[-1]  # falling dijet spectrum
    # the interpolation predicts the SR mjj spectrum of background: fraction below 3.5 TeV
    m_sr = toy_events["mjj"].to_numpy()[reg.sr(toy_events["mjj"]) & (toy_events["label"] == 0).to_numpy()]
    pred = np.trapezoid(dens[grid < 3.5], grid[grid < 3.5])
    obs = (m_sr < 3.5).mean()
    assert abs(pred - obs) < 4 * math.sqrt(obs * (1 - obs) / len(m_sr)) + 0.02


def test_max_sic_null_and_perfect():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(20000), np.ones(5000)]
    assert R.max_sic(y, rng.random(len(y)), 20) == pytest.approx(1.0, abs=0.1)
    perfect = R.max_sic(y, y + 0.01 * rng.random(len(y)), 20)
    assert perfect == pytest.approx(math.sqrt(20000 / 20), rel=0.02)


def test_ranode_learns_injected_fraction():
    """Known background density, narrow signal: the learned w moves from its
    start (0.005) to the injected 0.1. Tolerance: a factor 1.8 either way -- a
    tiny, briefly trained p_S is broader than the signal and pulls w up (the
    measured bias is +50 %); a w stuck at its start or running to 1 fails."""
    rng = np.random.default_rng(1)
    n, w_true = 4000, 0.1
    n_s = int(w_true * n)
    x = np.r_[rng.normal(0, 1, (n - n_s, 2)), rng.normal(1.5, 0.15, (n_s, 2))].astype(np.float32)
    logpb = (-0.5 * (x**2).sum(1) - math.log(2 * math.pi)).astype(np.float32)
    cfg = dataclasses.replace(TINY_FLOW, epochs=20, batch_size=256, patience=5)
    _, w_fit = S.ranode_scores(x, logpb, x[:10], logpb[:10], 0.005, True, cfg, k=2, seed=0, w_scale=30.0)
    assert w_true / 1.8 < w_fit < w_true * 1.8, w_fit


def test_ranode_w_warmup_holds_w_then_learns():
    """studies.ranode.w_warmup_steps: the learnable w stays at its start for that many optimiser steps (no
    gradient reaches it), the signal flow trains meanwhile; afterwards w moves."""
    rng = np.random.default_rng(1)
    n, n_s = 4000, 400
    x = np.r_[rng.normal(0, 1, (n - n_s, 2)), rng.normal(1.5, 0.15, (n_s, 2))].astype(np.float32)
    logpb = (-0.5 * (x**2).sum(1) - math.log(2 * math.pi)).astype(np.float32)
    cfg = dataclasses.replace(TINY_FLOW, epochs=3, batch_size=256, patience=5)
    _, w_held = S.ranode_scores(x, logpb, x[:10], logpb[:10], 0.005, True, cfg, k=2, seed=0, w_scale=30.0,
                                warmup=10**6)
    assert w_held == pytest.approx(0.005, rel=1e-6)
    _, w_free = S.ranode_scores(x, logpb, x[:10], logpb[:10], 0.005, True, cfg, k=2, seed=0, w_scale=30.0,
                                warmup=7)
    assert w_free > 1.5 * 0.005, w_free  # towards the injected 0.1 once released (21 steps per fold, 7 held)


@pytest.mark.parametrize("lr", [0.0, 3e-3])
def test_ranode_signal_flow_health(lr):
    """The learned-w setup of test_ranode_learns_injected_fraction, 200 steps:
    a frozen signal flow (lr = 0) is flagged untrained in both folds, the
    configured one trained (the mixture loss falls by ~0.1 at w = 0.1)."""
    from colliderflow import health

    rng = np.random.default_rng(1)
    n, n_s = 4000, 400
    x = np.r_[rng.normal(0, 1, (n - n_s, 2)), rng.normal(1.5, 0.15, (n_s, 2))].astype(np.float32)
    logpb = (-0.5 * (x**2).sum(1) - math.log(2 * math.pi)).astype(np.float32)
    cfg = dataclasses.replace(TINY_FLOW, epochs=1, batch_size=256, patience=50, lr=lr, min_steps=200)
    health.clear()
    S.ranode_scores(x, logpb, x[:10], logpb[:10], 0.1, False, cfg, k=2, seed=0)
    recs = [r for _, r in health.RECORDS]
    health.clear()
    # 1600 training events per fold in batches of 256: 7 steps per epoch, 29 epochs reach 200 steps
    assert len(recs) == 2 and all(r["steps"] == 203 for r in recs)
    assert all(r["trained"] is (lr > 0) for r in recs), recs
    if lr:
        assert all(r["improvement"] > 0.02 for r in recs), recs


def _scan(n_sig_records: dict) -> dict:
    rec = lambda ok: {"initial": 4.7, "best": 4.6 if ok else 4.7, "final": 4.6, "improvement": 0.1 if ok else 0.0,  # noqa: E731
                      "steps": 500, "trained": ok, "criterion": "c"}
    return {"injections": {n: {} for n in n_sig_records},
            "frozen_models": {"background_flow": rec(True), "transit": None},
            "training": {"anode": {n: [rec(True)] * 2 for n in n_sig_records},
                         **{m: {n: [rec(ok)] * 2 for n, ok in n_sig_records.items()} for m in RT.RANODE_METHODS}}}


def test_training_block_judges_ranode_at_the_largest_injection():
    """Zero injection: nothing for the signal flow to learn, not a failure;
    a signal flow that does not move at the largest injection is."""
    from colliderflow import health

    block, detail = RT.training_block([_scan({"0": False, "400": True})] * 2)
    assert set(block) == {"background_flow", "anode", *RT.RANODE_METHODS}
    assert health.untrained(block) == [] and block["anode"]["n"] == 8 and block["ranode_true_w"]["n"] == 4
    assert "largest injection (N_sig=400)" in block["ranode_learn_w"]["criterion"]
    assert detail["ranode_true_w"]["0"]["trained"] is False and detail["ranode_true_w"]["400"]["trained"]
    block, _ = RT.training_block([_scan({"0": True, "400": False})])
    assert health.untrained(block) == sorted(RT.RANODE_METHODS)


@pytest.fixture(scope="module")
def tiny_family(toy_events):
    """Every method of the family on the tiny toy in one process (one seed): the in-process scan."""
    reg = REG
    cfg = ranode_config(injections=(0, 500), curve_injection=500, kfold=2, classifier=TINY_CLF,
                        signal_flow=dataclasses.replace(TINY_FLOW, batch_size=256), anode_flow=TINY_FLOW,
                        oversample=2.0, w_wrong_factor=3.0, w_floor=1e-3, w_init=0.005, w_lr_scale=30.0,
                        min_bkg_pass=20)
    sp = R.split_events(toy_events, reg, (0.6, 0.2, 0.2), max_injection=500, seed=0)
    flow, _ = R.train_background_flow(sp.sb_x, sp.sb_m, TINY_FLOW, seed=0, max_events=20000)
    coef = R.fit_mass_density(sp.sb_m, reg)
    tcfg = dataclasses.replace(build_config(transit.Config, study_config("transit")), hidden=(16, 16),
                               w_consistency=1.0, w_adversary=1.0, epochs=2, batch_size=1024, lr=3e-3, patience=2)
    tm, _ = T.train_transit(sp.sb_x, sp.sb_m, tcfg, seed=0, max_events=20000)
    res = S.run_seed(sp, flow, coef, tm, reg, cfg, 0.4, seed=0, curve_injection=500)
    return sp, flow, coef, tm, cfg, res


def test_family_on_tiny_toy(tiny_family):
    """Large injection: every method finds the signal, supervised/IAD on top;
    zero injection: the classifier-based and R-ANODE methods find nothing."""
    *_, res = tiny_family
    big, zero = res["injections"]["500"]["max_sic"], res["injections"]["0"]["max_sic"]
    weak = [m for m in R.METHODS if m not in ("supervised", "iad")]
    assert all(big[m] > 2.0 for m in R.METHODS), big
    assert max(big["supervised"], big["iad"]) >= max(big[m] for m in weak) * 0.9, big
    for m in ["iad", "cathode", "transit", "ranode_true_w", "ranode_wrong_w", "ranode_learn_w"]:
        assert zero[m] < 2.0, (m, zero)
    assert set(res["curves"]) == set(R.METHODS)
    json.dumps(res)  # JSON-ready


def test_scan_as_jobs_matches_the_in_process_scan(tiny_family, tmp_path):
    """The paper tier's layout (one job per method, injection, seed and split; supervised once per seed and
    split) merged by the aggregation step gives the in-process scan's numbers, and so its verdict."""
    from colliderflow.studies import ranode
    from colliderflow.studies.ranode import jobs
    from colliderflow.studies.ranode.methods import merge_cells
    from colliderflow.studies.ranode.plots import ranode_report

    sp, flow, coef, tm, cfg, res = tiny_family
    layout = {"seeds": 1, "splits": 1, "injections": list(cfg.injections), "scan_job": "cell"}
    cells = []
    for c in jobs.cells(layout):
        methods, inj = jobs.methods_of(c["method"]), jobs.injections_of(c["n_sig"], cfg.injections)
        cell = S.run_cell(sp, flow, coef, tm, REG, cfg, 0.4, seed=0, curve_injection=500, methods=methods,
                          injections=() if methods == ("supervised",) else inj)
        cells.append((jobs.PATTERN.format(**c), {**cell, "scan_seed": 0}))
    assert len(cells) == len(R.METHODS[1:]) * 2 + 1
    merged = merge_cells(cells)
    assert len(merged) == 1
    for n in ("0", "500"):
        assert merged[0]["injections"][n]["max_sic"] == res["injections"][n]["max_sic"], n
        assert merged[0]["injections"][n]["w_learned"] == res["injections"][n]["w_learned"]
    assert merged[0]["curves"] == res["curves"]
    cfg = dataclasses.replace(cfg, low_injection_s_over_sqrt_b=10.0)  # 500 / sqrt(3159 SR background) = 8.9
    whole = [{**res, "scan_seed": s, "split": 0} for s in range(3)]
    as_jobs = [{**merged[0], "scan_seed": s} for s in range(3)]
    m1 = ranode_report(whole, cfg, tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png")
    m2 = ranode_report(as_jobs, cfg, tmp_path / "d.png", tmp_path / "e.png", tmp_path / "f.png")
    m1.pop("cpu_seconds_per_method"), m2.pop("cpu_seconds_per_method")
    assert m1 == m2
    assert ranode.verdict(m1, cfg).holds == ranode.verdict(m2, cfg).holds
    with pytest.raises(InputError, match="incomplete: anode at N_sig=0"):
        merge_cells([c for c in cells if not c[0].startswith("results/ranode/scan/anode/n0_")])


def test_scan_with_a_subset_of_methods_gives_the_full_scan_numbers(tiny_family):
    """studies.ranode.methods: a scan that leaves methods out computes the kept ones exactly as the full scan
    at the same seed (each method draws from its own seeds, not from a shared random stream), and nothing
    else. Kept: CATHODE, learned-w R-ANODE (after the two fixed-w variants it follows in the full scan) and the
    untransported null (without TRANSIT, whose template it shares)."""
    sp, flow, coef, tm, cfg, res = tiny_family
    kept = ("cathode", "ranode_learn_w", "untransported")
    sub = S.run_cell(sp, flow, coef, tm, REG, cfg, 0.4, seed=0, curve_injection=500, methods=kept,
                     injections=(500,))
    assert set(sub["injections"]) == {"500"} and set(sub["injections"]["500"]["max_sic"]) == set(kept)
    full = res["injections"]["500"]
    assert sub["injections"]["500"]["max_sic"] == {m: full["max_sic"][m] for m in kept}
    assert sub["injections"]["500"]["w_learned"] == full["w_learned"]
    assert sub["curves"] == {m: res["curves"][m] for m in kept}
    assert set(sub["cpu_seconds"]) == set(kept) and set(sub["training"]) == {"ranode_learn_w"}


def test_methods_config_unknown_or_missing_a_verdict_method_is_a_config_error():
    """An unknown method, or a list without a method a verdict reads, stops the workflow before any job runs
    (schema: one line naming the key) and in the frozen Config; a list without the figure-only methods is fine
    and keeps the scan's order."""
    import os

    import yaml

    from colliderflow import dag

    def error(methods):
        cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
        cfg["studies"]["ranode"]["methods"] = methods
        return dag.config_error(cfg, str(REPO), [os.path.join(REPO, "config", "config.yaml")], {})

    verdict_only = ["untransported", "transit", "ranode_learn_w", "ranode_true_w", "cathode", "anode", "iad"]
    assert error(verdict_only) is None and error(list(R.METHODS)) is None
    msg = error([*verdict_only, "ranode_oracle"])
    assert msg.startswith("config/config.yaml: studies.ranode.methods") and "'ranode_oracle'" in msg, msg
    msg = error([m for m in verdict_only if m != "anode"])
    assert msg.startswith("config/config.yaml: studies.ranode.methods:") and "must list anode" in msg, msg
    assert "\n" not in msg
    sec = study_config("ranode")
    with pytest.raises(InputError, match=r"studies\.ranode\.methods.*unknown method 'ranode_oracle'"):
        build_config(Config, {**sec, "methods": [*verdict_only, "ranode_oracle"]}, "studies.ranode")
    with pytest.raises(InputError, match=r"studies\.ranode\.methods.*must list cathode"):
        build_config(Config, {**sec, "methods": [m for m in verdict_only if m != "cathode"]}, "studies.ranode")
    cfg = build_config(Config, {**sec, "methods": verdict_only}, "studies.ranode")
    assert cfg.methods == ("iad", "anode", "cathode", "ranode_true_w", "ranode_learn_w", "transit", "untransported")


def test_default_tier_leaves_out_wrong_w_real_and_paper_keep_it():
    import yaml

    assert "ranode_wrong_w" not in ranode_config().methods and len(ranode_config().methods) == 8
    for tier in ("real", "paper"):
        sec = yaml.safe_load((REPO / "config" / "tiers" / f"{tier}.yaml").read_text())["studies"]["ranode"]
        assert tuple(sec["methods"]) == tuple(R.METHODS), tier


def test_scan_jobs_list_only_configured_methods():
    """The method and cell layouts list one job per configured method; a seed job computes only them; the
    aggregation requires only them."""
    from colliderflow.studies.ranode import jobs
    from colliderflow.studies.ranode.methods import aggregate, merge_cells

    kept = ["untransported", "iad", "anode", "cathode", "ranode_true_w", "ranode_learn_w", "transit", "supervised"]
    cfg = {"seeds": 2, "splits": 1, "injections": [0, 150, 300], "methods": kept}
    by_method = [c["method"] for c in jobs.cells({**cfg, "scan_job": "method"})]
    assert by_method == [m for m in R.METHODS if m != "ranode_wrong_w"] * 2
    cell = jobs.cells({**cfg, "scan_job": "cell"})
    assert len(cell) == 2 * (7 * 3 + 1) and not any(c["method"] == "ranode_wrong_w" for c in cell)
    assert len(jobs.cells(cfg)) == 2 and jobs.methods_of("all", kept) == tuple(c for c in by_method[:8])
    with pytest.raises(ValueError, match="not configured"):
        jobs.methods_of("ranode_wrong_w", kept)
    assert jobs.needs_transit("all", kept) and not jobs.needs_transit("iad", kept)
    scan = {"seed": 0, "scan_seed": 0, "n_background_sr": 100, "n_test_background": 10, "n_test_signal": 5,
            "cpu_seconds": {}, "injections": {"0": {"max_sic": {m: 1.0 for m in kept}, "w_learned": 0.01,
                                                    "w_true": 0.0, "s_over_sqrt_b": 0.0}}}
    merged = merge_cells([("a.json", scan)], kept)
    assert set(aggregate(merged, kept)["max_sic"]) == set(kept)
    with pytest.raises(InputError, match="incomplete: ranode_wrong_w at N_sig=0"):
        merge_cells([("a.json", scan)])  # every method required when all are configured


def test_scan_jobs_layouts():
    """seed: one job per seed and split; method: one per method (supervised too); cell: one per method and
    injection, the injection-free supervised classifier once per seed and split."""
    from colliderflow.studies.ranode import jobs

    cfg = {"seeds": 3, "splits": 2, "injections": [0, 150, 300]}
    assert len(jobs.cells(cfg)) == 6 and jobs.paths(cfg)[0] == "results/ranode/scan/all/nall_seed0_split0.json"
    assert len(jobs.cells({**cfg, "scan_job": "method"})) == 6 * 9
    assert len(jobs.cells({**cfg, "scan_job": "cell"})) == 6 * (8 * 3 + 1)
    assert jobs.needs_transit("untransported") and not jobs.needs_transit("anode")


def test_paper_tier_ranode_job_count():
    """The paper tier's R-ANODE scan: 8 signal sizes x 10 seeds x 20 splits per method, one job each (the
    supervised classifier, independent of the injection, once per seed and split)."""
    import yaml
    from snakemake.utils import update_config

    from colliderflow.dag import fill_defaults
    from colliderflow.studies.ranode import jobs

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    update_config(config, yaml.safe_load((REPO / "config" / "tiers" / "paper.yaml").read_text()))  # as --configfile
    fill_defaults(config, str(REPO))
    rcfg = config["studies"]["ranode"]
    cfg = build_config(Config, rcfg, "studies.ranode")
    assert (len(cfg.injections), cfg.seeds, cfg.splits) == (8, 10, 20)
    cells = jobs.cells(rcfg)
    per_method = {m: sum(c["method"] == m for c in cells) for m in jobs.METHODS}
    assert per_method == {m: (200 if m == "supervised" else 1600) for m in jobs.METHODS}
    assert len(set(jobs.paths(rcfg))) == len(cells) == 8 * 1600 + 200
    assert (cfg.background_flow.kind, cfg.background_flow.transforms, cfg.background_flow.hidden) == ("maf", 8,
                                                                                                      (64, 64))


# ---------------------------------------------------------------- workflow

@pytest.mark.workflow
def test_dry_run_paper_tier_scan_as_jobs(run_snakemake, tmp_path):
    """The rules list the scan from jobs.py: the paper tier with a 1-seed, 2-split scan is 2 x 65 scan jobs, one
    aggregation and one report (the full tier's count is test_paper_tier_ranode_job_count: 13,000 jobs take
    Snakemake ~40 CPU s to dry-run)."""
    small = tmp_path / "small.yaml"
    small.write_text("studies:\n  ranode: {seeds: 1, splits: 2}\n")
    out = run_snakemake(tmp_path, "-n", "results/ranode/metrics.json",
                        configfiles=[REPO / "config" / "tiers" / "paper.yaml", small])
    counts = dict(re.findall(r"(?m)^(ranode_\w+)\s+(\d+)$", out.stdout))
    assert counts == {"ranode_background": "1", "ranode_scan": "130", "ranode_aggregate": "1",
                      "ranode_report": "1"}, out.stdout[-2000:]


@pytest.mark.workflow
def test_dry_run_smoke_tier(run_snakemake, tmp_path):
    out = run_snakemake(tmp_path, "-n", "results/ranode/metrics.json", "results/transit/metrics.json",
                        configfiles=[REPO / "config" / "tiers" / "smoke.yaml"])
    assert "ranode_scan" in out.stdout and "transit_closure" in out.stdout


@pytest.mark.workflow
@pytest.mark.real
def test_dry_run_real_tier(run_snakemake, tmp_path, shared_data):
    """The real tier's files are given relative to the workdir (../shared/data)."""
    wd = tmp_path / "wd"
    wd.mkdir()
    (tmp_path / "shared").symlink_to(shared_data.parent)
    out = run_snakemake(wd, "-n", "results/ranode/metrics.json", "results/transit/metrics.json",
                        configfiles=[REPO / "config" / "tiers" / "real.yaml"])
    assert "lhco_prepare" in out.stdout and "ranode_scan" in out.stdout


def test_step_reports_bad_input(tmp_path, capfd):
    """A table without the feature columns: exit status 2 and one line naming the file and the column."""
    from colliderflow.io import write_table

    bad = tmp_path / "events.h5"
    write_table(bad, pd.DataFrame({"mjj": [3.5], "label": [0.0]}))
    out = str(tmp_path / "m.pt")
    job = {"step": "ranode.background", "cfg": study_config("ranode"), "seed": 0, "tier": "default",
           "input": {"all": [str(bad)], "named": {"events": str(bad)}},
           "output": {"all": [out, out[:-3] + ".json"], "named": {"model": out, "hparams": out[:-3] + ".json"}}}
    assert run_job(job) == 2
    err = capfd.readouterr().err
    assert "events.h5" in err and "mj1" in err and "Traceback" not in err, err


@pytest.mark.workflow
def test_smoke_outputs(smoke_run):
    r = strict_metrics(smoke_run / "results/ranode/metrics.json")
    assert isinstance(r["holds"], bool) and r["paper"] == "arXiv:2312.11629" and r["tier"] == "smoke"
    big = r["metrics"]["largest_injection_median_max_sic"]
    for m in ["supervised", "iad", "cathode", "ranode_true_w", "ranode_learn_w", "transit"]:
        assert big[m] > 2.0, (m, big)
    for f in ["max_sic_vs_injection", "sic_curves", "learned_w"]:
        for ext in ("png", "pdf"):
            assert (smoke_run / "results" / "ranode" / f"{f}.{ext}").stat().st_size > 1000


def test_curve_injection_must_be_scanned():
    cfg = {**study_config("ranode"), "injections": [0, 100], "curve_injection": 50}
    with pytest.raises(InputError, match="curve_injection"):
        build_config(Config, cfg, "studies.ranode")


def test_report_imports_no_torch():
    """The report reads the scans' JSON: its job does not import torch (about 1.5 CPU s)."""
    import subprocess
    import sys
    from pathlib import Path

    import colliderflow

    code = ("import sys\nfrom colliderflow.studies.ranode import methods, plots, steps\n"
            "scan = {'injections': {'0': {'max_sic': {m: 1.0 for m in methods.METHODS}, 'w_learned': 0.01,"
            " 'w_true': 0.0, 's_over_sqrt_b': 0.0}}, 'cpu_seconds': {'anode': 1.0}}\n"
            "agg = methods.aggregate([scan, scan])\nassert agg['max_sic']['anode'][0]['median'] == 1.0\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    src = str(Path(colliderflow.__file__).parents[1])
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": src})
    assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------- verdict (issue 17)

def _scans(learn, cathode, iad, anode, zero_learn=1.2, true_w=None, n_bg=80000):
    """Per-seed scans as the scan step writes them: max SIC per method at N_sig = 0, 150, 300, 600, 1200
    (S/sqrt(B) = 0, 0.53, 1.06, 2.1, 4.2); ``learn`` etc. are per-seed values at the low injections."""
    from colliderflow.studies.ranode.methods import METHODS

    scans = []
    for s in range(len(learn)):
        inj = {}
        for n in (0, 150, 300, 600, 1200):
            low = {"ranode_learn_w": learn[s], "cathode": cathode[s], "iad": iad[s], "anode": anode[s],
                   "ranode_true_w": (true_w or learn)[s]}
            sic = {m: 1.1 for m in METHODS} if n == 0 else {m: low.get(m, 2.0) for m in METHODS}
            if n == 0:
                sic["ranode_learn_w"] = zero_learn
            if n == 1200:
                sic = {m: 20.0 for m in METHODS}
            inj[str(n)] = {"n_sig": n, "s_over_sqrt_b": n / math.sqrt(n_bg), "w_true": n / (n_bg + n),
                           "w_learned": 0.005, "max_sic": sic}
        scans.append({"seed": s, "scan_seed": s, "n_background_sr": n_bg, "n_test_background": 40000,
                      "n_test_signal": 5000, "injections": inj, "curves": {}, "cpu_seconds": {"anode": 1.0}})
    return scans


def _report_verdict(scans, tmp_path):
    from colliderflow.studies import ranode
    from colliderflow.studies.ranode.plots import ranode_report

    cfg = ranode_config()
    m = ranode_report(scans, cfg, tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png")
    return ranode.verdict(m, cfg)


def test_verdict_learned_w_against_cathode_iad_anode_and_null(tmp_path):
    """The report step's numbers decide: learned-w R-ANODE above CATHODE, the IAD and ANODE at low injection
    by more than 2 SE over paired seeds, and above its own background-only score."""
    good = _scans(learn=[4.0, 4.4, 4.2], cathode=[2.5, 2.9, 2.6], iad=[3.0, 3.3, 3.1], anode=[2.0, 2.2, 2.1])
    v = _report_verdict(good, tmp_path)
    assert v.holds, [c.as_json() for c in v.comparisons]
    assert {c.competitor for c in v.comparisons if c.required} >= {"CATHODE", "ANODE"}
    assert any(c.null for c in v.comparisons) and v.comparisons[0].n == 3
    # the old verdict read only the oracle true w: a learned w no better than CATHODE fails now, true w or not
    naive = _scans(learn=[2.5, 2.9, 2.6], cathode=[2.5, 2.9, 2.6], iad=[3.0, 3.3, 3.1], anode=[2.0, 2.2, 2.1],
                   true_w=[4.0, 4.4, 4.2])
    assert not _report_verdict(naive, tmp_path).holds
    # a mean gain inside the seed spread is no gain
    noisy = _scans(learn=[4.5, 2.0, 3.9], cathode=[2.5, 2.9, 2.6], iad=[2.0, 2.3, 2.1], anode=[2.0, 2.2, 2.1])
    assert not _report_verdict(noisy, tmp_path).holds
    # the IAD (an upper bound when its background sample is as large as the data) is part of the claim
    iad_top = _scans(learn=[4.0, 4.4, 4.2], cathode=[2.5, 2.9, 2.6], iad=[5.0, 5.3, 5.1], anode=[2.0, 2.2, 2.1])
    assert not _report_verdict(iad_top, tmp_path).holds
    # the null: a method as sensitive without signal (background mismodelling) fails
    null = _scans(learn=[4.0, 4.4, 4.2], cathode=[2.5, 2.9, 2.6], iad=[3.0, 3.3, 3.1], anode=[2.0, 2.2, 2.1],
                  zero_learn=4.2)
    assert not _report_verdict(null, tmp_path).holds


def test_iad_background_sample_at_least_the_data():
    """The IAD is an upper bound only with a perfect background sample at least as large as the data."""
    assert ranode_config().split_fractions[1] >= ranode_config().split_fractions[0]
    with pytest.raises(InputError, match="IAD"):
        build_config(Config, {**study_config("ranode"), "split_fractions": [0.6, 0.2, 0.2]}, "studies.ranode")


def test_lhco_toy_mjj_correlation_knob():
    """mjj_correlation = 0 is the old toy; > 0 makes the jet masses grow with pT (and so with mjj)."""
    base = lhco.generate_toy_features(3000, 10, seed=1)
    pd.testing.assert_frame_equal(lhco.generate_toy_features(3000, 10, seed=1, mjj_correlation=0.0), base)
    corr = lhco.generate_toy_features(3000, 10, seed=1, mjj_correlation=1.0)
    bkg = (base["label"] == 0).to_numpy()
    pt = np.hypot(base["pxj1"], base["pyj1"]).to_numpy()[bkg]
    ratio = (corr["mj1"] / base["mj1"]).to_numpy()[bkg]
    m0, m1 = base["mj1"].to_numpy()[bkg], corr["mj1"].to_numpy()[bkg]
    inside = (np.minimum(m0, m1) > 6.0) & (np.maximum(m0, m1) < 0.44 * pt)  # away from the clips [5 GeV, 0.45 pT]
    assert inside.mean() > 0.9
    np.testing.assert_allclose(ratio[inside], (pt[inside] / lhco.PT_REF), rtol=1e-6)
