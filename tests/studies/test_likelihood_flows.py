"""Likelihood communication with flows (Araz et al., nabu): goodness-of-fit gate,
export and reload, and the claim on the smoke-tier outputs."""

from __future__ import annotations

import json

import torch

from colliderflow.studies.likelihood_flows import core as likelihood_flows

from ..conftest import strict_metrics

torch.set_num_threads(1)  # the CI machine has 2 cores; keep unit tests to one

STUDY = "likelihood_flows"


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


# ---------------------------------------------------------------- smoke-tier outputs
def _metrics(smoke_run, study):
    return strict_metrics(smoke_run / "results" / study / "metrics.json")


def test_smoke_outputs_exist(smoke_run):
    d = _metrics(smoke_run, STUDY)
    assert d["tier"] == "smoke" and isinstance(d["holds"], bool)
    assert (smoke_run / "results" / STUDY / f"{STUDY}.png").stat().st_size > 10_000
    assert (smoke_run / "results" / STUDY / f"{STUDY}.pdf").exists()


def test_smoke_likelihood_flow_gated_export(smoke_run):
    d = _metrics(smoke_run, "likelihood_flows")
    m = d["metrics"]
    assert m["accepted"] and not m["undertrained_accepted"]
    flow = likelihood_flows.load_exported(smoke_run / "results" / "likelihood_flows" / "export")
    x = torch.as_tensor(likelihood_flows.sample_posterior(500, seed=99))
    with torch.no_grad():
        assert torch.isfinite(flow.log_prob(x)).all()
