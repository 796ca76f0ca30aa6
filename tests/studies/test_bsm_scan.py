"""Conditional flows for inference (issue 7): unit tests on tiny inputs and the
physics claims checked on the smoke-tier outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from colliderflow.data import calorimeter_toy, part_jets
from colliderflow.errors import InputError
from colliderflow.studies.flow_inference import bsm_scan, classifier_surrogates, likelihood_flows, mle_calibration

torch.set_num_threads(1)  # the CI machine has 2 cores; keep unit tests to one

FI = ("bsm_scan", "mle_calibration", "likelihood_flows", "classifier_surrogates")


# ---------------------------------------------------------------- data toys
def test_calorimeter_toy_response_and_resolution():
    res = []
    for e in (2.0, 20.0, 80.0):
        sh = calorimeter_toy.generate(np.full(3000, e), seed=1)
        assert sh.shape == (3000, 5) and np.all(sh > 0)
        r = sh.sum(1) / e
        assert 0.8 < np.median(r) < 1.1  # visible fraction near 1 (noise up, leakage down)
        res.append(np.std(r))
    assert res[0] > res[1] > res[2] * 0.9  # stochastic term: resolution improves with energy
    # shower maximum moves deeper with energy
    lo = calorimeter_toy.generate(np.full(2000, 2.0), seed=2).mean(0)
    hi = calorimeter_toy.generate(np.full(2000, 80.0), seed=2).mean(0)
    assert np.argmax(hi) >= np.argmax(lo) and hi[-1] / hi.sum() > lo[-1] / lo.sum()


def test_calorimeter_toy_io_and_bad_input(tmp_path):
    e = calorimeter_toy.sample_prior(200, "falling", 1.0, 100.0, seed=0)
    assert e.min() >= 1.0 and e.max() <= 100.0 and np.median(e) < 5  # E^-2 spectrum
    sh = calorimeter_toy.generate(e, seed=0)
    calorimeter_toy.write_showers(tmp_path / "s.h5", e, sh, {"seed": 0})
    e2, sh2 = calorimeter_toy.read_showers(tmp_path / "s.h5")
    np.testing.assert_allclose(e2, e, rtol=1e-6)
    np.testing.assert_allclose(sh2, sh, rtol=1e-6)
    with pytest.raises(InputError, match="energies"):
        calorimeter_toy.generate([1.0, -2.0])
    with pytest.raises(InputError, match="prior"):
        calorimeter_toy.sample_prior(10, "flat-ish", 1, 2)
    with pytest.raises(InputError, match="does not exist"):
        calorimeter_toy.read_showers(tmp_path / "missing.h5")


def test_jet_toy_roundtrip_and_missing_field(tmp_path):
    arrays = part_jets.generate_toy(300, seed=3)
    part_jets.write_jets(tmp_path / "tl", arrays)
    back = part_jets.read_jets(tmp_path / "tl")
    assert back["pf_vectors"].shape == (300, 4, 128) and back["pf_vectors"].dtype == np.float32
    f = part_jets.jet_features(back)
    y = back["labels"]
    assert np.median(f["mass"][y == 1]) > np.median(f["mass"][y == 0]) + 50  # tops are heavy
    assert np.all((f["pt"] > 500) & (f["pt"] < 700))
    (tmp_path / "tl_pf_mask.npy").unlink()
    with pytest.raises(InputError, match="pf_mask"):
        part_jets.read_jets(tmp_path / "tl")


def test_real_toplandscape_excerpt_reads(shared_data):
    arrays = part_jets.read_jets(shared_data / "jets_part_samples" / "toplandscape" / "tl")
    f = part_jets.jet_features(arrays)
    y = arrays["labels"]
    assert len(y) == 2000 and set(np.unique(y)) == {0, 1}
    assert 150 < np.median(f["mass"][y == 1]) < 200 and np.median(f["mass"][y == 0]) < 120


# ---------------------------------------------------------------- BSM scan
def test_bsm_generator_depends_on_both_parameters():
    x1, _ = bsm_scan.generate([1.2, 0.6], 4000, seed=0)
    x2, _ = bsm_scan.generate([1.6, 0.6], 4000, seed=0)
    x3, _ = bsm_scan.generate([1.2, 1.4], 4000, seed=0)
    assert np.median(x2[:, 0]) - np.median(x1[:, 0]) == pytest.approx(0.4, abs=0.05)
    assert x3[:, 1].mean() > 1.5 * x1[:, 1].mean()  # coupling raises the pT scale
    assert np.std(x3[:, 0]) > np.std(x1[:, 0])       # ... and the width
    with pytest.raises(InputError):
        bsm_scan.generate([[1.0, -1.0]], 10)


def test_hessian_of_exact_gaussian_likelihood():
    """gradient_fit + hessian_cov on a 'flow' whose likelihood is an exact
    Gaussian in theta: best fit = sample mean, sigma = 1/sqrt(N)."""

    class Exact(torch.nn.Module):
        c_mean = torch.zeros(2)
        c_std = torch.ones(2)

        def log_prob(self, x, c):
            return -0.5 * ((x - c) ** 2).sum(-1)

    g = np.random.default_rng(0)
    x = torch.as_tensor(g.normal([0.3, -0.2], 1.0, (400, 2)), dtype=torch.float32)
    fit = bsm_scan.gradient_fit(Exact(), x, np.array([[1.0, 1.0], [-1.0, 0.5]]), np.array([-2, -2]),
                                np.array([2, 2]), steps=300, lr=0.05)
    np.testing.assert_allclose(fit["theta"], x.mean(0).numpy(), atol=2e-3)
    np.testing.assert_allclose(np.sqrt(np.diag(fit["cov"])), 1 / np.sqrt(400), rtol=1e-3)


# ---------------------------------------------------------------- likelihood communication
def test_undertrained_flow_fails_gof_trained_passes(tmp_path):
    cfg = dict(n_train=3000, n_validation=600, transforms=3, hidden=[64, 64], epochs=12, undertrained_epochs=1,
               max_attempts=2, alpha=0.01, auc_max=0.55)
    res = likelihood_flows.run(cfg, seed=3, outdir=tmp_path)
    assert not res["under_accepted"]
    assert res["accepted"], res["attempts"]
    assert res["reload_max_abs_diff"] < 1e-4
    card = json.loads((tmp_path / "flow.json").read_text())
    assert card["kind"] == "nsf" and card["features_names"] == list(likelihood_flows.FEATURES)
    val = json.loads((tmp_path / "validation.json").read_text())
    assert val["classifier_auc"] < cfg["auc_max"]


def test_gof_rejects_wrong_distribution():
    """An exact-shape flow fitted to a Gaussian fails against the banana posterior."""
    x = likelihood_flows.sample_posterior(600, seed=1)
    flow = likelihood_flows.StandardizedFlow.fitted_to(x, transforms=1, hidden=(8,))  # untrained: ~Gaussian
    gof = likelihood_flows.gof_tests(flow, x, seed=0, classifier_rounds=50)
    assert not likelihood_flows.accepted(gof, 0.01, 0.55)


# ---------------------------------------------------------------- surrogates
def test_coverage_and_spread_helpers():
    g = np.random.default_rng(0)
    truth = g.normal(size=2000)
    samples = g.normal(size=(3, 2000, 200))  # calibrated: same distribution as the truth
    cov = classifier_surrogates.coverage(samples, truth, [0.5, 0.9])
    np.testing.assert_allclose(cov, [0.5, 0.9], atol=0.04)
    narrow = classifier_surrogates.coverage(0.3 * samples, truth, [0.5])
    assert narrow[0] < 0.3  # over-confident surrogate under-covers
    assert classifier_surrogates.ensemble_spread(samples).mean() < 0.1


def test_flow_matching_loss_trains_cnf():
    """The flow-matching loss on zuko's CNF learns a shifted Gaussian given its context."""
    torch.manual_seed(0)
    c = torch.rand(2000, 1) * 4
    y = c + 0.3 * torch.randn(2000, 1)
    from colliderflow.nn.flows import StandardizedFlow
    from colliderflow.nn.train import TrainConfig, fit

    model = StandardizedFlow.fitted_to(y, c, kind="cnf", hidden=(32, 32))
    fit(model, classifier_surrogates.fm_loss, [y, c], TrainConfig(epochs=25, batch_size=256, lr=3e-3, patience=25,
                                                                  progress=False))
    with torch.no_grad():
        s = model.sample(c=torch.full((2000, 1), 3.0))
    assert float(s.mean()) == pytest.approx(3.0, abs=0.15)
    assert float(s.std()) == pytest.approx(0.3, rel=0.35)


def test_mle_response_helper():
    e = np.repeat([10.0, 20.0], 500)
    r = mle_calibration.response(e, e * 1.05, [10.0, 20.0])
    np.testing.assert_allclose(r["bias"], 0.05, atol=1e-9)
    np.testing.assert_allclose(r["resolution"], 0.0, atol=1e-9)


def test_bad_config_values_raise_input_error(tmp_path):
    from colliderflow.studies.flow_inference import run_study

    cfg = dict(priors=["uniform", "falling"], mismatched_prior="log_uniform", e_min=1.0, e_max=100.0,
               test_e_min=2.0, test_e_max=70.0)
    with pytest.raises(InputError, match="mismatched_prior"):
        mle_calibration.check_config(cfg)
    with pytest.raises(InputError, match="test_e_min"):
        mle_calibration.check_config({**cfg, "mismatched_prior": "falling", "test_e_max": 500.0})
    with pytest.raises(InputError, match="theta_true"):
        bsm_scan.run(dict(m_range=[1, 2], g_range=[0.5, 1.5], theta_true=[2.5, 1.0], grid_points=2), seed=0)
    with pytest.raises(InputError, match="study"):
        run_study("nonsense", {}, 0, tmp_path)


# ---------------------------------------------------------------- smoke-tier outputs
def _metrics(smoke_run, study):
    return json.loads((smoke_run / "results" / study / "metrics.json").read_text())


@pytest.mark.parametrize("study", FI)
def test_smoke_outputs_exist(smoke_run, study):
    d = _metrics(smoke_run, study)
    assert d["tier"] == "smoke" and isinstance(d["holds"], bool)
    assert (smoke_run / "results" / study / f"{study}.png").stat().st_size > 10_000
    assert (smoke_run / "results" / study / f"{study}.pdf").exists()


def test_smoke_bsm_scan_recovers_truth(smoke_run):
    m = _metrics(smoke_run, "bsm_scan")["metrics"]
    assert m["chi2_obs_2dof"] < m["chi2_2sigma_threshold"]  # theta* within 2 sigma (2 d.o.f.)
    assert all(abs(p) < 3 for p in m["pull"])
    assert m["grid_agrees"]
    assert abs(m["coverage_1sigma_2d"] - 0.6827) <= m["coverage_tolerance"]


def test_smoke_mle_less_biased_than_regression(smoke_run):
    m = _metrics(smoke_run, "mle_calibration")["metrics"]
    p = m["mismatched_prior"]
    assert m[f"mle_{p}_mean_abs_bias"] < m[f"regression_{p}_mean_abs_bias"]
    assert m["mle_prior_shift"] < m["regression_prior_shift"]


def test_smoke_likelihood_flow_gated_export(smoke_run):
    d = _metrics(smoke_run, "likelihood_flows")
    m = d["metrics"]
    assert m["accepted"] and not m["undertrained_accepted"]
    flow = likelihood_flows.load_exported(smoke_run / "results" / "likelihood_flows" / "export")
    x = torch.as_tensor(likelihood_flows.sample_posterior(500, seed=99))
    with torch.no_grad():
        assert torch.isfinite(flow.log_prob(x)).all()


def test_smoke_surrogate_auc_and_ood_spread(smoke_run):
    m = _metrics(smoke_run, "classifier_surrogates")["metrics"]
    assert abs(m["auc_difference"]) <= m["auc_tolerance"]
    assert m["spread_ood"][-1] > m["spread_in_distribution"]
    assert m["auc_true_classifier"] > 0.75  # the toy classifier actually separates top from QCD
