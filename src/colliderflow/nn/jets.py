"""Shared building blocks for jet-constituent networks (the jet foundation-model
family): per-constituent and ParT-style pairwise input features, and a small
masked transformer over constituents with optional pairwise attention bias
(Particle Transformer) and optional causal masking (GPT-style generation).

Inputs follow :mod:`colliderflow.data.jet_constituents`: constituents
(n_jets, n_max, 3) = (pT, eta_rel, phi_rel), zero-padded, mask = pT > 0.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

PARTICLE_FEATURES = ("log_pt", "log_pt_frac", "eta_rel", "phi_rel", "delta_r")
PAIR_FEATURES = ("ln_delta", "ln_kt", "ln_z", "ln_m2")
BLOCKED = float("-inf")  # attention bias of a blocked slot


def particle_features(constituents: np.ndarray, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(n_jets, n, 5) float32 features ``PARTICLE_FEATURES`` of the n leading
    constituents (zero on padding) and the (n_jets, n) bool mask."""
    c = np.asarray(constituents, dtype=np.float64)[:, :n]
    pt, eta, phi = c[..., 0], c[..., 1], c[..., 2]
    mask = pt > 0
    safe = np.where(mask, pt, 1.0)
    tot = pt.sum(1, keepdims=True)
    f = np.stack([np.log(safe), np.log(safe / np.where(tot > 0, tot, 1.0)), eta, phi, np.hypot(eta, phi)], -1)
    return (f * mask[..., None]).astype(np.float32), mask


def pair_features(constituents: np.ndarray, n: int | None = None) -> np.ndarray:
    """ParT pairwise features (n_jets, n, n, 4) float32 for massless
    constituents: ln dR, ln kT = ln(min(pT_a, pT_b) dR), ln z = ln(min pT /
    (pT_a + pT_b)), ln m^2 of the pair; zero where either slot is padding or
    on the diagonal."""
    c = np.asarray(constituents, dtype=np.float64)[:, :n]
    pt, eta, phi = c[..., 0], c[..., 1], c[..., 2]
    mask = pt > 0
    pa, pb = pt[:, :, None], pt[:, None, :]
    deta = eta[:, :, None] - eta[:, None, :]
    dphi = (phi[:, :, None] - phi[:, None, :] + np.pi) % (2 * np.pi) - np.pi
    dr = np.hypot(deta, dphi)
    pmin = np.minimum(pa, pb)
    valid = mask[:, :, None] & mask[:, None, :] & (dr > 0)
    m2 = 2 * pa * pb * (np.cosh(deta) - np.cos(dphi))
    eps = 1e-8
    out = np.stack([np.log(dr + eps), np.log(pmin * dr + eps), np.log(pmin / (pa + pb + eps) + eps),
                    np.log(m2 + eps)], -1)
    return (out * valid[..., None]).astype(np.float32)


class JetTransformer(nn.Module):
    """Masked transformer over constituents.

    ``encode(x, mask, pairs=None, causal=False)`` -> per-constituent outputs
    (B, N, dim); ``embed`` -> masked mean over constituents (B, dim), the jet
    embedding; ``forward`` -> ``head(embed)`` (class logits, or one output).
    With ``pair_dim > 0`` the pairwise features (B, N, N, pair_dim) pass
    through a small MLP into one additive attention bias per head and layer
    (the Particle Transformer's interaction matrix). ``causal=True`` lets a
    slot attend only to itself and earlier slots (autoregressive use).
    """

    def __init__(self, in_dim: int, dim: int = 64, heads: int = 4, layers: int = 3, n_out: int = 1,
                 pair_dim: int = 0, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads, self.n_layers = heads, layers
        self.embed_in = nn.Sequential(nn.Linear(in_dim, dim), nn.GELU(), nn.Linear(dim, dim))
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout, activation="gelu", batch_first=True,
                                       norm_first=True)
            for _ in range(layers))
        self.pair_mlp = (nn.Sequential(nn.Linear(pair_dim, 32), nn.GELU(), nn.Linear(32, heads * layers))
                         if pair_dim else None)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, n_out)

    def _bias(self, mask: torch.Tensor, pairs: torch.Tensor | None, causal: bool) -> list[torch.Tensor]:
        b, n = mask.shape
        bias = torch.zeros(b, 1, n, n, dtype=torch.float32, device=mask.device)
        # padded keys are never attended to; a padded query still sees itself (no NaN rows)
        # a float eye: ONNX Runtime has no boolean EyeLike kernel
        key_block = ~mask[:, None, None, :] & (torch.eye(n, device=mask.device) == 0)
        bias = bias.masked_fill(key_block, BLOCKED)
        if causal:
            upper = torch.triu(torch.ones(n, n, dtype=torch.bool, device=mask.device), 1)
            bias = bias.masked_fill(upper, BLOCKED)
        if self.pair_mlp is None or pairs is None:
            return [bias.expand(b, self.heads, n, n).reshape(b * self.heads, n, n)] * self.n_layers
        per = self.pair_mlp(pairs).permute(0, 3, 1, 2)  # (B, heads*layers, N, N)
        return [(bias + per[:, k * self.heads:(k + 1) * self.heads]).reshape(b * self.heads, n, n)
                for k in range(self.n_layers)]

    def encode(self, x: torch.Tensor, mask: torch.Tensor, pairs: torch.Tensor | None = None,
               causal: bool = False) -> torch.Tensor:
        mask = mask.bool()
        h = self.embed_in(x)
        # torch's fused inference kernel of TransformerEncoderLayer (taken in
        # eval mode under no_grad) returns NaN with a per-batch float attention
        # bias; the regular path is exact, so the fused one is off here
        fast = torch.backends.mha.get_fastpath_enabled()
        torch.backends.mha.set_fastpath_enabled(False)
        try:
            for block, bias in zip(self.blocks, self._bias(mask, pairs, causal)):
                h = block(h, src_mask=bias)
        finally:
            torch.backends.mha.set_fastpath_enabled(fast)
        return self.norm(h) * mask[..., None]

    def embed(self, x: torch.Tensor, mask: torch.Tensor, pairs: torch.Tensor | None = None) -> torch.Tensor:
        m = mask.float()[..., None]
        return (self.encode(x, mask, pairs) * m).sum(1) / m.sum(1).clamp(min=1.0)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, pairs: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.embed(x, mask, pairs))
