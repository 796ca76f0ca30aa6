"""Maximum-likelihood calibration with a conditional flow (Du et al.): the
calorimeter toy, helpers, config errors and the claim on the smoke-tier outputs."""

from __future__ import annotations

import numpy as np
import pytest

from colliderflow.data import calorimeter_toy
from colliderflow.errors import InputError
from colliderflow.studies.mle_calibration import core as mle_calibration
from colliderflow.study import run_job

from ..conftest import strict_metrics, study_config

STUDY = "mle_calibration"


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


def test_mle_response_helper():
    e = np.repeat([10.0, 20.0], 500)
    r = mle_calibration.response(e, e * 1.05, [10.0, 20.0])
    np.testing.assert_allclose(r["bias"], 0.05, atol=1e-9)
    np.testing.assert_allclose(r["resolution"], 0.0, atol=1e-9)


def _estimates(seeds: int, seed: int = 0) -> dict:
    """:func:`core.run`'s output with stand-in estimators on the same test
    energies: an unbiased, prior-independent "MLE" (5 % resolution and 0.3 %
    training noise per prior), a regression and a posterior mode pulled in log E
    towards where each prior puts its mass (by 8 % and 5 % of the distance),
    and a layer sum biased by 2 %."""
    g = np.random.default_rng(seed)
    energies = np.geomspace(2.0, 70.0, 6)
    e = np.repeat(energies, 300)
    centre = {"uniform": np.log(50.0), "falling": np.log(3.0)}
    noise = g.normal(0, 0.05, len(e))
    out = []
    for _ in range(seeds):
        per = {}
        for p, c in centre.items():
            le = np.log(e) + noise
            per[p] = {"mle": np.exp(le + g.normal(0, 0.003, len(e))), "map": np.exp(le - 0.05 * (le - c)),
                      "regression": np.exp(le - 0.08 * (le - c) + g.normal(0, 0.003, len(e))),
                      "layer_sum": e * np.exp(noise) * 1.02}
        out.append(per)
    return {"test_energies": energies, "e_test": e, "seeds": out}


@pytest.mark.parametrize("seeds", [1, 3])
def test_verdict_passes_the_mle_and_fails_prior_dependent_estimators(seeds):
    """The study's summary and verdict: the prior-independent estimator passes;
    the flow's posterior mode or the regression in its place fail (they move
    with the prior), over a bootstrap (1 seed) or paired seeds (3)."""
    from colliderflow.studies.mle_calibration import Config, verdict

    cfg = {**study_config(STUDY), "seeds": seeds, "test_energies": 6}
    cfg.pop("enabled", None)
    conf = Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()})
    res = _estimates(seeds)
    m = mle_calibration.summarise(res, cfg, n_boot=50)
    assert m["comparisons"]["over"] == ("paired seeds" if seeds >= 3 else "bootstrap")
    v = verdict(m, conf)
    assert v.holds, [(c.competitor, c.effect, c.error) for c in v.comparisons]
    for broken in ("map", "regression"):
        v = verdict(mle_calibration.summarise(res, cfg, method=broken, n_boot=50), conf)
        assert not v.holds


def _job(tmp_path, **cfg):
    """A job record of this study's run step with config overrides (run_job input)."""
    return {"step": f"{STUDY}.run", "cfg": {**study_config(STUDY), **cfg}, "seed": 0, "tier": "default",
            "input": {"all": [], "named": {}},
            "output": {"all": [], "named": {k: str(tmp_path / k) for k in ("metrics", "png", "pdf")}},
            "log": str(tmp_path / "run.log")}


def test_bad_config_values_raise_input_error(tmp_path, capfd):
    cfg = dict(priors=["uniform", "falling"], mismatched_prior="log_uniform", e_min=1.0, e_max=100.0,
               test_e_min=2.0, test_e_max=70.0)
    with pytest.raises(InputError, match="mismatched_prior"):
        mle_calibration.check_config(cfg)
    with pytest.raises(InputError, match="test_e_min"):
        mle_calibration.check_config({**cfg, "mismatched_prior": "falling", "test_e_max": 500.0})
    assert run_job(_job(tmp_path, mismatched_prior="log_uniform")) == 2
    assert "error: config: field 'studies.mle_calibration.mismatched_prior'" in capfd.readouterr().err


# ---------------------------------------------------------------- smoke-tier outputs
def _metrics(smoke_run, study):
    return strict_metrics(smoke_run / "results" / study / "metrics.json")


def test_smoke_outputs_exist(smoke_run):
    d = _metrics(smoke_run, STUDY)
    assert d["tier"] == "smoke" and isinstance(d["holds"], bool)
    assert (smoke_run / "results" / STUDY / f"{STUDY}.png").stat().st_size > 10_000
    assert (smoke_run / "results" / STUDY / f"{STUDY}.pdf").exists()


def test_smoke_mle_less_biased_than_regression(smoke_run):
    d = _metrics(smoke_run, "mle_calibration")
    m = d["metrics"]
    p = m["mismatched_prior"]
    assert m[f"mle_{p}_mean_abs_bias"] < m[f"regression_{p}_mean_abs_bias"]
    assert m["mle_prior_shift"] < m["regression_prior_shift"]
    comps = {c["competitor"] for c in d["verdict"]["comparisons"]}
    assert {"direct regression", "uncalibrated layer sum", "prior independence"} <= comps
