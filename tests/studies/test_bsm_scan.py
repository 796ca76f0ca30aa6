"""BSM parameter scan with a conditional flow (arXiv:2409.13201): unit tests on tiny
inputs and the physics claims checked on the smoke-tier outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

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
    m = _metrics(smoke_run, "bsm_scan")["metrics"]
    assert m["chi2_obs_2dof"] < m["chi2_2sigma_threshold"]  # theta* within 2 sigma (2 d.o.f.)
    assert all(abs(p) < 3 for p in m["pull"])
    assert m["grid_agrees"]
    assert abs(m["coverage_1sigma_2d"] - 0.6827) <= m["coverage_tolerance"]
