"""Likelihood communication with flows (Araz et al., nabu): goodness-of-fit gate,
export and reload, and the claim on the smoke-tier outputs."""

from __future__ import annotations

import json

import pytest
import torch

from colliderflow.studies.likelihood_flows import core as likelihood_flows

from ..conftest import strict_metrics

torch.set_num_threads(1)  # the CI machine has 2 cores; keep unit tests to one

STUDY = "likelihood_flows"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """The study's run on a small posterior sample: trained, under-trained and untrained flows, gated, exported."""
    tmp = tmp_path_factory.mktemp("likelihood_flows")
    cfg = dict(n_train=6000, n_validation=4000, transforms=3, hidden=[64, 64], epochs=12, undertrained_epochs=1,
               max_attempts=2, alpha=0.01, auc_max=0.55)
    return cfg, likelihood_flows.run(cfg, seed=3, outdir=tmp / "export"), tmp


def _verdict(res, cfg):
    from colliderflow.studies.likelihood_flows import Config, verdict

    return verdict(likelihood_flows.summarise(res, cfg, n_boot=100), Config(**{**cfg, "hidden": tuple(cfg["hidden"])}))


def test_undertrained_flow_fails_gof_trained_passes(fitted):
    cfg, res, tmp = fitted
    assert not res["under_accepted"] and not res["untrained_accepted"]
    assert res["accepted"], res["attempts"]
    assert res["reload_max_abs_diff"] < 1e-4
    card = json.loads((tmp / "export" / "flow.json").read_text())
    assert card["kind"] == "nsf" and card["features_names"] == list(likelihood_flows.FEATURES)
    val = json.loads((tmp / "export" / "validation.json").read_text())
    assert val["classifier_auc"] < cfg["auc_max"]


def test_accepted_flow_is_published_as_onnx(fitted):
    """The issue's defect: the model was 'not exported: onnx is not in the pinned environment'. It is
    published through colliderflow.publish, and onnxruntime gives the flow's log p on new points."""
    import numpy as np
    import onnxruntime as ort

    cfg, res, tmp = fitted
    assert res["published"]["exported"] and res["published"]["passed"], res["published"]
    card = json.loads((tmp / "published" / "model_card.json").read_text())
    assert list(card["inputs"]) == ["x"] and list(card["outputs"]) == ["log_prob"]
    assert card["metrics"]["accepted_by_gate"] is True
    assert "not exported" not in json.loads((tmp / "export" / "flow.json").read_text())["onnx"]
    assert res["published"]["max_abs_diff"] < 1e-9  # float64 export: onnxruntime agrees with torch
    assert res["published"]["sampler"]["passed"], res["published"]["sampler"]  # the inverse transform too
    assert (tmp / "published" / "sampler" / "model.onnx").exists()
    x = likelihood_flows.sample_posterior(37, seed=11).astype(np.float64)  # another batch than the frozen set
    got = ort.InferenceSession(str(tmp / "published" / "model.onnx")).run(["log_prob"], {"x": x})[0]
    with torch.no_grad():
        want = res["flow"].log_prob(torch.as_tensor(x, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)  # the float32 flow vs its float64 export


def test_verdict_passes_the_trained_flow_and_rejects_broken_ones(fitted):
    """Power check: the trained flow holds; the untrained flow (the null) or the under-trained flow in its
    place fail (AUC above the gate, not better than the competitors)."""
    cfg, res, _ = fitted
    v = _verdict(res, cfg)
    assert v.holds, [c.as_json() for c in v.comparisons if not c.holds]
    assert {c.competitor for c in v.comparisons if c.null} == {"untrained flow (initial weights)"}
    for broken in ("gof_untrained", "gof_under"):
        assert not _verdict(dict(res, gof=res[broken]), cfg).holds, broken
    # no export, or an export onnxruntime disagrees with: the claim fails
    assert not _verdict(dict(res, published=None), cfg).holds
    assert not _verdict(dict(res, published={**res["published"], "passed": False}), cfg).holds


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


def test_bootstrap_statistics_match_the_library_ones():
    """The verdict's fast AUC and KS distance (bootstrapped) are sklearn's and scipy's."""
    import numpy as np
    from scipy import stats
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    a, b = rng.random(500), rng.random(600) + 0.1
    a[:50] = b[:50]  # ties
    assert likelihood_flows._auc(a, b) == pytest.approx(roc_auc_score(np.r_[np.zeros(500), np.ones(600)],
                                                                      np.r_[a, b]), abs=1e-12)
    r2 = rng.chisquare(4, 700) * 1.1
    assert likelihood_flows._ks_d(r2, 4) == pytest.approx(stats.kstest(r2, stats.chi2(4).cdf).statistic, abs=1e-12)
