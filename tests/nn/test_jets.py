"""Shared jet-constituent network blocks (colliderflow.nn.jets)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from colliderflow.data import jet_constituents as jc
from colliderflow.nn import jets as nj


def _batch(n=6, n_max=16):
    d = jc.generate_toy(n * 5, n_max, seed=2)
    return d["constituents"][:n]


def test_pair_features_physics():
    c = _batch()
    p = nj.pair_features(c)
    mask = c[..., 0] > 0
    assert p.shape == (*c.shape[:2], c.shape[1], 4)
    assert np.allclose(p, p.transpose(0, 2, 1, 3)), "pair features are symmetric"
    assert np.all(p[~mask] == 0) and np.all(p[:, np.arange(c.shape[1]), np.arange(c.shape[1])] == 0)
    # the pair mass from ln m^2 matches the four-vector sum of the two constituents
    p4 = jc.four_vectors(c)
    s = p4[0, 0] + p4[0, 1]
    np.testing.assert_allclose(np.exp(p[0, 0, 1, 3]), s[0] ** 2 - (s[1:] ** 2).sum(), rtol=1e-4)


def test_transformer_ignores_padding_and_permutation():
    torch.manual_seed(0)
    c = _batch()
    x, mask = (torch.from_numpy(a) for a in nj.particle_features(c))
    pairs = torch.from_numpy(nj.pair_features(c))
    net = nj.JetTransformer(len(nj.PARTICLE_FEATURES), dim=16, heads=2, layers=2, n_out=3,
                            pair_dim=len(nj.PAIR_FEATURES)).eval()
    out = net(x, mask, pairs)
    assert out.shape == (6, 3) and torch.isfinite(out).all()
    # garbage in padded slots changes nothing
    x2 = x.clone()
    x2[~mask] = 7.0
    torch.testing.assert_close(net(x2, mask, pairs), out)
    # permuting the constituents changes nothing (no positional encoding)
    perm = torch.randperm(x.shape[1])
    torch.testing.assert_close(net(x[:, perm], mask[:, perm], pairs[:, perm][:, :, perm]), out, atol=1e-5, rtol=1e-4)
    # causal: slot k's output does not depend on later slots
    h = net.encode(x, mask, pairs, causal=True)
    x3 = x.clone()
    x3[:, 5:] += 1.0
    torch.testing.assert_close(net.encode(x3, mask, pairs, causal=True)[:, :5], h[:, :5])


def test_fused_inference_path_agrees_with_training_path():
    """eval + no_grad takes torch's fused attention kernel unless it is off; it must give the
    same (finite) outputs as the regular path, with and without pair bias."""
    torch.manual_seed(1)
    c = _batch(n=8)
    x, mask = (torch.from_numpy(a) for a in nj.particle_features(c))
    pairs = torch.from_numpy(nj.pair_features(c))
    net = nj.JetTransformer(len(nj.PARTICLE_FEATURES), dim=16, heads=2, layers=2, n_out=2,
                            pair_dim=len(nj.PAIR_FEATURES)).eval()
    for p in (pairs, None):
        slow = net(x, mask, p)
        with torch.no_grad():
            fast = net(x, mask, p)
        assert torch.isfinite(fast).all()
        torch.testing.assert_close(fast, slow.detach(), atol=1e-5, rtol=1e-4)


def _cuda_case(kind: str):
    """(model, loss_fn, tensors, bf16) of one jet-study network for a tiny training."""
    from torch.nn import functional as F

    g = torch.Generator().manual_seed(0)
    if kind == "sophon":
        from colliderflow.studies.sophon.core import Tagger, feature_stats, inputs

        c = jc.generate_toy(40, 12, seed=2, classes=("q", "g"))["constituents"]
        x, m, p = inputs(c, 12)
        model = Tagger({"dim": 8, "heads": 2, "layers": 1, "n_out": 1, "n_constituents": 12}, feature_stats(x, m, p))
        y = torch.randint(0, 2, (len(x),), generator=g).float()
        return model, lambda mod, b: F.binary_cross_entropy_with_logits(mod(*b[:3])[:, 0], b[3]), (x, m, p, y), True
    if kind == "gpt":
        from colliderflow.studies.omnijet.backbone import gpt_loss, make_gpt, sequences

        tok = torch.randint(0, 16, (40, 10), generator=g).numpy()
        tok[:, 6:] = -1
        return (make_gpt(n_codes=16, n_max=10, dim=8, heads=2, layers=1, emb_dim=8), gpt_loss,
                tuple(torch.as_tensor(a) for a in sequences(tok, 16)), True)
    if kind == "vqvae":
        from colliderflow.studies.omnijet.tokenizer import make_vqvae, vqvae_loss

        x = torch.randn(200, 3, generator=g)
        return make_vqvae(codebook_size=8, latent_dim=2, hidden=8), vqvae_loss, (x,), False
    from colliderflow.studies.bithep.core import DeepSets, quantise

    model = DeepSets(5, 8, 1, 2, 2)
    quantise(model, "ternary", model.first_last(), 8)
    x, m = nj.particle_features(jc.generate_toy(40, 12, seed=2, classes=("q", "g"))["constituents"])
    y = torch.randint(0, 2, (len(x),), generator=g).float()
    return (model, lambda mod, b: F.binary_cross_entropy_with_logits(mod(b[0], b[1])[:, 0], b[2]),
            (torch.from_numpy(x), torch.from_numpy(m), y), False)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device: the GPU path is checked where one is lent"))])
@pytest.mark.parametrize("kind", ["sophon", "gpt", "vqvae", "bithep"])
def test_jet_networks_train_on_the_selected_device(kind, device, monkeypatch):
    """Each jet study's network trains on the device the setting names (bf16 autocast where the study allows
    it; ignored on the CPU), records that device in its health record and comes back on the CPU."""
    from colliderflow import health
    from colliderflow.nn.train import TrainConfig, fit

    monkeypatch.setenv("COLLIDERFLOW_DEVICE", device)
    model, loss_fn, tensors, bf16 = _cuda_case(kind)
    health.clear()
    hist = fit(model, loss_fn, tensors, TrainConfig(epochs=2, batch_size=16, lr=1e-3, progress=False, desc=kind,
                                                    bf16=bf16))
    assert hist.device.startswith(device) and health.RECORDS[-1][1]["device"].startswith(device)
    assert all(p.device.type == "cpu" for p in model.parameters()) and np.isfinite(hist.best_val)
    health.clear()
