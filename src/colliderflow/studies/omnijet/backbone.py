"""OmniJet-alpha step 2: the GPT-style backbone over jet tokens, generation
and its comparison with held-out jets and trivial baselines."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...errors import InputError
from ...io import atomic_path, write_json
from ...metrics import Stopwatch
from ...nn.jets import JetTransformer
from ...nn.train import History, TrainConfig, fit, save_model, seed_everything
from .data import observables, w1
from .tokenizer import _load, decode_tokens, load_tokenizer, load_tokens

log = logging.getLogger(__name__)


class JetGPT(nn.Module):
    """GPT-style jet generator over VQ-VAE tokens.

    Inputs (B, L) token ids: codes 0..K-1, ``start`` = K, ``pad`` = K+1;
    token + position embeddings are the input features of a
    :class:`JetTransformer` run with ``causal=True``; its ``head`` maps each
    slot to K+1 logits (the K codes and ``stop`` = K).
    """

    def __init__(self, n_codes: int, n_max: int, dim: int = 48, heads: int = 4, layers: int = 2,
                 emb_dim: int = 32) -> None:
        super().__init__()
        self.n_codes, self.n_max = n_codes, n_max
        self.start, self.pad, self.stop = n_codes, n_codes + 1, n_codes
        self.tok = nn.Embedding(n_codes + 2, emb_dim)
        self.pos = nn.Embedding(n_max + 1, emb_dim)
        self.backbone = JetTransformer(emb_dim, dim=dim, heads=heads, layers=layers, n_out=n_codes + 1)
        self.dim = dim

    def hidden(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(tokens.shape[1], device=tokens.device)
        return self.backbone.encode(self.tok(tokens) + self.pos(pos)[None], mask, causal=True)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.backbone.head(self.hidden(tokens, mask))

    def embed(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.float()[..., None]
        return (self.hidden(tokens, mask) * m).sum(1) / m.sum(1).clamp(min=1.0)


def make_gpt(**hp) -> JetGPT:
    return JetGPT(**hp)


def sequences(tokens: np.ndarray, n_codes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def gpt_loss(model: JetGPT, batch: Sequence[torch.Tensor]) -> torch.Tensor:
    inp, mask, tgt = batch
    logits = model(inp, mask)
    return F.cross_entropy(logits[mask], tgt[mask])


def train_gpt(tokens: np.ndarray, n_codes: int, dim: int, heads: int, layers: int, emb_dim: int, epochs: int,
              batch_size: int, lr: float, patience: int, seed: int, model: JetGPT | None = None,
              bf16: bool = False) -> tuple[JetGPT, dict, History]:
    """Next-token training on (n, N) code sequences; returns (model, hparams, history). ``bf16``: autocast
    on CUDA (:class:`colliderflow.nn.train.TrainConfig`)."""
    if dim % heads:
        raise InputError("config", "studies.omnijet.backbone.heads", f"dim {dim} is not divisible by {heads} heads")
    hp = dict(n_codes=int(n_codes), n_max=int(tokens.shape[1]), dim=int(dim), heads=int(heads), layers=int(layers),
              emb_dim=int(emb_dim))
    seed_everything(seed)
    model = model or make_gpt(**hp)
    inp, mask, tgt = (torch.as_tensor(a) for a in sequences(tokens, n_codes))
    hist = fit(model, gpt_loss, [inp, mask, tgt], TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr,
                                                              seed=seed, patience=patience, desc="gpt", bf16=bf16))
    return model, hp, hist


def generate(model: JetGPT, n_jets: int, seed: int, batch_size: int = 1000, temperature: float = 1.0) -> np.ndarray:
    """Sample ``n_jets`` token sequences: start token, then one token at a
    time until the stop token or ``model.n_max`` tokens. Returns (n, n_max)
    codes with -1 after the stop. The network runs on the configured device
    (:func:`colliderflow.nn.device.select`); the draws come from a CPU
    generator seeded with ``seed``, so the samples do not depend on it beyond
    the network's float rounding."""
    from ...nn.device import select

    gen = torch.Generator().manual_seed(seed)
    model.eval()
    dev, home = select(), next(model.parameters(), torch.empty(0)).device
    model.to(dev)
    big_n = model.n_max
    out = np.full((n_jets, big_n), -1, dtype=np.int64)
    try:
        with torch.no_grad():
            for lo in range(0, n_jets, batch_size):
                b = min(batch_size, n_jets - lo)
                seq = torch.full((b, big_n + 1), model.pad, dtype=torch.long, device=dev)
                seq[:, 0] = model.start
                alive = torch.ones(b, dtype=torch.bool)
                for step in range(big_n):
                    logits = model(seq[:, :step + 1], torch.ones(b, step + 1, dtype=torch.bool, device=dev))[:, -1]
                    probs = torch.softmax(logits / temperature, -1).cpu()  # no copy on the CPU
                    nxt = torch.multinomial(probs, 1, generator=gen)[:, 0]
                    alive &= nxt != model.stop
                    if not alive.any():
                        break
                    seq[alive.to(dev), step + 1] = nxt[alive].to(dev)
                toks = seq[:, 1:].cpu().numpy()
                out[lo:lo + b] = np.where(toks == model.pad, -1, toks)
    finally:
        model.to(home)
    return out


def unigram_baseline(tokens: np.ndarray, n_codes: int, n_jets: int, seed: int, data_multiplicity: bool) -> np.ndarray:
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


def run_backbone(tokenizer_path: str | Path, tokens_path: str | Path, model_path: str | Path,
                 samples_path: str | Path, stats_path: str | Path, dim: int, heads: int, layers: int, emb_dim: int,
                 epochs: int, batch_size: int, lr: float, patience: int, n_generate: int, temperature: float,
                 seed: int, bf16: bool = False) -> dict:
    """Train the GPT on the training-split tokens, sample jets, decode them
    and compare with held-out jets, the baselines and the floors. Writes the
    model (``model_path``, gpt.pt + .json), the samples (``samples_path``) and
    the generation statistics (``stats_path``)."""
    vq = load_tokenizer(tokenizer_path)
    d = load_tokens(tokens_path)
    tok_tr, tok_te = d["tokens"][d["train"]], d["tokens"][d["test"]]
    with Stopwatch() as sw:
        model, hp, hist = train_gpt(tok_tr, vq.n_codes, dim, heads, layers, emb_dim, epochs, batch_size, lr,
                                    patience, seed, bf16=bf16)
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
    save_model(model, model_path, hp)
    with atomic_path(samples_path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, generated_tokens=gen, **samples)
    write_json(stats_path, res)
    log.info("W1: %s", dist)
    return res


def load_gpt(path: str | Path) -> JetGPT:
    return _load(path, make_gpt)
