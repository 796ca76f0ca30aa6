"""A unified latent space of SM and BSM models (arXiv:2407.20315). The claim
is checked on the smoke-tier outputs (``smoke_run``); the shared encoder in
tests/core/test_eventclass.py."""

from __future__ import annotations

import json

import numpy as np

from colliderflow.studies.latent_space import core as latent_space


def test_purity_and_sets():
    assert latent_space.purity(np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1])) == 1.0
    assert latent_space.purity(np.array([0, 0, 0, 0]), np.array([0, 0, 1, 1])) == 0.5
    z = np.arange(40, dtype=float).reshape(20, 2)
    zs, ls = latent_space.set_embeddings(z, np.repeat([0, 1], 10), 5, np.random.default_rng(0))
    assert zs.shape == (4, 2) and list(ls) == [0, 0, 1, 1]


def _metrics(smoke_run, study):
    return json.loads((smoke_run / "results" / study / "metrics.json").read_text())


def test_smoke_latent_space(smoke_run):
    """Indistinguishable models overlap, distinct ones separate, purity above threshold."""
    m = _metrics(smoke_run, "latent_space")
    v = m["metrics"]["verdict"]
    assert v["indistinguishable_latent_auc"] < 0.5 + v["overlap_tol"]
    assert v["min_distinct_latent_auc"] > v["separation_min"]
    assert m["metrics"]["purity_sets"] > v["purity_min"]
    assert m["metrics"]["spearman_distance_vs_auc"] > v["rho_min"]
    assert m["holds"] == v["holds"]
