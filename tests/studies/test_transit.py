"""TRANSIT (study `transit`): the transport network, the verdict and the
smoke-tier outputs. The data split, background flow and injection scan it
shares with R-ANODE are tested in tests/studies/test_ranode.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from colliderflow.studies.transit import Config, verdict
from colliderflow.studies.transit import model as T
from colliderflow.study import build_config

from ..conftest import REPO, strict_metrics, study_config

torch.set_num_threads(1)  # the tests' timings assume one thread (CI machines are small and shared)


def test_transit_starts_as_identity_and_learns_mass_shift():
    """x | m ~ N(m, 0.3) in each feature: transporting from m to m' must shift by m' - m."""
    rng = np.random.default_rng(2)
    m = rng.uniform(0.0, 2.0, 6000).astype(np.float32)
    x = (m[:, None] + rng.normal(0, 0.3, (len(m), 2))).astype(np.float32)
    cfg = dataclasses.replace(build_config(Config, study_config("transit")), hidden=(32, 32), w_consistency=1.0,
                              w_adversary=10.0, epochs=10, batch_size=256, lr=3e-3, patience=10)
    xt = torch.as_tensor(x)
    fresh = T.Transit(2, [8], xt.mean(0), xt.std(0), float(m.mean()), float(m.std()))
    np.testing.assert_allclose(fresh.transport(x[:50], m[:50], m[:50] + 1), x[:50], atol=1e-5)
    model, _ = T.train_transit(x, m, cfg, seed=0)
    src = m < 0.5
    out = model.transport(x[src], m[src], np.full(int(src.sum()), 1.5, np.float32))
    shift = out.mean(0) - x[src].mean(0)
    expected = 1.5 - m[src].mean()
    assert np.all(np.abs(shift - expected) < 0.25 * expected), (shift, expected)
    assert np.all(np.abs(out.std(0) - 0.3) < 0.12), out.std(0)




def test_verdict_needs_closure_and_sic():
    cfg = build_config(Config, study_config("transit"))
    m = {"closure_auc": {"transit": 0.51}, "largest_injection_median_max_sic": {"transit": 9.0, "cathode": 10.0}}
    v = verdict(m, cfg)
    assert v.holds and v.key_metric["value"] == 0.51 and "80%" in v.claim
    assert not verdict({**m, "closure_auc": {"transit": 0.6}}, cfg).holds
    assert not verdict({**m, "largest_injection_median_max_sic": {"transit": 5.0, "cathode": 10.0}}, cfg).holds


@pytest.mark.workflow
def test_dry_run_smoke_tier(run_snakemake, tmp_path):
    out = run_snakemake(tmp_path, "-n", "results/transit/metrics.json",
                        configfiles=[REPO / "config" / "tiers" / "smoke.yaml"])
    for rule in ("ranode_background", "transit_train", "ranode_scan", "transit_closure", "transit_report"):
        assert rule in out.stdout


@pytest.mark.workflow
def test_smoke_outputs(smoke_run):
    t = strict_metrics(smoke_run / "results/transit/metrics.json")
    assert isinstance(t["holds"], bool) and t["paper"] == "TRANSIT" and t["tier"] == "smoke"
    assert abs(t["metrics"]["closure_auc"]["transit"] - 0.5) < 0.06
    for f in ["template_closure", "transit_max_sic"]:
        for ext in ("png", "pdf"):
            assert (smoke_run / "results" / "transit" / f"{f}.{ext}").stat().st_size > 1000
