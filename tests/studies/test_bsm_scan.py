"""BSM parameter scan with a conditional flow (arXiv:2409.13201): unit tests on tiny
inputs and the physics claims checked on the smoke-tier outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import chi2

from colliderflow.errors import InputError
from colliderflow.studies.bsm_scan import core as bsm_scan
from colliderflow.study import run_job

from ..conftest import strict_metrics, study_config

torch.set_num_threads(1)  # the CI machine has 2 cores; keep unit tests to one

STUDY = "bsm_scan"


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


TRUTH, LO, HI = np.array([1.43, 0.87]), np.array([1.0, 0.5]), np.array([2.0, 1.5])


def _config(**kw):
    from colliderflow.studies.bsm_scan import Config

    cfg = {**study_config(STUDY), **kw}
    cfg.pop("enabled", None)
    return Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()})


def _verdict(flow_pe: dict, **extra):
    """The study's verdict with the pseudo-experiment fits of ``flow_pe`` as the
    method's (the exact and untrained fits set to the same, observed-data
    checks passing)."""
    from colliderflow.studies.bsm_scan import verdict

    m = {"chi2_obs_2dof": 1.0, "chi2_2sigma_threshold": 6.18, "grid_distance_in_steps": 0.5,
         "pseudo_experiment_fits": {"flow": flow_pe, "exact": flow_pe,
                                    "untrained": extra.get("untrained", bsm_scan.coverage_stats([0] * 50, []))},
         "null_chi2_oracle": {"chi2_oracle_flow": 2.0, "chi2_oracle_untrained": 50.0, "error": 5.0, "n": 50}}
    return verdict(m, _config())


def _gaussian_pseudo_experiments(width: float, n: int, seed: int = 0) -> dict:
    """n pseudo-experiments whose Hessian errors are ``width`` times too small:
    the best fits scatter as N(theta*, width^2 C) while the quoted covariance is C."""
    g = np.random.default_rng(seed)
    cov = np.array([[0.02**2, -0.3 * 0.02 * 0.03], [-0.3 * 0.02 * 0.03, 0.03**2]])
    d = width * g.multivariate_normal([0, 0], cov, n)
    q = np.einsum("bi,ij,bj->b", d, np.linalg.inv(cov), d)
    return bsm_scan.coverage_stats(q < chi2.ppf(0.6827, 2), d / np.sqrt(np.diag(cov)))


def test_coverage_tolerance_rejects_a_pull_width_of_one_and_a_half():
    """The default tier's pseudo-experiments and tolerances: calibrated Hessian
    errors pass, errors 1.48 or 1.5 times too small fail (the old rule, 3
    binomial errors at 20 pseudo-experiments, let 1.48 pass)."""
    n = study_config(STUDY)["pseudo_experiments"]
    assert n >= 200
    ok = _gaussian_pseudo_experiments(1.0, n)
    assert _verdict(ok).holds
    for width in (1.48, 1.5):
        bad = _gaussian_pseudo_experiments(width, n)
        v = _verdict(bad)
        assert not v.holds
        cov = next(c for c in v.comparisons if c.statistic.startswith("2D 68.27"))
        assert not cov.holds and abs(cov.effect) > 0.2
    old = _gaussian_pseudo_experiments(1.48, 20, seed=3)["coverage"]
    assert abs(old - 0.6827) <= 3 * np.sqrt(0.6827 * 0.3173 / 20)  # what the old verdict accepted


def test_exact_likelihood_passes_and_untrained_flow_fails():
    """The study's pseudo-experiment fits with the toy's exact likelihood (the
    ideal method) pass the coverage and pull-width comparisons; the untrained
    flow (the null) fails them."""
    grid = bsm_scan.theta_grid((1.0, 2.0), (0.5, 1.5), 3, 3)
    x, th = bsm_scan.generate(grid, 200, seed=0)
    cfg = {"kind": "maf", "transforms": 2, "hidden": [16, 16]}
    untrained = bsm_scan.untrained_flow(x, th, cfg, seed=0)
    exact = bsm_scan.ExactLikelihood(untrained.c_mean, untrained.c_std)
    xs, _ = bsm_scan.generate(np.repeat(TRUTH[None], 200, 0), 100, seed=3)
    xs = xs.reshape(200, 100, 2)
    pe = {k: bsm_scan.pseudo_experiments(m, xs[:n], TRUTH, ((LO + HI) / 2)[None], LO, HI, steps=100)
          for k, m, n in (("exact", exact, 200), ("untrained", untrained, 50))}
    st = {k: bsm_scan.coverage_stats(v["covered"], v["pulls"]) for k, v in pe.items()}
    assert abs(st["exact"]["coverage"] - 0.6827) < 0.08 and max(abs(np.subtract(st["exact"]["pull_width"], 1))) < 0.15
    assert _verdict(st["exact"], untrained=st["untrained"]).holds
    v = _verdict(st["untrained"], untrained=st["untrained"])
    assert not v.holds and not any(c.holds for c in v.comparisons if "pull" in c.statistic or "2D" in c.statistic)


def _job(tmp_path, **cfg):
    """A job record of this study's run step with config overrides (run_job input)."""
    return {"step": f"{STUDY}.run", "cfg": {**study_config(STUDY), **cfg}, "seed": 0, "tier": "default",
            "input": {"all": [], "named": {}},
            "output": {"all": [], "named": {k: str(tmp_path / k) for k in ("metrics", "png", "pdf")}},
            "log": str(tmp_path / "run.log")}


def test_theta_true_outside_the_grid_is_a_config_error(tmp_path, capfd):
    with pytest.raises(InputError, match="theta_true"):
        bsm_scan.run(dict(m_range=[1, 2], g_range=[0.5, 1.5], theta_true=[2.5, 1.0], grid_points=2), seed=0)
    assert run_job(_job(tmp_path, theta_true=[2.5, 1.0])) == 2
    assert "error: config: field 'studies.bsm_scan.theta_true'" in capfd.readouterr().err


# ---------------------------------------------------------------- smoke-tier outputs
def _metrics(smoke_run, study):
    return strict_metrics(smoke_run / "results" / study / "metrics.json")


def test_smoke_outputs_exist(smoke_run):
    d = _metrics(smoke_run, STUDY)
    assert d["tier"] == "smoke" and isinstance(d["holds"], bool)
    assert (smoke_run / "results" / STUDY / f"{STUDY}.png").stat().st_size > 10_000
    assert (smoke_run / "results" / STUDY / f"{STUDY}.pdf").exists()


def test_smoke_bsm_scan_recovers_truth(smoke_run):
    d = _metrics(smoke_run, "bsm_scan")
    m = d["metrics"]
    assert m["chi2_obs_2dof"] < m["chi2_2sigma_threshold"]  # theta* within 2 sigma (2 d.o.f.)
    assert all(abs(p) < 3 for p in m["pull"])
    assert m["grid_agrees"]
    fits = m["pseudo_experiment_fits"]
    # the untrained flow's fits (the null) are further from theta* than the trained one's
    assert m["null_chi2_oracle"]["chi2_oracle_untrained"] > m["null_chi2_oracle"]["chi2_oracle_flow"]
    assert fits["untrained"]["n"] == 20
    assert [c["null"] for c in d["verdict"]["comparisons"]].count(True) == 1
