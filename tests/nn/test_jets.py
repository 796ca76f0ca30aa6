"""Shared jet-constituent network blocks (colliderflow.nn.jets)."""

from __future__ import annotations

import numpy as np
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
