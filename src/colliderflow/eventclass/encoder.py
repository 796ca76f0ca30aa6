"""The shared event encoder: reconstructed objects of the flat NanoAOD table
(6 jets, 2 muons, 2 electrons, MET) as a set of tokens, a transformer without
positional encoding (permutation invariant within and across collections)
and masked mean+max pooling to an event embedding.

Raw objects are ``(N, S, 7)`` arrays with channels :data:`RAW` and a boolean
mask ``(N, S)``; physics augmentations act on them before featurisation.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..data.nanoaod import event_table
from ..errors import InputError
from ..nn.train import TrainConfig, fit, load_state, save_model

#: Objects per event in the table, in slot order.
N_OBJECTS = {"Jet": 6, "Muon": 2, "Electron": 2}
RAW = ("pt", "eta", "phi", "mass", "btag", "charge", "type")
TYPES = ("Jet", "Muon", "Electron", "MET")
N_FEATURES = 7 + len(TYPES)  # log pt, eta, sin phi, cos phi, log mass, btag, charge, one-hot type


def load_table(path: str | Path, n_events: int | None = None, truth: bool = False) -> pd.DataFrame:
    """Per-event table of a NanoAOD file (toy or real) via the shared reader."""
    table, _ = event_table(path, N_OBJECTS, entry_stop=n_events or None, truth=truth)
    return table


def objects(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Raw object array ``(N, S, 7)`` and mask ``(N, S)`` from the flat table.
    MET is always present (zero in files without MET), so no event is empty."""
    n = len(table)
    slots = []
    for coll, k in N_OBJECTS.items():
        for i in range(k):
            p = f"{coll}{i}_"
            btag = table[p + "btagDeepFlavB"] if coll == "Jet" else np.zeros(n)
            charge = table[p + "charge"] if coll != "Jet" else np.zeros(n)
            slots.append((np.stack([table[p + "pt"], table[p + "eta"], table[p + "phi"], table[p + "mass"],
                                    btag, charge, np.full(n, TYPES.index(coll))], 1), table[p + "mask"] > 0))
    slots.append((np.stack([table["MET_pt"], np.zeros(n), table["MET_phi"], np.zeros(n), np.zeros(n), np.zeros(n),
                            np.full(n, TYPES.index("MET"))], 1), np.ones(n, bool)))
    raw = np.stack([s[0] for s in slots], 1).astype(np.float32)
    mask = np.stack([s[1] for s in slots], 1)
    raw[~mask] = 0.0
    raw[..., 6] = np.stack([s[0][:, 6] for s in slots], 1)  # keep the type of empty slots
    return raw, mask


def pair_labels(table: pd.DataFrame) -> np.ndarray:
    """``(N, S, S)`` truth "objects i and j share a parent" (same non-negative
    ``ancestor``: the top quark or resonance they descend from); -1 where
    undefined (absent objects, MET, the diagonal)."""
    anc = []
    for coll, k in N_OBJECTS.items():
        for i in range(k):
            a = table[f"{coll}{i}_ancestor"].to_numpy() if f"{coll}{i}_ancestor" in table else np.full(len(table), -1)
            anc.append(np.where(table[f"{coll}{i}_mask"] > 0, a, -2))
    anc.append(np.full(len(table), -2))  # MET
    anc = np.stack(anc, 1)
    same = (anc[:, :, None] == anc[:, None, :]) & (anc[:, :, None] >= 0)
    lab = same.astype(np.float32)
    undefined = (anc[:, :, None] == -2) | (anc[:, None, :] == -2) | np.eye(anc.shape[1], dtype=bool)[None]
    lab[undefined] = -1.0
    return lab


def featurize(raw: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Network inputs ``(N, S, N_FEATURES)`` from raw objects; zero where masked."""
    pt, eta, phi, mass, btag, charge, typ = raw.unbind(-1)
    onehot = nn.functional.one_hot(typ.long().clamp(0, len(TYPES) - 1), len(TYPES)).float()
    x = torch.stack([torch.log1p(pt.clamp_min(0)) - 3.5, eta / 2, torch.sin(phi), torch.cos(phi),
                     torch.log1p(mass.clamp_min(0)) / 2 - 1, btag, charge], -1)
    return torch.cat([x, onehot], -1) * mask.unsqueeze(-1)


def augment(raw: torch.Tensor, mask: torch.Tensor, smear: float = 0.05, drop: float = 0.1
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Physics augmentations: a global phi rotation, an eta flip, per-object
    momentum smearing and object dropout (MET, the last slot, is kept)."""
    n = raw.shape[0]
    raw = raw.clone()
    raw[..., 2] = torch.remainder(raw[..., 2] + torch.rand(n, 1) * 2 * math.pi + math.pi, 2 * math.pi) - math.pi
    raw[..., 1] = raw[..., 1] * torch.where(torch.rand(n, 1) < 0.5, -1.0, 1.0)
    scale = 1 + smear * torch.randn(raw.shape[:2])
    raw[..., 0] = raw[..., 0] * scale.clamp_min(0.1)
    raw[..., 3] = raw[..., 3] * scale.clamp_min(0.1)
    keep = torch.rand(mask.shape) >= drop
    keep[:, -1] = True
    return raw, mask & keep


class SetEncoder(nn.Module):
    """Transformer over object tokens -> (event embedding ``(N, out_dim)``,
    object embeddings ``(N, S, dim)``). No positional encoding: permuting the
    objects permutes the object embeddings and leaves the event embedding."""

    def __init__(self, dim: int = 48, heads: int = 4, layers: int = 2, out_dim: int = 48,
                 n_features: int = N_FEATURES) -> None:
        super().__init__()
        self.hparams = {"dim": dim, "heads": heads, "layers": layers, "out_dim": out_dim, "n_features": n_features}
        self.embed = nn.Sequential(nn.Linear(n_features, dim), nn.GELU(), nn.Linear(dim, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.out = nn.Sequential(nn.LayerNorm(2 * dim), nn.Linear(2 * dim, out_dim))

    def forward(self, raw: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.blocks(self.embed(featurize(raw, mask)), src_key_padding_mask=~mask)
        m = mask.unsqueeze(-1).float()
        mean = (h * m).sum(1) / m.sum(1).clamp_min(1)
        mx = h.masked_fill(~mask.unsqueeze(-1), -1e4).max(1).values
        return self.out(torch.cat([mean, mx], -1)), h


def mlp(n_in: int, hidden: int, n_out: int, depth: int = 2) -> nn.Sequential:
    layers, d = [], n_in
    for _ in range(depth):
        layers += [nn.Linear(d, hidden), nn.GELU()]
        d = hidden
    return nn.Sequential(*layers, nn.Linear(d, n_out))


class EventClassifier(nn.Module):
    """:class:`SetEncoder` + a classification head on the event embedding;
    ``forward`` returns ``(logit, object embeddings)``."""

    def __init__(self, hp: dict, hidden: int = 64, encoder: SetEncoder | None = None) -> None:
        super().__init__()
        self.encoder = encoder if encoder is not None else build_encoder(hp)
        self.head = mlp(self.encoder.hparams["out_dim"], hidden, 1, depth=1)

    def forward(self, raw: torch.Tensor, mask: torch.Tensor, *_: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        e, h = self.encoder(raw, mask)
        return self.head(e).squeeze(-1), h


def build_encoder(hp: dict) -> SetEncoder:
    return SetEncoder(**{k: hp[k] for k in ("dim", "heads", "layers", "out_dim", "n_features") if k in hp})


def save_encoder(encoder: SetEncoder, path: str | Path, extra: dict | None = None) -> None:
    """The reusable artifact: state_dict (.pt) + JSON (hyper-parameters, provenance)."""
    save_model(encoder, path, {**encoder.hparams, "class": "SetEncoder", "slots": N_OBJECTS, "raw": RAW,
                               **(extra or {})})


def load_encoder(path: str | Path) -> tuple[SetEncoder, dict]:
    state, hp = load_state(path)
    if hp.get("class") != "SetEncoder":
        raise InputError(Path(path).with_suffix(".json"), "class", "not a SetEncoder artifact")
    enc = build_encoder(hp)
    enc.load_state_dict(state)
    return enc, hp


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """SimCLR contrastive loss between two views ``(N, d)`` of the same events."""
    z = nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    n = len(z1)
    sim.fill_diagonal_(-1e9)
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return nn.functional.cross_entropy(sim, target)


def supcon(z: torch.Tensor, labels: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al.): events of the same model
    attract, others repel."""
    z = nn.functional.normalize(z, dim=1)
    sim = z @ z.T / temperature
    eye = torch.eye(len(z), dtype=torch.bool)
    sim = sim.masked_fill(eye, -1e9)
    logp = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    pos = (labels[:, None] == labels[None, :]) & ~eye
    npos = pos.sum(1)
    ok = npos > 0
    return -((logp * pos).sum(1)[ok] / npos[ok]).mean()


class ContrastiveModel(nn.Module):
    """Encoder + projection head for self-supervised pre-training."""

    def __init__(self, encoder: SetEncoder, proj_dim: int = 32) -> None:
        super().__init__()
        self.encoder = encoder
        self.proj = mlp(encoder.hparams["out_dim"], encoder.hparams["out_dim"], proj_dim, depth=1)

    def forward(self, raw: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.proj(self.encoder(raw, mask)[0])


def pretrain_contrastive(raw: np.ndarray, mask: np.ndarray, hp: dict, cfg: TrainConfig, temperature: float = 0.2,
                         smear: float = 0.05, drop: float = 0.1) -> tuple[SetEncoder, dict]:
    """SimCLR pre-training of a fresh :class:`SetEncoder` on unlabelled events
    with :func:`augment` views. Returns the encoder and the training history."""
    torch.manual_seed(cfg.seed)
    model = ContrastiveModel(build_encoder(hp))

    def loss_fn(m: nn.Module, batch: list[torch.Tensor]):
        r, k = batch
        return nt_xent(m(*augment(r, k, smear, drop)), m(*augment(r, k, smear, drop)), temperature)

    hist = fit(model, loss_fn, [torch.as_tensor(raw), torch.as_tensor(mask)], cfg)
    return model.encoder, hist.as_dict()


def epochs_for(n_train: int, batch_size: int, target_steps: int, max_epochs: int, min_epochs: int = 8) -> int:
    """Epochs giving about ``target_steps`` optimiser steps (bounded), so small
    and large training sets get comparable optimisation budgets."""
    steps = max(1, math.ceil(n_train / batch_size))
    return int(min(max_epochs, max(min_epochs, math.ceil(target_steps / steps))))
