"""OmniJet-alpha step 1: the per-constituent VQ-VAE tokenizer (arXiv:2403.05618)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...data import jet_constituents as jc
from ...errors import InputError
from ...io import atomic_path, write_json
from ...metrics import Stopwatch
from ...nn.train import History, TrainConfig, fit, load_state, save_model, seed_everything
from .data import load_jets, split, to_constituents, to_features

log = logging.getLogger(__name__)


class VQVAE(nn.Module):
    """Per-constituent VQ-VAE: (B, 3) standardised features -> code index.

    ``forward(x)`` returns (reconstruction, code index, beta * commitment
    loss); the quantised latent passes the decoder with a straight-through
    gradient. The codebook follows the encoder outputs assigned to each
    code as an exponential moving average (decay ``decay``; the k-means
    update of VQ-VAE-2), is initialised on the first training batch, and
    a code whose average use falls below 1 % of the mean is re-seeded on
    a random encoder output of the batch (dead-code restart).
    """

    def __init__(self, codebook_size: int, latent_dim: int = 4, hidden: int = 64, beta: float = 0.25,
                 decay: float = 0.99, mean: Sequence[float] | None = (0.0, 0.0, 0.0),
                 std: Sequence[float] | None = (1.0, 1.0, 1.0)) -> None:
        super().__init__()
        self.beta, self.decay = beta, decay
        self.encoder = nn.Sequential(nn.Linear(3, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                     nn.Linear(hidden, latent_dim))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden),
                                     nn.GELU(), nn.Linear(hidden, 3))
        self.register_buffer("codebook", torch.zeros(codebook_size, latent_dim))
        self.register_buffer("ema_sum", torch.zeros(codebook_size, latent_dim))
        self.register_buffer("ema_count", torch.ones(codebook_size))
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    @property
    def n_codes(self) -> int:
        return self.codebook.shape[0]

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        return torch.cdist(z, self.codebook).argmin(1)

    @torch.no_grad()
    def _update(self, z: torch.Tensor):
        """EMA (k-means) codebook step on a training batch, before it is quantised."""
        if not bool(self.initialised):
            pick = torch.randint(len(z), (self.n_codes,))
            self.codebook.copy_(z[pick] + 1e-3 * torch.randn_like(z[pick]))
            self.ema_sum.copy_(self.codebook)
            self.ema_count.fill_(1.0)
            self.initialised.fill_(True)
        idx = self.nearest(z)
        n = torch.bincount(idx, minlength=self.n_codes).float()
        sums = torch.zeros_like(self.ema_sum).index_add_(0, idx, z)
        self.ema_count.mul_(self.decay).add_(n, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        dead = self.ema_count < 0.01 * self.ema_count.mean()
        if dead.any():
            pick = torch.randint(len(z), (int(dead.sum()),))
            self.ema_sum[dead] = z[pick]
            self.ema_count[dead] = 1.0
        self.codebook.copy_(self.ema_sum / self.ema_count.clamp(min=1e-6)[:, None])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        if self.training:
            self._update(z.detach())
        idx = self.nearest(z.detach())
        zq = self.codebook[idx]
        vq_loss = self.beta * ((z - zq) ** 2).mean()
        zq = z + (zq - z).detach()  # straight-through
        return self.decoder(zq), idx, vq_loss

    def standardise(self, f: np.ndarray) -> torch.Tensor:
        return (torch.as_tensor(f, dtype=torch.float32) - self.mean) / self.std

    @torch.no_grad()
    def tokenize(self, features: np.ndarray) -> np.ndarray:
        """(M, 3) raw features -> (M,) code indices."""
        self.eval()
        return self.nearest(self.encoder(self.standardise(features))).numpy()

    @torch.no_grad()
    def detokenize(self, idx: np.ndarray) -> np.ndarray:
        """(M,) code indices -> (M, 3) raw features."""
        self.eval()
        out = self.decoder(self.codebook[torch.as_tensor(np.asarray(idx), dtype=torch.long)])
        return (out * self.std + self.mean).numpy()


def make_vqvae(**hp) -> VQVAE:
    return VQVAE(**hp)


def vqvae_loss(model: VQVAE, batch: Sequence[torch.Tensor]) -> torch.Tensor:
    (x,) = batch
    rec, _, vq = model(x)
    return ((rec - x) ** 2).mean() + vq


def train_tokenizer(features: np.ndarray, codebook_size: int, latent_dim: int, hidden: int, beta: float,
                    decay: float, epochs: int, batch_size: int, lr: float, seed: int) -> tuple[VQVAE, dict, History]:
    """Train a VQ-VAE on (M, 3) raw constituent features; returns (model, hparams, history)."""
    f = np.asarray(features, dtype=np.float32)
    hp = dict(codebook_size=int(codebook_size), latent_dim=int(latent_dim), hidden=int(hidden), beta=float(beta),
              decay=float(decay), mean=f.mean(0).tolist(), std=(f.std(0) + 1e-6).tolist())
    seed_everything(seed)
    model = make_vqvae(**hp)
    x = model.standardise(f)
    hist = fit(model, vqvae_loss, [x], TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                                                   patience=max(epochs, 1), desc="vqvae"))
    return model, hp, hist


def tokenize_jets(model: VQVAE, constituents: np.ndarray) -> np.ndarray:
    """(n_jets, N, 3) constituents -> (n_jets, N) code indices, -1 on padding."""
    f, mask = to_features(constituents)
    tok = np.full(mask.shape, -1, dtype=np.int64)
    tok[mask] = model.tokenize(f[mask])
    return tok


def decode_tokens(model: VQVAE, tokens: np.ndarray) -> np.ndarray:
    """(n_jets, N) code indices (-1 padding) -> constituents (n_jets, N, 3)."""
    tokens = np.asarray(tokens)
    mask = tokens >= 0
    f = np.zeros(mask.shape + (3,), dtype=np.float32)
    if mask.any():
        f[mask] = model.detokenize(tokens[mask])
    return to_constituents(f, mask)


def codebook_stats(tokens: np.ndarray, n_codes: int) -> dict:
    """Fraction of codes used and the perplexity exp(H) of the code frequencies."""
    t = np.asarray(tokens)
    t = t[t >= 0]
    p = np.bincount(t, minlength=n_codes) / max(len(t), 1)
    nz = p[p > 0]
    return {"codes_used": int((p > 0).sum()), "usage_fraction": float((p > 0).mean()),
            "perplexity": float(np.exp(-(nz * np.log(nz)).sum()))}


def resolution(model: VQVAE, constituents: np.ndarray) -> dict:
    """Reconstruction resolution of the tokenizer: per constituent (encode ->
    nearest code -> decode, slot by slot) the spread of pT_rec / pT - 1 and of
    the eta, phi residuals; per jet the relative jet-mass residual."""
    f, mask = to_features(constituents)
    t = f[mask].astype(np.float64)
    r = model.detokenize(model.tokenize(f[mask])).astype(np.float64)
    rec = decode_tokens(model, tokenize_jets(model, constituents))
    mt, mr = jc.jet_observables(constituents)["mass"], jc.jet_observables(rec)["mass"]
    ok = mt > 1.0
    rel_m = (mr[ok] - mt[ok]) / mt[ok]
    return {"pt_rel_std": float(np.std(np.exp(r[:, 0] - t[:, 0]) - 1)), "eta_std": float(np.std(r[:, 1] - t[:, 1])),
            "phi_std": float(np.std(r[:, 2] - t[:, 2])), "eta_spread": float(np.std(t[:, 1])),
            "mass_rel_std": float(np.std(rel_m)), "mass_rel_median": float(np.median(rel_m)),
            "mass_rel_iqr_half": float(np.subtract(*np.percentile(rel_m, [75, 25])) / 2)}


def run_tokenizer(jets_path: str | Path, model_path: str | Path, tokens_path: str | Path, stats_path: str | Path,
                  classes: Sequence[str], n_constituents: int, test_fraction: float, codebook_size: int,
                  latent_dim: int, hidden: int, beta: float, decay: float, epochs: int, batch_size: int,
                  lr: float, seed: int) -> dict:
    """Train the tokenizer on the training split; writes the model
    (``model_path``, vqvae.pt + .json), the tokens (``tokens_path``: tokens,
    labels, split of every jet) and the statistics (``stats_path``)."""
    jets = load_jets(jets_path, classes, n_constituents)
    cons = jets["constituents"]
    tr, te = split(len(cons), test_fraction, seed)
    f, mask = to_features(cons[tr])
    with Stopwatch() as sw:
        model, hp, hist = train_tokenizer(f[mask], codebook_size, latent_dim, hidden, beta, decay, epochs,
                                          batch_size, lr, seed)
    tokens = tokenize_jets(model, cons)
    stats = {"classes": list(jets["class_names"]), "n_constituents": n_constituents, "n_train": len(tr),
             "n_test": len(te), "codebook_size": codebook_size, "train_cpu_s": round(sw.cpu, 2),
             "best_val_loss": hist.best_val, "epochs_run": len(hist.val_loss),
             "test": {**codebook_stats(tokens[te], codebook_size), **resolution(model, cons[te])}}
    save_model(model, model_path, hp)
    with atomic_path(tokens_path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, tokens=tokens, labels=jets["labels"], train=tr, test=te,
                                constituents=cons)
    write_json(stats_path, stats)
    log.info("tokenizer: %s", stats["test"])
    return stats


def _load(path: str | Path, make: Callable):
    """A model saved by :func:`colliderflow.nn.train.save_model`, rebuilt by ``make(**hparams)``."""
    state, hp = load_state(path)
    model = make(**hp)
    model.load_state_dict(state)
    model.eval()
    return model


def load_tokenizer(path: str | Path) -> VQVAE:
    return _load(path, make_vqvae)


def load_tokens(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise InputError(path, None, "file does not exist")
    with np.load(path) as z:
        missing = [k for k in ("tokens", "labels", "train", "test", "constituents") if k not in z]
        if missing:
            raise InputError(path, missing[0], "array missing")
        return {k: z[k] for k in z.files}
