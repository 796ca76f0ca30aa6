"""The shared event-classification code (colliderflow.eventclass) of the
decay_aware, pretraining and latent_space studies: set encoder, augmentations,
contrastive losses, encoder artifact, engineered features. Unit tests on tiny
inputs; the studies' claims are checked in tests/studies/test_<study>.py."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from colliderflow.data.toy_nanoaod import write_process
from colliderflow.errors import InputError
from colliderflow.eventclass import common
from colliderflow.eventclass.encoder import (
    SetEncoder,
    augment,
    load_encoder,
    load_table,
    nt_xent,
    objects,
    pair_labels,
    save_encoder,
    supcon,
)

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


@pytest.mark.parametrize("rounds", [30, 0])
def test_bdt_training_health(rounds):
    """xgboost BDTs record their health (issue 21): the training log-loss falls from the base rate's when
    boosting learns; a BDT of zero rounds (the constant base rate) is flagged as not trained."""
    from colliderflow import health

    health.clear()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] + 0.5 * rng.normal(size=400) > 0).astype(float)
    common.train_xgb(x[:300], y[:300], x[300:], seed=0, n_estimators=rounds, name="bdt")
    (name, rec), = health.RECORDS
    health.clear()
    assert name == "bdt" and "log-loss" in rec["criterion"]
    assert rec["initial"] == pytest.approx(math.log(2), abs=0.01)
    assert rec["trained"] is (rounds > 0), rec
