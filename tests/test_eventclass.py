"""Issue 6: the shared set encoder, the decay-aware network, pre-training
and the unified latent space. Unit tests on tiny inputs; the papers' claims
are checked on the smoke-tier outputs (``smoke_run``)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from colliderflow.data.toy_nanoaod import write_process
from colliderflow.errors import InputError
from colliderflow.nn.train import TrainConfig
from colliderflow.studies.eventclass import common, decay_aware, latent_space, pretraining
from colliderflow.studies.eventclass.encoder import (SetEncoder, augment, load_encoder, load_table, nt_xent, objects,
                                                     pair_labels, save_encoder, supcon)

HP = {"dim": 16, "heads": 2, "layers": 1, "out_dim": 8}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    d = tmp_path_factory.mktemp("eventclass")
    files = {}
    for p in ("ttbar", "zprime_tt"):
        files[p] = d / f"{p}.root"
        write_process(files[p], p, 600, seed=1)
    return files


def _random_objects(n=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    scale, shift = torch.tensor([100, 4, 6, 10, 1, 1, 0]), torch.tensor([0, 2, 3, 0, 0, 0, 0])
    raw = torch.rand(n, 11, 7, generator=g) * scale - shift
    raw[..., 6] = torch.tensor([0] * 6 + [1] * 2 + [2] * 2 + [3]).float()
    mask = torch.rand(n, 11, generator=g) > 0.3
    mask[:, -1] = True
    return raw, mask


def test_encoder_is_permutation_invariant():
    torch.manual_seed(0)
    enc = SetEncoder(**HP).eval()
    raw, mask = _random_objects()
    perm = torch.randperm(11)
    with torch.no_grad():
        e1, h1 = enc(raw, mask)
        e2, h2 = enc(raw[:, perm], mask[:, perm])
    assert torch.allclose(e1, e2, atol=1e-5)
    assert torch.allclose(h1[:, perm][mask[:, perm]], h2[mask[:, perm]], atol=1e-5)
    # masked objects do not matter
    raw2 = raw.clone()
    raw2[~mask] = 123.0
    with torch.no_grad():
        assert torch.allclose(enc(raw2, mask)[0], e1, atol=1e-5)


def _mass(raw, mask):
    pt, eta, phi, m = (raw[..., i] * mask for i in range(4))
    px, py, pz = pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta)
    e = torch.sqrt(px**2 + py**2 + pz**2 + m**2) * mask
    return torch.sqrt((e.sum(1) ** 2 - px.sum(1) ** 2 - py.sum(1) ** 2 - pz.sum(1) ** 2).clamp_min(0))


def test_augmentations_are_physical():
    raw, mask = _random_objects(200)
    raw[..., 1][raw[..., 6] == 3] = 0  # MET has no eta
    r, m = augment(raw, mask, smear=0.0, drop=0.0)
    assert torch.equal(m, mask)
    assert torch.allclose(_mass(r, m), _mass(raw, mask), rtol=1e-4)  # rotation + eta flip keep the mass
    assert (r[..., 2].abs() <= math.pi + 1e-6).all()
    r, m = augment(raw, mask, smear=0.1, drop=0.5)
    assert m[:, -1].all() and (m.sum() < mask.sum())
    assert not torch.allclose(r[..., 0], raw[..., 0])


def test_contrastive_losses_prefer_aligned_views():
    z = torch.randn(64, 8)
    assert nt_xent(z, z + 0.01 * torch.randn(64, 8)) < nt_xent(z, torch.randn(64, 8))
    labels = torch.arange(64) % 4
    centres = torch.randn(4, 8) * 5
    assert supcon(centres[labels] + 0.1 * torch.randn(64, 8), labels) < supcon(torch.randn(64, 8), labels)


def test_objects_and_pair_labels(toy):
    table = load_table(toy["ttbar"], truth=True)
    raw, mask = objects(table)
    assert raw.shape == (len(table), 11, 7) and mask[:, -1].all()
    lab = pair_labels(table)
    ok = lab >= 0
    # semileptonic ttbar: 4 true pairs at most (3 from the hadronic top, 1 from the leptonic top)
    n_pos = (lab > 0.5).sum((1, 2)) / 2
    assert n_pos.max() <= 4 and n_pos.mean() > 1.5
    assert np.all(lab == lab.transpose(0, 2, 1))
    assert not ok[:, np.arange(11), np.arange(11)].any()


def test_encoder_artifact_roundtrip(tmp_path):
    torch.manual_seed(1)
    enc = SetEncoder(**HP).eval()
    save_encoder(enc, tmp_path / "enc.pt", {"note": "test"})
    meta = json.loads((tmp_path / "enc.json").read_text())
    assert meta["class"] == "SetEncoder" and meta["dim"] == 16
    enc2, hp = load_encoder(tmp_path / "enc.pt")
    raw, mask = _random_objects()
    with torch.no_grad():
        assert torch.allclose(enc(raw, mask)[0], enc2.eval()(raw, mask)[0])
    (tmp_path / "enc.json").write_text(json.dumps({"class": "Other"}))
    with pytest.raises(InputError, match="class"):
        load_encoder(tmp_path / "enc.pt")


def test_engineered_features_find_the_top(toy):
    f = common.engineered(load_table(toy["ttbar"]))
    top = f["m_top_best"][f["n_jets"] >= 3]
    assert abs(np.median(top) - 172.5) < 15 and np.isfinite(f.to_numpy()).all()


def test_purity_and_sets():
    assert latent_space.purity(np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1])) == 1.0
    assert latent_space.purity(np.array([0, 0, 0, 0]), np.array([0, 0, 1, 1])) == 0.5
    z = np.arange(40, dtype=float).reshape(20, 2)
    zs, ls = latent_space.set_embeddings(z, np.repeat([0, 1], 10), 5, np.random.default_rng(0))
    assert zs.shape == (4, 2) and list(ls) == [0, 0, 1, 1]


def test_bad_inputs(toy):
    with pytest.raises(InputError, match="--inputs"):
        common.parse_inputs(["ttbar"])
    tables = {"ttbar": pd.DataFrame()}
    with pytest.raises(InputError, match="zprime"):
        common.labelled(tables, "zprime_tt", "ttbar")


def test_pretraining_reads_real_doublemu(shared_data, tmp_path):
    """The real DoubleMu excerpt goes through the same reader as the toy:
    muons only (jets/electrons empty), and the encoder pre-trains on it."""
    f = shared_data / "cms_opendata" / "Run2012BC_DoubleMuParked_Muons_first100k.root"
    raw, mask = pretraining.unlabelled_events([f], "file", 400, 0)
    assert raw.shape[0] == 400
    assert mask[:, 6:8].any(1).mean() > 0.9 and not mask[:, :6].any() and not mask[:, 8:10].any()
    info = pretraining.pretrain([f], "file", 400, HP, TrainConfig(epochs=1, batch_size=128, progress=False),
                                tmp_path / "enc.pt", 0.2, 0.05, 0.1)
    assert info["source"] == "file" and info["n_events"] == 400 and np.isfinite(info["final_val_loss"])
    assert load_encoder(tmp_path / "enc.pt")[1]["files"] == [str(f)]


def _metrics(smoke_run, study):
    return json.loads((smoke_run / "results" / study / "metrics.json").read_text())


def test_smoke_decay_aware(smoke_run):
    """Aux head beats chance clearly; multi-task not worse than the MLP at the
    smallest size (tolerance from config); every AUC better than random."""
    m = _metrics(smoke_run, "decay_aware")
    v = m["metrics"]["verdict"]
    assert v["aux_balanced_accuracy"] > 0.5 + v["aux_margin"]
    assert v["multitask_minus_mlp_smallest"] > -v["auc_tolerance"]
    for model in decay_aware.MODELS:
        for s in m["metrics"]["sizes"]:
            assert m["metrics"]["auc"][model][str(s)]["mean"] > 0.55
    assert m["holds"] == v["holds"]
    assert (smoke_run / "results" / "decay_aware" / "auc_vs_size.pdf").exists()


def test_smoke_pretraining(smoke_run):
    """Pre-training beats scratch at the smallest N and the gap shrinks."""
    m = _metrics(smoke_run, "pretraining")
    v = m["metrics"]["verdict"]
    assert v["gain_smallest"] > v["min_gain"] + v["gain_smallest_se"]
    assert v["gain_largest"] < v["gain_smallest"]
    assert (smoke_run / "resources" / "eventclass" / "pretrained_encoder.json").exists()


def test_smoke_latent_space(smoke_run):
    """Indistinguishable models overlap, distinct ones separate, purity above threshold."""
    m = _metrics(smoke_run, "latent_space")
    v = m["metrics"]["verdict"]
    assert v["indistinguishable_latent_auc"] < 0.5 + v["overlap_tol"]
    assert v["min_distinct_latent_auc"] > v["separation_min"]
    assert m["metrics"]["purity_sets"] > v["purity_min"]
    assert m["metrics"]["spearman_distance_vs_auc"] > v["rho_min"]
