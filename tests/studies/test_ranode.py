"""Resonant anomaly detection family (studies `ranode` and `transit`).

Unit tests run on tiny inputs (seconds); physics checks use statistical
tolerances; the smoke-tier outputs are checked through `smoke_run`.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from colliderflow.data import lhco
from colliderflow.errors import InputError
from colliderflow.studies import resonant_ad as R

torch.set_num_threads(1)  # the tests' timings assume one thread (CI machines are small and shared)

TINY_FLOW = dict(kind="nsf", transforms=2, hidden=[16, 16], bins=8, epochs=4, batch_size=512, lr=3e-3, patience=2,
                 max_events=20000)
TINY_CLF = dict(n_estimators=60, max_depth=3, learning_rate=0.2, early_stopping=5, min_child_weight=20.0)


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
        R.Regions(sr_lo=3.7, sr_hi=3.3)


def test_missing_column_is_input_error(toy_events):
    with pytest.raises(InputError, match="tau21_j2"):
        R.split_events(toy_events.drop(columns="tau21_j2"), R.Regions(), source="x.h5")


def test_split_disjoint_and_exact_injection(toy_events):
    reg = R.Regions()
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
    reg = R.Regions()
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
    cfg = dict(TINY_FLOW, epochs=20, batch_size=256, patience=5)
    _, w_fit = R.ranode_scores(x, logpb, x[:10], logpb[:10], 0.005, True, cfg, k=2, seed=0, w_scale=30.0)
    assert w_true / 1.8 < w_fit < w_true * 1.8, w_fit


def test_transit_starts_as_identity_and_learns_mass_shift():
    """x | m ~ N(m, 0.3) in each feature: transporting from m to m' must shift by m' - m."""
    rng = np.random.default_rng(2)
    m = rng.uniform(0.0, 2.0, 6000).astype(np.float32)
    x = (m[:, None] + rng.normal(0, 0.3, (len(m), 2))).astype(np.float32)
    cfg = dict(hidden=[32, 32], w_consistency=1.0, w_adversary=10.0, epochs=10, batch_size=256, lr=3e-3, patience=10)
    xt = torch.as_tensor(x)
    fresh = R.Transit(2, [8], xt.mean(0), xt.std(0), float(m.mean()), float(m.std()))
    np.testing.assert_allclose(fresh.transport(x[:50], m[:50], m[:50] + 1), x[:50], atol=1e-5)
    model, _ = R.train_transit(x, m, cfg, seed=0)
    src = m < 0.5
    out = model.transport(x[src], m[src], np.full(int(src.sum()), 1.5, np.float32))
    shift = out.mean(0) - x[src].mean(0)
    expected = 1.5 - m[src].mean()
    assert np.all(np.abs(shift - expected) < 0.25 * expected), (shift, expected)
    assert np.all(np.abs(out.std(0) - 0.3) < 0.12), out.std(0)


def test_family_on_tiny_toy(toy_events):
    """Large injection: every method finds the signal, supervised/IAD on top;
    zero injection: the classifier-based and R-ANODE methods find nothing."""
    reg = R.Regions()
    cfg = dict(injections=[0, 500], kfold=2, classifier=TINY_CLF, signal_flow=dict(TINY_FLOW, batch_size=256),
               anode_flow=TINY_FLOW, oversample=2.0, w_wrong_factor=3.0, w_floor=1e-3, w_init=0.005,
               w_lr_scale=30.0, min_bkg_pass=20, transit=dict(source_width=0.4))
    sp = R.split_events(toy_events, reg, (0.6, 0.2, 0.2), max_injection=500, seed=0)
    flow, _ = R.train_background_flow(sp.sb_x, sp.sb_m, TINY_FLOW, seed=0, max_events=20000)
    coef = R.fit_mass_density(sp.sb_m, reg)
    tm, _ = R.train_transit(sp.sb_x, sp.sb_m, dict(hidden=[16, 16], w_consistency=1.0, w_adversary=1.0, epochs=2,
                                                   batch_size=1024, lr=3e-3, patience=2), seed=0, max_events=20000)
    res = R.run_seed(sp, flow, coef, tm, reg, cfg, seed=0, curve_injection=500)
    big, zero = res["injections"]["500"]["max_sic"], res["injections"]["0"]["max_sic"]
    weak = [m for m in R.METHODS if m not in ("supervised", "iad")]
    assert all(big[m] > 2.0 for m in R.METHODS), big
    assert max(big["supervised"], big["iad"]) >= max(big[m] for m in weak) * 0.9, big
    for m in ["iad", "cathode", "transit", "ranode_true_w", "ranode_wrong_w", "ranode_learn_w"]:
        assert zero[m] < 2.0, (m, zero)
    assert set(res["curves"]) == set(R.METHODS)
    json.dumps(res)  # JSON-ready


# ---------------------------------------------------------------- workflow

@pytest.mark.workflow
def test_dry_run_smoke_tier(run_snakemake, tmp_path):
    from .conftest import REPO

    out = run_snakemake(tmp_path, "-n", "results/ranode/metrics.json", "results/transit/metrics.json",
                        configfiles=[REPO / "config" / "tiers" / "smoke.yaml"])
    assert "ranode_scan" in out.stdout and "transit_closure" in out.stdout


@pytest.mark.workflow
@pytest.mark.real
def test_dry_run_real_tier(run_snakemake, tmp_path, shared_data):
    """The real tier's files are given relative to the workdir (../shared/data)."""
    from .conftest import REPO

    wd = tmp_path / "wd"
    wd.mkdir()
    (tmp_path / "shared").symlink_to(shared_data.parent)
    out = run_snakemake(wd, "-n", "results/ranode/metrics.json", "results/transit/metrics.json",
                        configfiles=[REPO / "config" / "tiers" / "real.yaml"])
    assert "lhco_prepare" in out.stdout and "ranode_scan" in out.stdout


def test_script_reports_bad_input(tmp_path):
    from .conftest import REPO

    bad = tmp_path / "events.h5"
    from colliderflow.io import write_table

    write_table(bad, pd.DataFrame({"mjj": [3.5], "label": [0.0]}))
    proc = subprocess.run([sys.executable, str(REPO / "workflow/scripts/resonant_ad_background.py"), "--events",
                           str(bad), "--out", str(tmp_path / "m.pt"), "--cfg",
                           json.dumps({"regions": {}, "split_fractions": [0.6, 0.2, 0.2], "injections": [0]})],
                          capture_output=True, text=True, env={"PYTHONPATH": str(REPO / "src"), "PATH": ""})
    assert proc.returncode == 2 and "events.h5" in proc.stderr and "mj1" in proc.stderr, proc.stderr


@pytest.mark.workflow
def test_smoke_outputs(smoke_run):
    r = json.loads((smoke_run / "results/ranode/metrics.json").read_text())
    t = json.loads((smoke_run / "results/transit/metrics.json").read_text())
    assert isinstance(r["holds"], bool) and isinstance(t["holds"], bool)
    big = r["metrics"]["largest_injection_median_max_sic"]
    for m in ["supervised", "iad", "cathode", "ranode_true_w", "ranode_learn_w", "transit"]:
        assert big[m] > 2.0, (m, big)
    assert abs(t["metrics"]["closure_auc"]["transit"] - 0.5) < 0.06
    for f in ["ranode/max_sic_vs_injection", "ranode/sic_curves", "ranode/learned_w", "transit/template_closure",
              "transit/transit_max_sic"]:
        for ext in ("png", "pdf"):
            assert (smoke_run / "results" / f"{f}.{ext}").stat().st_size > 1000


def test_curve_injection_must_be_scanned(tmp_path):
    cfg = {"regions": {}, "split_fractions": [0.6, 0.2, 0.2], "injections": [0, 100], "curve_injection": 50}
    with pytest.raises(InputError, match="curve_injection"):
        R.load_split(tmp_path / "missing.h5", cfg, 0)
