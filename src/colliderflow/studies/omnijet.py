"""OmniJet-alpha (arXiv:2403.05618) in miniature: a VQ-VAE tokenizer of jet
constituents, a GPT-style backbone that generates jets token by token, and the
transfer of that generative backbone to jet tagging.

Pipeline (one rule per step, see workflow/rules/omnijet.smk):

1. :func:`run_tokenizer` -- per-constituent features (log pT [GeV], eta_rel,
   phi_rel) of the n leading constituents of the fine-grained jet-class toy
   (:mod:`colliderflow.data.jet_constituents`) are standardised and quantised
   by a :class:`VQVAE` (MLP encoder -> nearest of ``codebook_size`` codes ->
   MLP decoder; straight-through gradient, commitment loss, EMA (k-means)
   codebook updates, dead codes restarted on encoder outputs). Reports codebook usage, perplexity and
   the reconstruction resolution (constituent pT, eta, phi; jet mass).
   The paper's tokenizer conditions on the whole jet (transformer encoder);
   this one is per constituent, so a generated token decodes on its own.
2. :func:`run_backbone` -- a :class:`JetGPT` (token + position embeddings as
   the input features of :class:`colliderflow.nn.jets.JetTransformer` in
   causal mode, its ``head`` applied per slot as the next-token classifier
   over ``codebook_size`` codes + a stop token) is trained on
   [start, t1 .. tn] -> [t1 .. tn, stop]. Jets are sampled token by token
   until the stop token (or n_max tokens) and decoded with the VQ-VAE
   decoder. Wasserstein-1 distances of multiplicity, jet mass and
   constituent pT to held-out jets are compared with trivial baselines
   (i.i.d. tokens from their marginal frequencies, the stop token included:
   a unigram model; and i.i.d. tokens with the data's multiplicity), with the
   tokenizer-reconstructed held-out jets (the floor set by quantisation) and
   with an equally large sample of training jets (the statistical floor).
3. :func:`run_transfer` -- tagging (two of the classes) from the token
   sequences with the backbone's masked-mean embedding and a small head:
   from scratch, frozen pre-trained backbone (head only) and fine-tuned;
   accuracy vs the number of labelled jets over a few seeds.
4. :func:`publish` -- the tokenizer (features -> token id, quantised latent,
   reconstruction), its decoder (token id -> features) and the backbone
   (token ids + mask -> next-token logits) as ONNX + model cards
   (:mod:`colliderflow.publish`), each checked in onnxruntime.
5. :func:`report` -- figures like the paper's and ``metrics.json``.
"""

from __future__ import annotations

import copy
import logging
import math
from pathlib import Path

import numpy as np

from ..data import jet_constituents as jc
from ..errors import InputError
from ..io import read_json, write_json

log = logging.getLogger(__name__)

PAPER = "arXiv:2403.05618"
FEATURE_NAMES = ("log_pt", "eta_rel", "phi_rel")
OBSERVABLES = ("multiplicity", "mass", "constituent_pt")
MODES = ("scratch", "frozen", "finetuned")
REDUCED = ("toy jets (or a 2000-jet real excerpt) instead of JetClass; <= n_constituents leading constituents "
           "(paper 128); per-constituent MLP VQ-VAE with a few hundred codes (paper: conditional transformer "
           "tokenizer, 8192 codes); a 2-layer transformer of width 32 (paper: a much larger GPT backbone); "
           "tagging from the same toy classes the backbone was trained on, tens to a thousand labelled jets")


# ----------------------------------------------------------------- config / data
def check_positive(source, **values) -> None:
    """InputError naming the first value that is not > 0 (or not finite)."""
    for k, v in values.items():
        if v is None or not np.isfinite(v) or v <= 0:
            raise InputError(source, k, f"must be > 0, got {v}")


def load_jets(path, classes, n_constituents: int) -> dict:
    """Jets of ``classes`` (relabelled 0..) truncated to the n leading
    constituents; InputError for an unknown class or too few stored slots."""
    jets = jc.read_jets(path)
    if len(set(classes)) != len(classes) or not classes:
        raise InputError("config", "omnijet.classes", f"need distinct classes, got {list(classes)}")
    jets = jc.select_classes(jets, list(classes))
    if n_constituents < 1 or n_constituents > jets["constituents"].shape[1]:
        raise InputError(path, "n_constituents", f"asked for {n_constituents} constituents, the file keeps "
                                                 f"{jets['constituents'].shape[1]}")
    cons = np.ascontiguousarray(jets["constituents"][:, :n_constituents])
    keep = jc.constituent_mask(cons).any(1)
    return {"constituents": cons[keep], "labels": jets["labels"][keep], "class_names": jets["class_names"]}


def split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random (train, test) index split; deterministic in ``seed``."""
    if not 0 < test_fraction < 1:
        raise InputError("config", "omnijet.test_fraction", f"must be in (0, 1), got {test_fraction}")
    perm = np.random.default_rng(seed).permutation(n)
    n_test = max(1, int(round(test_fraction * n)))
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def to_features(constituents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n_jets, N, 3) constituents -> features (log pT, eta_rel, phi_rel),
    zero on padding, and the (n_jets, N) mask."""
    c = np.asarray(constituents, dtype=np.float64)
    mask = jc.constituent_mask(c)
    f = np.stack([np.log(np.where(mask, c[..., 0], 1.0)), c[..., 1], c[..., 2]], -1)
    return (f * mask[..., None]).astype(np.float32), mask


def to_constituents(features: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_features`: (pT, eta_rel, phi_rel), sorted by pT,
    zero-padded."""
    f = np.asarray(features, dtype=np.float64)
    mask = np.asarray(mask, bool)
    c = np.stack([np.exp(f[..., 0]), f[..., 1], f[..., 2]], -1) * mask[..., None]
    order = np.argsort(-c[..., 0], axis=1, kind="stable")
    return np.take_along_axis(c, order[..., None], axis=1).astype(np.float32)


def observables(constituents: np.ndarray) -> dict[str, np.ndarray]:
    """Multiplicity, jet mass (GeV) and the flat list of constituent pT (GeV)."""
    o = jc.jet_observables(constituents)
    pt = np.asarray(constituents)[..., 0]
    return {"multiplicity": o["multiplicity"].astype(float), "mass": o["mass"], "constituent_pt": pt[pt > 0]}


def w1(a: dict, b: dict) -> dict[str, float]:
    """Wasserstein-1 distance of each observable (scipy)."""
    from scipy.stats import wasserstein_distance

    return {k: float(wasserstein_distance(a[k], b[k])) for k in OBSERVABLES}


# ----------------------------------------------------------------- tokenizer
def _torch():
    import torch

    return torch


def _vqvae_class():
    torch = _torch()
    from torch import nn

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
                     decay: float = 0.99, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)):
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

        def nearest(self, z):
            return torch.cdist(z, self.codebook).argmin(1)

        @torch.no_grad()
        def _update(self, z):
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

        def forward(self, x):
            z = self.encoder(x)
            if self.training:
                self._update(z.detach())
            idx = self.nearest(z.detach())
            zq = self.codebook[idx]
            vq_loss = self.beta * ((z - zq) ** 2).mean()
            zq = z + (zq - z).detach()  # straight-through
            return self.decoder(zq), idx, vq_loss

        def standardise(self, f):
            return (torch.as_tensor(f, dtype=torch.float32) - self.mean) / self.std

        @torch.no_grad()
        def tokenize(self, features) -> np.ndarray:
            """(M, 3) raw features -> (M,) code indices."""
            self.eval()
            return self.nearest(self.encoder(self.standardise(features))).numpy()

        @torch.no_grad()
        def detokenize(self, idx) -> np.ndarray:
            """(M,) code indices -> (M, 3) raw features."""
            self.eval()
            out = self.decoder(self.codebook[torch.as_tensor(np.asarray(idx), dtype=torch.long)])
            return (out * self.std + self.mean).numpy()

    return VQVAE


def make_vqvae(**hp):
    return _vqvae_class()(**hp)


def vqvae_loss(model, batch):
    (x,) = batch
    rec, _, vq = model(x)
    return ((rec - x) ** 2).mean() + vq


def train_tokenizer(features: np.ndarray, codebook_size: int, latent_dim: int, hidden: int, beta: float,
                    decay: float, epochs: int, batch_size: int, lr: float, seed: int):
    """Train a VQ-VAE on (M, 3) raw constituent features; returns (model, hparams, history)."""
    from ..nn.train import TrainConfig, fit, seed_everything

    for k, v in dict(codebook_size=codebook_size, latent_dim=latent_dim, hidden=hidden, epochs=epochs,
                     batch_size=batch_size).items():
        if int(v) < 1:
            raise InputError("config", f"omnijet.tokenizer.{k}", f"must be >= 1, got {v}")
    check_positive("config", **{"omnijet.tokenizer.lr": lr})
    if beta < 0:
        raise InputError("config", "omnijet.tokenizer.beta", f"must be >= 0, got {beta}")
    if not 0 < decay < 1:
        raise InputError("config", "omnijet.tokenizer.decay", f"must be in (0, 1), got {decay}")
    f = np.asarray(features, dtype=np.float32)
    hp = dict(codebook_size=int(codebook_size), latent_dim=int(latent_dim), hidden=int(hidden), beta=float(beta),
              decay=float(decay), mean=f.mean(0).tolist(), std=(f.std(0) + 1e-6).tolist())
    seed_everything(seed)
    model = make_vqvae(**hp)
    x = model.standardise(f)
    hist = fit(model, vqvae_loss, [x], TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                                                   patience=max(epochs, 1), desc="vqvae"))
    return model, hp, hist


def tokenize_jets(model, constituents: np.ndarray) -> np.ndarray:
    """(n_jets, N, 3) constituents -> (n_jets, N) code indices, -1 on padding."""
    f, mask = to_features(constituents)
    tok = np.full(mask.shape, -1, dtype=np.int64)
    tok[mask] = model.tokenize(f[mask])
    return tok


def decode_tokens(model, tokens: np.ndarray) -> np.ndarray:
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


def resolution(model, constituents: np.ndarray) -> dict:
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


def run_tokenizer(jets_path, outdir, classes, n_constituents: int, test_fraction: float, codebook_size: int,
                  latent_dim: int, hidden: int, beta: float, decay: float, epochs: int, batch_size: int,
                  lr: float, seed: int) -> dict:
    """Train the tokenizer on the training split; writes vqvae.pt (+ .json),
    tokens.npz (tokens, labels, split of every jet) and tokenizer.json."""
    from ..metrics import Stopwatch
    from ..nn.train import save_model

    outdir = Path(outdir)
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
    save_model(model, outdir / "vqvae.pt", hp)
    from ..io import atomic_path

    with atomic_path(outdir / "tokens.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, tokens=tokens, labels=jets["labels"], train=tr, test=te,
                                constituents=cons)
    write_json(outdir / "tokenizer.json", stats)
    log.info("tokenizer: %s", stats["test"])
    return stats


def _load(path, make):
    """A model saved by :func:`colliderflow.nn.train.save_model`, rebuilt by ``make(**hparams)``."""
    from ..nn.train import load_state

    state, hp = load_state(path)
    model = make(**hp)
    model.load_state_dict(state)
    model.eval()
    return model


def load_tokenizer(path):
    return _load(path, make_vqvae)


def load_tokens(path) -> dict:
    path = Path(path)
    if not path.exists():
        raise InputError(path, None, "file does not exist")
    with np.load(path) as z:
        missing = [k for k in ("tokens", "labels", "train", "test", "constituents") if k not in z]
        if missing:
            raise InputError(path, missing[0], "array missing")
        return {k: z[k] for k in z.files}


# ----------------------------------------------------------------- GPT backbone
def _gpt_class():
    torch = _torch()
    from torch import nn

    from ..nn.jets import JetTransformer

    class JetGPT(nn.Module):
        """GPT-style jet generator over VQ-VAE tokens.

        Inputs (B, L) token ids: codes 0..K-1, ``start`` = K, ``pad`` = K+1;
        token + position embeddings are the input features of a
        :class:`JetTransformer` run with ``causal=True``; its ``head`` maps each
        slot to K+1 logits (the K codes and ``stop`` = K).
        """

        def __init__(self, n_codes: int, n_max: int, dim: int = 48, heads: int = 4, layers: int = 2,
                     emb_dim: int = 32):
            super().__init__()
            self.n_codes, self.n_max = n_codes, n_max
            self.start, self.pad, self.stop = n_codes, n_codes + 1, n_codes
            self.tok = nn.Embedding(n_codes + 2, emb_dim)
            self.pos = nn.Embedding(n_max + 1, emb_dim)
            self.backbone = JetTransformer(emb_dim, dim=dim, heads=heads, layers=layers, n_out=n_codes + 1)
            self.dim = dim

        def hidden(self, tokens, mask):
            pos = torch.arange(tokens.shape[1], device=tokens.device)
            return self.backbone.encode(self.tok(tokens) + self.pos(pos)[None], mask, causal=True)

        def forward(self, tokens, mask):
            return self.backbone.head(self.hidden(tokens, mask))

        def embed(self, tokens, mask):
            m = mask.float()[..., None]
            return (self.hidden(tokens, mask) * m).sum(1) / m.sum(1).clamp(min=1.0)

    return JetGPT


def make_gpt(**hp):
    return _gpt_class()(**hp)


def sequences(tokens: np.ndarray, n_codes: int):
    """(n, N) codes with -1 padding -> inputs [start, t1..tn, pad..], mask
    and targets [t1..tn, stop, -100..], each (n, N+1)."""
    t = np.asarray(tokens, dtype=np.int64)
    n, big_n = t.shape
    mult = (t >= 0).sum(1)
    if np.any((t[:, 1:] >= 0) & (t[:, :-1] < 0)):
        raise InputError(None, "tokens", "padding (-1) must follow the real tokens")
    inp = np.full((n, big_n + 1), n_codes + 1, dtype=np.int64)
    inp[:, 0] = n_codes
    inp[:, 1:] = np.where(t >= 0, t, n_codes + 1)
    mask = np.arange(big_n + 1)[None] <= mult[:, None]
    tgt = np.full((n, big_n + 1), -100, dtype=np.int64)
    tgt[:, :big_n] = np.where(t >= 0, t, -100)
    tgt[np.arange(n), mult] = n_codes  # stop
    return inp, mask, tgt


def gpt_loss(model, batch):
    import torch.nn.functional as F

    inp, mask, tgt = batch
    logits = model(inp, mask)
    return F.cross_entropy(logits[mask], tgt[mask])


def train_gpt(tokens: np.ndarray, n_codes: int, dim: int, heads: int, layers: int, emb_dim: int, epochs: int,
              batch_size: int, lr: float, patience: int, seed: int, model=None):
    """Next-token training on (n, N) code sequences; returns (model, hparams, history)."""
    torch = _torch()
    from ..nn.train import TrainConfig, fit, seed_everything

    for k, v in dict(dim=dim, heads=heads, layers=layers, emb_dim=emb_dim, epochs=epochs, batch_size=batch_size,
                     patience=patience).items():
        if int(v) < 1:
            raise InputError("config", f"omnijet.backbone.{k}", f"must be >= 1, got {v}")
    if dim % heads:
        raise InputError("config", "omnijet.backbone.heads", f"dim {dim} is not divisible by {heads} heads")
    check_positive("config", **{"omnijet.backbone.lr": lr})
    hp = dict(n_codes=int(n_codes), n_max=int(tokens.shape[1]), dim=int(dim), heads=int(heads), layers=int(layers),
              emb_dim=int(emb_dim))
    seed_everything(seed)
    model = model or make_gpt(**hp)
    inp, mask, tgt = (torch.as_tensor(a) for a in sequences(tokens, n_codes))
    hist = fit(model, gpt_loss, [inp, mask, tgt], TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr,
                                                              seed=seed, patience=patience, desc="gpt"))
    return model, hp, hist


def generate(model, n_jets: int, seed: int, batch_size: int = 1000, temperature: float = 1.0) -> np.ndarray:
    """Sample ``n_jets`` token sequences: start token, then one token at a
    time until the stop token or ``model.n_max`` tokens. Returns (n, n_max)
    codes with -1 after the stop."""
    torch = _torch()
    check_positive("config", **{"omnijet.temperature": temperature})
    gen = torch.Generator().manual_seed(seed)
    model.eval()
    big_n = model.n_max
    out = np.full((n_jets, big_n), -1, dtype=np.int64)
    with torch.no_grad():
        for lo in range(0, n_jets, batch_size):
            b = min(batch_size, n_jets - lo)
            seq = torch.full((b, big_n + 1), model.pad, dtype=torch.long)
            seq[:, 0] = model.start
            alive = torch.ones(b, dtype=torch.bool)
            for step in range(big_n):
                logits = model(seq[:, :step + 1], torch.ones(b, step + 1, dtype=torch.bool))[:, -1] / temperature
                nxt = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)[:, 0]
                alive &= nxt != model.stop
                if not alive.any():
                    break
                seq[alive, step + 1] = nxt[alive]
            toks = seq[:, 1:].numpy()
            out[lo:lo + b] = np.where(toks == model.pad, -1, toks)
    return out


def unigram_baseline(tokens: np.ndarray, n_codes: int, n_jets: int, seed: int, data_multiplicity: bool):
    """Trivial baselines: tokens drawn i.i.d. from their marginal frequency in
    ``tokens``. With ``data_multiplicity`` the multiplicity is drawn from the
    data's; otherwise the stop token is one more i.i.d. draw (frequency: one
    per jet), giving a geometric multiplicity (capped at N) with the data's
    mean -- a unigram language model."""
    rng = np.random.default_rng(seed)
    t = np.asarray(tokens)
    big_n = t.shape[1]
    mult_data = (t >= 0).sum(1)
    counts = np.bincount(t[t >= 0], minlength=n_codes).astype(float)
    if data_multiplicity:
        mult = rng.choice(mult_data, n_jets)
    else:
        p_stop = len(t) / (counts.sum() + len(t))
        mult = np.minimum(rng.geometric(p_stop, n_jets) - 1, big_n)
    out = np.full((n_jets, big_n), -1, dtype=np.int64)
    draws = rng.choice(n_codes, size=(n_jets, big_n), p=counts / counts.sum())
    keep = np.arange(big_n)[None] < mult[:, None]
    out[keep] = draws[keep]
    return out


def run_backbone(tokenizer_path, tokens_path, outdir, dim: int, heads: int, layers: int, emb_dim: int, epochs: int,
                 batch_size: int, lr: float, patience: int, n_generate: int, temperature: float, seed: int) -> dict:
    """Train the GPT on the training-split tokens, sample jets, decode them
    and compare with held-out jets, the baselines and the floors. Writes
    gpt.pt (+ .json), samples.npz and generation.json."""
    from ..io import atomic_path
    from ..metrics import Stopwatch
    from ..nn.train import save_model

    if n_generate < 10:
        raise InputError("config", "omnijet.n_generate", f"must be >= 10, got {n_generate}")
    outdir = Path(outdir)
    vq = load_tokenizer(tokenizer_path)
    d = load_tokens(tokens_path)
    tok_tr, tok_te = d["tokens"][d["train"]], d["tokens"][d["test"]]
    with Stopwatch() as sw:
        model, hp, hist = train_gpt(tok_tr, vq.n_codes, dim, heads, layers, emb_dim, epochs, batch_size, lr,
                                    patience, seed)
    with Stopwatch() as sg:
        gen = generate(model, n_generate, seed=seed + 1, temperature=temperature)
    samples = {
        "real": d["constituents"][d["test"]],
        "generated": decode_tokens(vq, gen),
        "reconstructed": decode_tokens(vq, tok_te),
        "unigram": decode_tokens(vq, unigram_baseline(tok_tr, vq.n_codes, n_generate, seed + 2, False)),
        "iid_data_multiplicity": decode_tokens(vq, unigram_baseline(tok_tr, vq.n_codes, n_generate, seed + 3, True)),
        "train_subset": d["constituents"][np.random.default_rng(seed + 4).choice(
            d["train"], min(n_generate, len(d["train"])), replace=False)],
    }
    ref = observables(samples["real"])
    dist = {k: w1(observables(v), ref) for k, v in samples.items() if k != "real"}
    res = {"n_generate": n_generate, "n_real_test": len(samples["real"]), "gpt_train_cpu_s": round(sw.cpu, 2),
           "generate_cpu_s": round(sg.cpu, 2), "gpt_best_val_loss": hist.best_val,
           "gpt_epochs_run": len(hist.val_loss), "temperature": temperature,
           "generated_stopped_fraction": float(((gen >= 0).sum(1) < gen.shape[1]).mean()),
           "w1": dist, "means": {k: {o: float(np.mean(v)) for o, v in observables(s).items()}
                                 for k, s in samples.items()}}
    save_model(model, outdir / "gpt.pt", hp)
    with atomic_path(outdir / "samples.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, generated_tokens=gen, **samples)
    write_json(outdir / "generation.json", res)
    log.info("W1: %s", dist)
    return res


def load_gpt(path):
    return _load(path, make_gpt)


# ----------------------------------------------------------------- transfer to tagging
def _tagger_class():
    from torch import nn

    class Tagger(nn.Module):
        """Backbone embedding (masked mean of the causal outputs) + MLP head."""

        def __init__(self, gpt, n_classes: int = 2):
            super().__init__()
            self.gpt = gpt
            self.head = nn.Sequential(nn.Linear(gpt.dim, gpt.dim), nn.GELU(), nn.Linear(gpt.dim, n_classes))

        def forward(self, tokens, mask):
            return self.head(self.gpt.embed(tokens, mask))

    return Tagger


def _ce_loss(model, batch):
    import torch.nn.functional as F

    *x, y = batch
    return F.cross_entropy(model(*x), y)


def _steps_epochs(n: int, batch_size: int, target_steps: int, max_epochs: int) -> int:
    per_epoch = max(1, math.ceil(0.8 * n / batch_size))
    return int(min(max_epochs, max(2, math.ceil(target_steps / per_epoch))))


def train_tagger(mode: str, gpt_pre, tokens, labels, hp: dict, batch_size: int, lr: float, finetune_lr: float,
                 target_steps: int, max_epochs: int, patience: int, seed: int):
    """One tagger: ``scratch`` (fresh backbone, all trained), ``frozen``
    (pre-trained backbone fixed, head only; the embeddings are computed once)
    or ``finetuned`` (pre-trained backbone, all trained at ``finetune_lr``).
    Returns ``predict(tokens) -> class``."""
    torch = _torch()
    from torch import nn

    from ..nn.train import TrainConfig, fit, seed_everything

    if mode not in MODES:
        raise InputError("config", "omnijet.transfer.mode", f"unknown mode {mode!r} (known {list(MODES)})")
    seed_everything(seed)
    inp, mask, _ = (torch.as_tensor(a) for a in sequences(tokens, hp["n_codes"]))
    y = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    epochs = _steps_epochs(len(y), batch_size, target_steps, max_epochs)
    cfg = dict(epochs=epochs, batch_size=batch_size, seed=seed, patience=patience, desc=f"tag-{mode}")
    if mode == "frozen":
        gpt = copy.deepcopy(gpt_pre).eval()
        with torch.no_grad():
            emb = gpt.embed(inp, mask)
        head = _tagger_class()(gpt).head
        fit(head, lambda m, b: nn.functional.cross_entropy(m(b[0]), b[1]), [emb, y], TrainConfig(lr=lr, **cfg))

        def predict(t):
            i, m, _ = (torch.as_tensor(a) for a in sequences(t, hp["n_codes"]))
            with torch.no_grad():
                return head(gpt.embed(i, m)).argmax(1).numpy()
    else:
        gpt = make_gpt(**hp) if mode == "scratch" else copy.deepcopy(gpt_pre)
        tagger = _tagger_class()(gpt)
        fit(tagger, _ce_loss, [inp, mask, y], TrainConfig(lr=lr if mode == "scratch" else finetune_lr, **cfg))
        tagger.eval()

        def predict(t):
            i, m, _ = (torch.as_tensor(a) for a in sequences(t, hp["n_codes"]))
            with torch.no_grad():
                return tagger(i, m).argmax(1).numpy()
    return predict


def run_transfer(gpt_path, tokens_path, out, tag_classes, class_names, sizes, seeds, batch_size: int, lr: float,
                 finetune_lr: float, target_steps: int, max_epochs: int, patience: int, n_test: int,
                 seed: int) -> dict:
    """Accuracy vs training-set size for the three modes over ``seeds``;
    labelled jets come from the training split, the test jets from the
    held-out split. Writes ``out`` (JSON)."""
    from ..metrics import Stopwatch

    if len(tag_classes) != 2 or len(set(tag_classes)) != 2:
        raise InputError("config", "omnijet.transfer.tag_classes", f"need two distinct classes, got {tag_classes}")
    missing = [c for c in tag_classes if c not in class_names]
    if missing:
        raise InputError("config", "omnijet.transfer.tag_classes",
                         f"{missing[0]!r} is not among the pre-training classes {list(class_names)}")
    sizes = sorted(int(s) for s in sizes)
    if not sizes or sizes[0] < 10 or not seeds:
        raise InputError("config", "omnijet.transfer.sizes", f"need sizes >= 10 and >= 1 seed, got {sizes}, {seeds}")
    check_positive("config", **{"omnijet.transfer.lr": lr, "omnijet.transfer.finetune_lr": finetune_lr})
    gpt = load_gpt(gpt_path)
    hp = read_json(Path(gpt_path).with_suffix(".json"))
    d = load_tokens(tokens_path)
    lab_ids = [list(class_names).index(c) for c in tag_classes]

    def pick(idx):
        idx = idx[np.isin(d["labels"][idx], lab_ids)]
        return d["tokens"][idx], (d["labels"][idx] == lab_ids[1]).astype(np.int64)

    pool_t, pool_y = pick(d["train"])
    test_t, test_y = pick(d["test"])
    if sizes[-1] > len(pool_y):
        raise InputError("config", "omnijet.transfer.sizes",
                         f"largest size {sizes[-1]} exceeds the {len(pool_y)} labelled training jets")
    rng = np.random.default_rng(seed)
    te = rng.permutation(len(test_y))[:n_test]
    test_t, test_y = test_t[te], test_y[te]
    acc = {m: {str(s): [] for s in sizes} for m in MODES}
    with Stopwatch() as sw:
        for r in seeds:
            perm = np.random.default_rng(seed + 1000 * (r + 1)).permutation(len(pool_y))
            for s in sizes:
                sel = perm[:s]
                for m in MODES:
                    predict = train_tagger(m, gpt, pool_t[sel], pool_y[sel], hp, batch_size, lr, finetune_lr,
                                           target_steps, max_epochs, patience, seed + r)
                    acc[m][str(s)].append(float((predict(test_t) == test_y).mean()))
                log.info("size %d seed %d: %s", s, r, {m: acc[m][str(s)][-1] for m in MODES})
    res = {"tag_classes": list(tag_classes), "sizes": sizes, "seeds": list(seeds), "n_test": int(len(test_y)),
           "accuracy": acc,
           "mean": {m: {s: float(np.mean(v)) for s, v in acc[m].items()} for m in MODES},
           "std": {m: {s: float(np.std(v)) for s, v in acc[m].items()} for m in MODES},
           "cpu_s": round(sw.cpu, 2)}
    write_json(out, res)
    return res


# ----------------------------------------------------------------- published models (ONNX + card)
def _export_classes():
    from torch import nn

    class TokenizerExport(nn.Module):
        """Published VQ-VAE encoder: (B, 3) raw features -> token id (int64),
        the quantised latent (its codebook vector) and the decoded features;
        standardisation and un-standardisation inside."""

        def __init__(self, vq):
            super().__init__()
            self.vq = vq

        def forward(self, features):
            idx = self.vq.nearest(self.vq.encoder((features - self.vq.mean) / self.vq.std))
            zq = self.vq.codebook[idx]
            return idx, zq, self.vq.decoder(zq) * self.vq.std + self.vq.mean

    class DecoderExport(nn.Module):
        """Published VQ-VAE decoder: (B,) token ids -> (B, 3) raw features."""

        def __init__(self, vq):
            super().__init__()
            self.vq = vq

        def forward(self, token):
            return self.vq.decoder(self.vq.codebook[token]) * self.vq.std + self.vq.mean

    class BackboneExport(nn.Module):
        """Published GPT backbone: one network evaluation, token ids + mask
        (float, 1 = real slot) -> next-token logits at every slot."""

        def __init__(self, gpt):
            super().__init__()
            self.gpt = gpt

        def forward(self, tokens, mask):
            return self.gpt(tokens, mask > 0.5)

    return TokenizerExport, DecoderExport, BackboneExport


def export_modules(vq, gpt) -> dict:
    """The three published wrappers (eval mode) of a trained tokenizer and backbone."""
    tok, dec, bb = _export_classes()
    return {"tokenizer": tok(vq).eval(), "decoder": dec(vq).eval(), "backbone": bb(gpt).eval()}


def publish(tokenizer_path, tokens_path, tokenizer_json, gpt_path, generation_json, outdir, jets_file: str,
            source: str, n_val: int = 200, seed: int = 0) -> dict:
    """ONNX export + model card of the tokenizer (encoder), its decoder and
    the GPT backbone into ``outdir``/{tokenizer,decoder,backbone}, each
    checked in onnxruntime on ``n_val`` frozen held-out inputs. Returns one
    record per model; an exporter failure is recorded, not hidden."""
    from ..publish import publish_checked

    if n_val < 1:
        raise InputError("config", "n_val", f"must be >= 1, got {n_val}")
    outdir = Path(outdir)
    vq, gpt = load_tokenizer(tokenizer_path), load_gpt(gpt_path)
    tok_stats, gen = read_json(tokenizer_json), read_json(generation_json)
    for key, doc, src in (("test", tok_stats, tokenizer_json), ("w1", gen, generation_json)):
        if key not in doc:
            raise InputError(src, key, "field missing")
    d = load_tokens(tokens_path)
    rng = np.random.default_rng(seed)
    f, m = to_features(d["constituents"][d["test"]])
    f = f[m][rng.choice(int(m.sum()), min(n_val, int(m.sum())), replace=False)]
    test_tokens = d["tokens"][d["test"]][rng.permutation(len(d["test"]))[:n_val]]
    inp, mask, _ = sequences(test_tokens, gpt.n_codes)
    mods = export_modules(vq, gpt)
    k, n_max = vq.n_codes, gpt.n_max
    training = {"file": jets_file, "source": source, "classes": tok_stats["classes"],
                "n_train_jets": tok_stats["n_train"], "n_constituents": tok_stats["n_constituents"],
                "split": f"tokens.npz 'train' indices ({tokens_path}); validation inputs from the held-out split"}
    feat_spec = {"units": "log GeV, 1, rad", "features": list(FEATURE_NAMES),
                 "preprocessing": "colliderflow.studies.omnijet.to_features of one real constituent (pT > 0): "
                                  "(ln pT/GeV, eta - eta_jet, phi - phi_jet); standardised inside the model"}
    res_keys = ("usage_fraction", "perplexity", "pt_rel_std", "eta_std", "phi_std", "mass_rel_std")
    tok_metrics = {kk: tok_stats["test"][kk] for kk in res_keys if kk in tok_stats["test"]}
    out = {}
    out["tokenizer"] = publish_checked(
        mods["tokenizer"], {"features": f}, outdir / "tokenizer", name="omnijet_vqvae_tokenizer",
        description=(f"Per-constituent VQ-VAE tokenizer (MLP encoder, {k}-code codebook; OmniJet-alpha-style, "
                     f"{PAPER}; trained by colliderflow): constituent features -> token id."),
        input_specs={"features": feat_spec},
        outputs={"token": {"description": f"token id 0..{k - 1} (int64): nearest codebook vector (argmin of "
                                          "the Euclidean distance) to the encoder output"},
                 "latent": {"description": "the quantised latent (codebook vector of the token)"},
                 "reconstruction": {"description": "decoded features of the token (ln pT/GeV, eta_rel, phi_rel)"}},
        metrics={**tok_metrics, "note": "held-out split; resolutions of encode -> nearest code -> decode"},
        training_data=training)
    out["decoder"] = publish_checked(
        mods["decoder"], {"token": rng.permutation(k)[:n_val]}, outdir / "decoder",
        name="omnijet_vqvae_decoder",
        description=f"Decoder of the VQ-VAE tokenizer ({PAPER}-style): token id -> constituent features.",
        input_specs={"token": {"units": "1", "preprocessing": f"token id 0..{k - 1} from the tokenizer or the "
                                                              "backbone (not the start/stop/pad ids)"}},
        outputs={"features": {"description": "(ln pT/GeV, eta_rel, phi_rel); invert with "
                                             "colliderflow.studies.omnijet.to_constituents"}},
        metrics=tok_metrics, training_data=training)
    out["backbone"] = publish_checked(
        mods["backbone"], {"tokens": inp, "mask": mask.astype(np.float32)}, outdir / "backbone",
        name="omnijet_gpt_backbone",
        description=(f"GPT-style causal transformer over VQ-VAE tokens (OmniJet-alpha-style, {PAPER}; trained by "
                     "colliderflow): next-token logits at every slot; generation samples the last real slot's "
                     "logits and appends the token (sampling loop not part of the graph)."),
        input_specs={"tokens": {"units": "1", "length": n_max + 1,
                                "preprocessing": f"colliderflow.studies.omnijet.sequences: [start={k}, t1..tn, "
                                                 f"pad={k + 1}..], sequence length fixed to {n_max + 1}"},
                     "mask": {"units": "1", "preprocessing": "1.0 for start and real tokens, 0.0 for padding "
                                                            "(sequences' mask as float)"}},
        outputs={"logits": {"description": f"next-token logits over the {k} codes and stop (= {k}) at each slot "
                                           "(causal: slot i sees slots <= i)"}},
        metrics={"best_val_loss": gen.get("gpt_best_val_loss"),
                 "w1_generated_vs_heldout": gen["w1"]["generated"],
                 "w1_unigram_baseline_vs_heldout": gen["w1"].get("unigram")}, training_data=training)
    return out


# ----------------------------------------------------------------- verdict, figures, metrics
def verdict(gen: dict, tr: dict) -> dict:
    """The stated rule: the generator's W1 is below the unigram baseline's
    for multiplicity and jet mass (and below the data-multiplicity baseline's
    for mass), and the fine-tuned backbone's mean accuracy is >= training
    from scratch at the smallest training size."""
    w = gen["w1"]
    small = str(tr["sizes"][0])
    checks = {
        "generated_multiplicity_below_unigram": w["generated"]["multiplicity"] < w["unigram"]["multiplicity"],
        "generated_mass_below_unigram": w["generated"]["mass"] < w["unigram"]["mass"],
        "generated_mass_below_iid_data_multiplicity": w["generated"]["mass"] < w["iid_data_multiplicity"]["mass"],
        "finetuned_ge_scratch_at_smallest": tr["mean"]["finetuned"][small] >= tr["mean"]["scratch"][small],
    }
    gain = tr["mean"]["finetuned"][small] - tr["mean"]["scratch"][small]
    return {"checks": checks, "holds_generation": all(v for k, v in checks.items() if k.startswith("generated")),
            "holds_transfer": checks["finetuned_ge_scratch_at_smallest"], "holds": all(checks.values()),
            "finetune_gain_smallest": gain,
            "rule": "holds = W1(generated) < W1(unigram baseline) for multiplicity and jet mass, "
                    "W1(generated mass) < W1(i.i.d. tokens with data multiplicity), and mean fine-tuned accuracy "
                    ">= mean scratch accuracy at the smallest training size (no tolerance in the claim's favour)"}


_STYLE = {"real": dict(color="black", histtype="step", lw=2, label="held-out jets"),
          "generated": dict(color="tab:red", histtype="step", lw=2, label="OmniJet-style generated"),
          "reconstructed": dict(color="tab:blue", histtype="step", lw=1.5, ls="--", label="tokenized (VQ-VAE)"),
          "unigram": dict(color="tab:gray", histtype="step", lw=1.5, ls=":", label="baseline: i.i.d. tokens")}


def plot_generation(samples: dict, gen: dict, path, rlabel: str = "") -> None:
    """Three panels like the paper's generation figure: multiplicity, jet
    mass, constituent pT; held-out vs generated vs tokenized vs baseline."""
    import matplotlib.pyplot as plt

    from .. import plotting

    plotting.style()
    obs = {k: observables(v) for k, v in samples.items() if k in _STYLE}
    fig, axes = plt.subplots(1, 3, figsize=(25, 7.5))
    fig.subplots_adjust(wspace=0.32)
    n_max = samples["real"].shape[1]
    allpt = np.concatenate([o["constituent_pt"] for o in obs.values()])
    bins = {"multiplicity": np.arange(-0.5, n_max + 1.5),
            "mass": np.linspace(0, np.percentile(obs["real"]["mass"], 99.5) * 1.2, 40),
            "constituent_pt": np.geomspace(max(allpt.min(), 0.5), allpt.max() * 1.05, 40)}
    xl = {"multiplicity": "constituent multiplicity", "mass": "jet mass [GeV]",
          "constituent_pt": "constituent $p_T$ [GeV]"}
    for ax, o in zip(axes, OBSERVABLES):
        for k, st in _STYLE.items():
            lab = st["label"] + ("" if k == "real" else f" (W1 {gen['w1'][k][o]:.3g})")
            ax.hist(obs[k][o], bins=bins[o], density=True, **{**st, "label": lab})
        ax.set_xlabel(xl[o])
        ax.set_ylabel("normalized")
        if o == "constituent_pt":
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_ylim(top=ax.get_ylim()[1] * (30 if o == "constituent_pt" else 1.45))
        ax.legend(fontsize=12, loc="upper right", title=rlabel if o == "multiplicity" else None, title_fontsize=12)
        plotting.label(ax)
    plotting.save(fig, path)


def plot_transfer(tr: dict, path, rlabel: str = "") -> None:
    """Accuracy vs number of labelled jets for scratch / frozen / fine-tuned."""
    import matplotlib.pyplot as plt

    from .. import plotting

    plotting.style()
    fig, ax = plt.subplots(figsize=(9, 7))
    x = np.array(tr["sizes"])
    for m, c in zip(MODES, ("tab:gray", "tab:blue", "tab:red")):
        mu = np.array([tr["mean"][m][str(s)] for s in x])
        sd = np.array([tr["std"][m][str(s)] for s in x])
        ax.errorbar(x, mu, yerr=sd, marker="o", capsize=4, color=c,
                    label={"scratch": "from scratch", "frozen": "frozen backbone (head only)",
                           "finetuned": "fine-tuned backbone"}[m])
    ax.set_xscale("log")
    ax.set_xlabel("labelled training jets")
    ax.set_ylabel(f"test accuracy ({tr['tag_classes'][1]} vs {tr['tag_classes'][0]})")
    ax.legend(fontsize=14, loc="lower right")
    plotting.label(ax, rlabel=rlabel)
    plotting.save(fig, path)


def report(tokenizer_json, generation_json, samples_npz, transfer_json, outdir, tier: str,
           publish_json=None) -> dict:
    """Figures and metrics.json from the step outputs (with the record of the
    published models under ``published`` when ``publish_json`` is given)."""
    from ..metrics import write_metrics

    outdir = Path(outdir)
    tok, gen, tr = read_json(tokenizer_json), read_json(generation_json), read_json(transfer_json)
    published = {} if publish_json is None else {"published": read_json(publish_json)}
    for key, doc, src in (("w1", gen, generation_json), ("mean", tr, transfer_json), ("test", tok, tokenizer_json)):
        if key not in doc:
            raise InputError(src, key, "field missing")
    samples_npz = Path(samples_npz)
    if not samples_npz.exists():
        raise InputError(samples_npz, None, "file does not exist")
    with np.load(samples_npz) as z:
        samples = {k: z[k] for k in _STYLE}
    plot_generation(samples, gen, outdir / "generation.png", rlabel=f"{tier} tier")
    plot_transfer(tr, outdir / "transfer.png", rlabel=f"{tier} tier")
    v = verdict(gen, tr)
    w = gen["w1"]
    ratio = w["generated"]["mass"] / max(w["unigram"]["mass"], 1e-12)
    return write_metrics(
        outdir / "metrics.json", study="omnijet", paper=PAPER,
        title="OmniJet-alpha: VQ-VAE jet tokens, autoregressive generation and transfer to tagging",
        key_metric={"name": "W1(jet mass) generated / unigram baseline", "value": round(ratio, 4)},
        claim="a GPT-style backbone trained to generate tokenized jets reproduces multiplicity and jet mass "
              "(closer than a trivial token baseline) and transfers to tagging: fine-tuning the generative "
              "backbone beats training from scratch with few labelled jets",
        holds=v["holds"], tier=tier,
        metrics={"tokenizer": tok, "generation": gen, "transfer": tr, "verdict": v, **published},
        reduced_vs_paper=REDUCED)
