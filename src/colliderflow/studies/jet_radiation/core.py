"""Extrapolating jet radiation with autoregressive transformers (Butter,
Charton, Marino Villadamigo, Ore, Plehn, Spinner, arXiv:2412.12074) on the
staircase Z + jets toy (:mod:`colliderflow.data.jet_radiation_toy`).

The generator factorises an event with n extra jets as

    p(n, x_1..x_n) = prod_{k<n} [1 - p_stop(h_k)] p_kin(x_{k+1} | h_k) * p_stop(h_n),

where h_k is the causal-transformer state after the Z (start token) and k
jets (:class:`colliderflow.nn.jets.JetTransformer` with ``causal=True``; the
jets carry no position label, as in the paper, so one splitting rule serves
every multiplicity). Per step one linear head gives the stop logit and a
Gaussian mixture over the next jet's (log(pT - pT_min), eta, acoplanarity
with the previous object), standardised.

Training uses events with at most ``n_train_max`` (2) extra jets. The
extrapolation to n_train_max + 1 (3) jets is compared for

* ``plain``: the full likelihood above. The stop target at the largest
  training multiplicity is 1 for every event, so the network learns to stop
  there.
* ``modified``: the paper's modified likelihood loss: the stop term of events
  at the largest training multiplicity is left out of the loss (they are
  censored by the multiplicity cut: that they stop there is an artefact of
  the selection, not physics), so the stop probability after n_train_max
  jets is the network's own extrapolation from the lower multiplicities. No
  multiplicity ratio is handed to the network.
* ``bootstrap``: starting from the modified network, in each round the
  network generates as many events as there are training events, freely
  (its own stop probability at every step decides the multiplicity), and
  those with at least n_train_max jets (the n_train_max + 1-th jet from its
  kinematic head) join the training data, where they carry the stop target
  at n_train_max that the censored training events lack (only their terms
  from n_train_max jets on count: the lower multiplicities stay the real
  data's, else the self-generated continuations would drift); the network is
  trained further and the next round regenerates them (the paper refreshes a
  buffer of generated events during training). How many (n_train_max+1)-jet
  events enter is set by the network's own stop probability, never by a
  measured ratio.

Every variant is trained over several seeds (``seeds``); the verdict pairs
the variants seed by seed.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ... import health
from ...data import jet_radiation_toy as toy
from ...errors import InputError
from ...nn.jets import JetTransformer
from ...nn.train import TrainConfig, fit, seed_everything
from . import VARIANTS, Config

log = logging.getLogger(__name__)

N_KIN = 3  # (log(pT - pT_min), eta, acoplanarity)


# ------------------------------------------------------------------ data
def split(events: dict, train_fraction: float) -> tuple[dict, dict]:
    """Deterministic split of the truth sample: the first ``train_fraction``
    for training (before the multiplicity cut), the rest as truth reference."""
    n = int(round(train_fraction * len(events["n_jets"])))
    first = {k: events[k][:n] for k in ("jets", "n_jets")}
    rest = {k: events[k][n:] for k in ("jets", "n_jets")}
    return first, rest


def training_events(events: dict, n_train_max: int) -> dict:
    """Events with at most ``n_train_max`` extra jets, jets cut to that many slots."""
    keep = events["n_jets"] <= n_train_max
    return {"jets": events["jets"][keep, :n_train_max], "n_jets": events["n_jets"][keep]}


def staircase_ratio(n_jets: np.ndarray, n_train_max: int) -> tuple[float, float]:
    """Pooled staircase ratio R_hat = sum_{n>=1} N_n / sum_{n<n_max} N_n over the
    training multiplicities 0..n_train_max, with its Poisson error."""
    c = toy.multiplicity_counts(n_jets, n_train_max).astype(float)
    a, b = c[1:].sum(), c[:-1].sum()
    if a <= 0 or b <= 0:
        raise InputError(None, "n_jets", "training sample needs events at several multiplicities")
    r = a / b
    # dR/dN_i: numerator holds n >= 1, denominator n <= n_max - 1
    grad = np.array([(i >= 1) / b - (i <= n_train_max - 1) * a / b**2 for i in range(n_train_max + 1)])
    return float(r), float(np.sqrt(np.sum(grad**2 * c)))


class Preprocessor:
    """Physical jets (pT, eta, phi) <-> standardised model features
    (log(pT - pT_min), eta, acoplanarity phi_k - phi_{k-1} - pi), phi_0 = 0 (Z)."""

    def __init__(self, pt_min: float, mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> None:
        self.pt_min = float(pt_min)
        self.mean = None if mean is None else np.asarray(mean, dtype=float)
        self.std = None if std is None else np.asarray(std, dtype=float)

    def raw(self, jets: np.ndarray, n_jets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        jets = np.asarray(jets, dtype=float)
        real = np.arange(jets.shape[1])[None, :] < np.asarray(n_jets)[:, None]
        excess = np.where(real, jets[..., 0] - self.pt_min, 1.0)
        if np.any(excess <= 0):
            raise InputError(None, "jets", f"jet pT must exceed pt_min = {self.pt_min} GeV")
        prev = np.concatenate([np.zeros((len(jets), 1)), jets[:, :-1, 2]], 1)
        f = np.stack([np.log(excess), jets[..., 1], toy.wrap(jets[..., 2] - prev - np.pi)], -1)
        return f * real[..., None], real

    def fit(self, jets: np.ndarray, n_jets: np.ndarray) -> "Preprocessor":
        f, real = self.raw(jets, n_jets)
        self.mean, self.std = f[real].mean(0), f[real].std(0) + 1e-6
        return self

    def forward(self, jets: np.ndarray, n_jets: np.ndarray) -> np.ndarray:
        f, real = self.raw(jets, n_jets)
        return (((f - self.mean) / self.std) * real[..., None]).astype(np.float32)

    def inverse(self, feats: np.ndarray, n_jets: np.ndarray) -> np.ndarray:
        f = np.asarray(feats, dtype=float) * self.std + self.mean
        real = np.arange(f.shape[1])[None, :] < np.asarray(n_jets)[:, None]
        pt = self.pt_min + np.exp(np.clip(f[..., 0], None, np.log(5000.0)))
        phi = toy.wrap(np.cumsum(f[..., 2] + np.pi, axis=1))
        return (np.stack([pt, f[..., 1], phi], -1) * real[..., None]).astype(np.float32)

    def state(self) -> dict:
        return {"pt_min": self.pt_min, "mean": self.mean.tolist(), "std": self.std.tolist()}


# ------------------------------------------------------------------ model
class RadiationGPT(nn.Module):
    """Causal JetTransformer over [Z, jet_1, ..., jet_n]; the per-token head
    gives the stop logit and a diagonal Gaussian mixture for the next jet."""

    def __init__(self, dim: int = 32, heads: int = 4, layers: int = 2, n_gauss: int = 4) -> None:
        super().__init__()
        self.n_gauss = n_gauss
        self.backbone = JetTransformer(N_KIN + 1, dim=dim, heads=heads, layers=layers,
                                       n_out=1 + n_gauss * (1 + 2 * N_KIN))

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(B, S, 3) features -> (B, S + 1, 4) tokens with the start (Z) token first."""
        b = x.shape[0]
        start = torch.zeros(b, 1, N_KIN + 1, dtype=x.dtype, device=x.device)
        start[..., -1] = 1.0
        return torch.cat([start, torch.cat([x, torch.zeros_like(x[..., :1])], -1)], 1)

    def step(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Stop logits (B, S + 1) and mixture parameters (B, S + 1, ...) of the
        states after 0..S jets, given the jets (B, S, 3) and their mask (B, S)
        (true for a real jet; real jets first, padding after)."""
        tokens = self.tokens(x)
        # the start (Z) token is always real
        real = torch.cat([torch.ones_like(tokens[:, :1, 0], dtype=torch.bool), mask.bool()], 1)
        out = self.backbone.head(self.backbone.encode(tokens, real, causal=True))
        return out[..., 0], out[..., 1:]

    def heads(self, x: torch.Tensor, n: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`step` for events with ``n`` real jets; slots beyond n are padding."""
        return self.step(x, torch.arange(x.shape[1], device=x.device)[None, :] < n[:, None])

    def mixture_params(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Head outputs -> (component logits (..., K), means (..., K, 3), widths (..., K, 3))."""
        k, d = self.n_gauss, N_KIN
        logits = params[..., :k]
        mu = params[..., k:k + k * d].unflatten(-1, (k, d))
        sigma = F.softplus(params[..., k + k * d:].unflatten(-1, (k, d))) + 1e-3
        return logits, mu, sigma

    def mixture(self, params: torch.Tensor) -> torch.distributions.MixtureSameFamily:
        logits, mu, sigma = self.mixture_params(params)
        comp = torch.distributions.Independent(torch.distributions.Normal(mu, sigma), 1)
        return torch.distributions.MixtureSameFamily(torch.distributions.Categorical(logits=logits), comp)


class StepExport(nn.Module):
    """What is published: one evaluation of the generator's step network,
    ``forward(jets (B, S, 3), mask (B, S) float) -> (stop_logit (B, S + 1),
    mixture_logits (B, S + 1, K), mixture_mean (B, S + 1, K, 3),
    mixture_sigma (B, S + 1, K, 3))``; position k is the state after the Z and
    k jets. The sampling loop (:func:`sample`) stays outside."""

    def __init__(self, model: RadiationGPT) -> None:
        super().__init__()
        self.model = model

    def forward(self, jets: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        stop_logit, params = self.model.step(jets, mask > 0.5)
        return (stop_logit, *self.model.mixture_params(params))


def nll(model: RadiationGPT, batch: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean negative log-likelihood per event. ``batch`` = (features (B, S, 3),
    n (B,), stop target at the last jet (B,)[, weight of that stop term (B,)
    [, first state whose terms count (B,)]]): target 1 and weight 1 for the
    full likelihood; weight 0 leaves the stop after the last jet out (a
    censored event: the modified loss); a first state k > 0 leaves out the
    stop decisions and jets that states before k predict (the bootstrap's
    generated events teach only what lies beyond the training multiplicities)."""
    x, n, t_last = batch[:3]
    w_last = batch[3] if len(batch) > 3 else torch.ones_like(t_last)
    first = batch[4].long() if len(batch) > 4 else torch.zeros_like(n).long()
    n = n.long()
    s = x.shape[1]
    stop_logit, params = model.heads(x, n)
    kin = model.mixture(params[:, :s]).log_prob(x)  # state k predicts jet k + 1
    slot = torch.arange(s + 1, device=x.device)[None, :]
    on = slot >= first[:, None]
    kin = (kin * ((slot[:, :s] < n[:, None]) & on[:, :s])).sum(1)
    last = slot == n[:, None]
    target = torch.where(last, t_last[:, None].to(x.dtype), torch.zeros_like(stop_logit))
    weight = torch.where(last, w_last[:, None].to(x.dtype), (slot < n[:, None]).to(x.dtype)) * on
    bce = F.binary_cross_entropy_with_logits(stop_logit, target, reduction="none")
    return ((bce * weight).sum(1) - kin).mean()


@torch.no_grad()
def sample(model: RadiationGPT, n_events: int, max_jets: int, no_stop_at: Sequence[int] = (), seed: int = 0,
           batch_size: int = 20000) -> tuple[np.ndarray, np.ndarray]:
    """Generate ``n_events`` events autoregressively: standardised features
    (N, max_jets, 3) zero-padded and the multiplicities (N,). The stop decision
    is skipped after k jets for k in ``no_stop_at``; events reaching
    ``max_jets`` stop there."""
    model.eval()
    torch.manual_seed(seed)
    dev = next(model.parameters()).device  # the events are generated where the model is
    feats = np.zeros((n_events, max_jets, N_KIN), dtype=np.float32)
    n_out = np.zeros(n_events, dtype=np.int64)
    for lo in range(0, n_events, batch_size):
        m = min(batch_size, n_events - lo)
        x = torch.zeros(m, 0, N_KIN, device=dev)
        idx = torch.arange(m)
        for k in range(max_jets + 1):
            stop_logit, params = model.heads(x, torch.full((len(idx),), k, device=dev))
            stop = torch.rand(len(idx), device=dev) < torch.sigmoid(stop_logit[:, k])
            if k in no_stop_at:
                stop[:] = False
            if k == max_jets:
                stop[:] = True
            stop_host = stop.cpu()
            done = idx[stop_host].numpy()
            n_out[lo + done] = k
            if k:
                feats[lo + done, :k] = x[stop].cpu().numpy()
            keep = ~stop
            if not stop_host.logical_not().any():
                break
            nxt = model.mixture(params[keep, k]).sample()
            x, idx = torch.cat([x[keep], nxt[:, None]], 1), idx[~stop_host]
    return feats, n_out


def sample_on_device(model: RadiationGPT, *args: Any, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sample` on the selected device (:func:`colliderflow.nn.device.select`); the model is handed
    back where it was (the CPU, where it is saved)."""
    from ...nn.device import select

    home = next(model.parameters()).device
    model.to(select())
    try:
        return sample(model, *args, **kwargs)
    finally:
        model.to(home)


# ------------------------------------------------------------------ training
def build_model(hp: dict) -> RadiationGPT:
    return RadiationGPT(dim=hp["dim"], heads=hp["heads"], layers=hp["layers"], n_gauss=hp["n_gauss"])


def _train_cfg(hp: dict, seed: int, epochs: int, desc: str) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=hp["batch_size"], lr=hp["lr"], patience=hp["patience"],
                       seed=seed, desc=desc)


def _pad(feats: np.ndarray, slots: int):
    out = np.zeros((len(feats), slots, N_KIN), dtype=np.float32)
    out[:, :feats.shape[1]] = feats
    return out


#: a bootstrap round may end this far (nats per event) above its starting validation loss and still count as trained
BOOTSTRAP_VAL_TOLERANCE = 0.05


def _bootstrap_health(model: nn.Module, before: list, hist: Any, name: str) -> None:
    """A bootstrap round fine-tunes the trained modified network on a mix of
    training and its own generated events: it starts converged, so its
    validation loss need not fall (the shared loop's criterion would call
    every round untrained). It trained if the optimiser moved the weights and
    the validation loss stayed within :data:`BOOTSTRAP_VAL_TOLERANCE` of its
    start (lr 0 or a diverging round fail). Replaces the loop's record."""
    moved = any(bool((p.detach().cpu() != b.cpu()).any()) for p, b in zip(model.parameters(), before))
    best = hist.best_val if hist.val_loss else hist.initial_val
    ok = moved and hist.steps > 0 and best <= hist.initial_val + BOOTSTRAP_VAL_TOLERANCE
    rec = health.record(hist.initial_val, best, hist.val_loss[-1] if hist.val_loss else hist.initial_val, hist.steps,
                        trained=ok, criterion="bootstrap round (fine-tune of the trained modified network on its own "
                        f"generated events): the weights move and the validation loss stays within "
                        f"{BOOTSTRAP_VAL_TOLERANCE:g} of its start")
    rec["device"] = hist.device
    if health.RECORDS and health.RECORDS[-1][0] == name:
        health.RECORDS[-1] = (name, rec)
    else:
        health.add(name, rec)


def train_variant(train: dict, variant: str, hp: dict, seed: int = 0, init: RadiationGPT | None = None,
                  pre: Preprocessor | None = None) -> tuple[RadiationGPT, Preprocessor, dict]:
    """Train one variant on the training events (multiplicity <= n_train_max).

    ``bootstrap`` starts from ``init`` (the modified network) and runs
    ``hp["bootstrap_rounds"]`` rounds of generate-and-train. Returns the
    model, the preprocessing and a JSON-able training record."""
    if variant not in VARIANTS:
        raise InputError(None, "variant", f"unknown variant '{variant}' (choose from {VARIANTS})")
    n_max = int(hp["n_train_max"])
    if train["n_jets"].max() > n_max:
        raise InputError(None, "n_jets", f"training events must have at most {n_max} jets")
    seed_everything(seed)
    pre = pre or Preprocessor(hp["pt_min"]).fit(train["jets"], train["n_jets"])
    x = pre.forward(train["jets"], train["n_jets"])
    n = train["n_jets"]
    r_hat, r_err = staircase_ratio(n, n_max)
    # R_hat is recorded for the report only: no variant sees it
    record = {"variant": variant, "seed": seed, "n_train": int(len(n)),
              "train_counts": toy.multiplicity_counts(n, n_max),
              "staircase_ratio_train": r_hat, "staircase_ratio_train_err": r_err}
    t_last = np.ones(len(n), dtype=np.float32)
    w_last = np.ones(len(n), dtype=np.float32)
    if variant != "plain":
        w_last[n == n_max] = 0.0  # censored by the multiplicity cut: no stop term
        record["censored_events"] = int((n == n_max).sum())
    if variant != "bootstrap":
        model = build_model(hp)
        hist = fit(model, nll, [torch.from_numpy(x), torch.from_numpy(n), torch.from_numpy(t_last),
                                torch.from_numpy(w_last)],
                   _train_cfg(hp, seed, hp["epochs"], f"jet_radiation {variant}"))
        record["history"] = hist.as_dict()
        return model, pre, record
    if init is None:
        raise InputError(None, "init", "the bootstrap variant starts from the trained modified network")
    model = copy.deepcopy(init)
    xs = _pad(x, n_max + 1)
    rounds = []
    for r in range(int(hp["bootstrap_rounds"])):
        # the network's own events: its stop probability decides how many reach n_max and n_max + 1 jets
        f, m = sample_on_device(model, len(n), n_max + 1, seed=seed + 1000 * (r + 1))
        keep = m >= n_max
        gen, gm = f[keep], m[keep]
        tg = np.ones(len(gm), dtype=np.float32)
        wg = (gm == n_max).astype(np.float32)  # at n_max + 1 the generation cap stopped it: censored
        xa, na = np.concatenate([xs, gen]), np.concatenate([n, gm])
        ta, wa = np.concatenate([t_last, tg]), np.concatenate([w_last, wg])
        fa = np.concatenate([np.zeros(len(n), np.int64), np.full(len(gm), n_max, np.int64)])
        before = [p.detach().clone() for p in model.parameters()]
        hist = fit(model, nll, [torch.from_numpy(xa), torch.from_numpy(na), torch.from_numpy(ta), torch.from_numpy(wa),
                                torch.from_numpy(fa)],
                   _train_cfg(hp, seed + r + 1, hp["bootstrap_epochs"], f"jet_radiation bootstrap {r}"))
        _bootstrap_health(model, before, hist, f"jet_radiation bootstrap {r}")
        n_hi, n_lo = int((gm == n_max + 1).sum()), int((gm == n_max).sum())
        rounds.append({"round": r, "generated_events": int(len(m)), f"generated_{n_max}_jet": n_lo,
                       f"generated_{n_max + 1}_jet": n_hi, "best_val": hist.best_val,
                       "epochs": len(hist.val_loss)})
        log.info("bootstrap round %d: %d + %d generated %d/%d-jet events added", r, n_lo, n_hi, n_max, n_max + 1)
    record.update(rounds=rounds)
    return model, pre, record


def generate_events(model: RadiationGPT, pre: Preprocessor, n_events: int, max_jets: int, seed: int = 0,
                    no_stop_at: Sequence[int] = ()) -> dict:
    """Generated events in physical units (the toy's on-disk layout)."""
    feats, n = sample_on_device(model, n_events, max_jets, no_stop_at=no_stop_at, seed=seed)
    return {"jets": pre.inverse(feats, n), "n_jets": n}


# ------------------------------------------------------------------ analysis
def rate_ratio(n_jets: np.ndarray, k: int) -> tuple[float, float]:
    """sigma(k) / sigma(k - 1) from exclusive counts, with its Poisson error
    (for zero events above: the 68% upper limit 1.14 / N_{k-1} as the error)."""
    n_hi = float(np.sum(np.asarray(n_jets) == k))
    n_lo = float(np.sum(np.asarray(n_jets) == k - 1))
    if n_lo == 0:
        return float("nan"), float("nan")
    r = n_hi / n_lo
    err = r * math.sqrt(1 / n_lo + 1 / n_hi) if n_hi > 0 else 1.14 / n_lo
    return r, err


def _kth_jet(s: dict, k: int) -> np.ndarray:
    return s["jets"][s["n_jets"] == k, k - 1]


def extrapolation_metrics(truth: dict, samples: dict, forced: dict, ratio: float, n_train_max: int,
                          min_events: int = 200) -> dict:
    """Rates and kinematics of the first unseen multiplicity k = n_train_max + 1
    for every variant and training seed vs truth.

    ``samples[v]`` / ``forced[v]``: a list over training seeds of freely
    generated events and of events whose stop after n_train_max jets was
    skipped (used for the k-th jet's kinematics where a seed generates fewer
    than ``min_events`` k-jet events). Per variant every number is a list
    over the seeds. ``naive_kinematics``: the W1 distance of the truth's
    (k-1)-th jet (of (k-1)-jet events) to its k-th jet, the naive guess that
    the unseen jet looks like the last seen one."""
    from scipy.stats import wasserstein_distance

    k = n_train_max + 1
    tj = _kth_jet(truth, k)
    r_truth, r_truth_err = rate_ratio(truth["n_jets"], k)
    prev = _kth_jet(truth, k - 1)
    out = {"k": k, "ratio_true": ratio, "truth": {"rate_ratio": r_truth, "rate_ratio_err": r_truth_err,
                                                  "n_events": int(len(truth["n_jets"])),
                                                  "n_k_jet_events": int(len(tj))}, "variants": {},
           "naive_kinematics": {"w1_pt": float(wasserstein_distance(prev[:, 0], tj[:, 0])),
                                "w1_eta": float(wasserstein_distance(prev[:, 1], tj[:, 1])),
                                "what": f"the truth's jet {k - 1} (in {k - 1}-jet events) taken as jet {k}"}}
    for v, reps in samples.items():
        rows = []
        for s, f in zip(reps, forced[v], strict=True):
            r, err = rate_ratio(s["n_jets"], k)
            natural, src = _kth_jet(s, k), "generated"
            if len(natural) < min_events:
                natural, src = _kth_jet(f, k), "forced (stop at n_train_max skipped)"
            low = np.asarray(s["n_jets"]) <= n_train_max
            rows.append({
                "rate_ratio": r, "rate_ratio_err": err, "abs_deviation": abs(r - ratio),
                "counts": np.bincount(s["n_jets"]).tolist(),
                "rate_per_training_region_event": float(np.mean(s["n_jets"] == k) / max(np.mean(low), 1e-12)),
                "kinematics_from": src, "n_kinematics_events": int(len(natural)),
                "w1_pt": float(wasserstein_distance(natural[:, 0], tj[:, 0])) if len(natural) else float("nan"),
                "w1_eta": float(wasserstein_distance(natural[:, 1], tj[:, 1])) if len(natural) else float("nan")})
        out["variants"][v] = {key: [row[key] for row in rows] for key in rows[0]}
    low = np.asarray(truth["n_jets"]) <= n_train_max
    out["truth"]["rate_per_training_region_event"] = float(np.mean(truth["n_jets"] == k) / np.mean(low))
    return out


LABELS = {"truth": "Truth", "plain": "Plain likelihood", "bootstrap": "Bootstrap", "modified": "Perturbed target"}
COLORS = {"truth": "k", "plain": "tab:blue", "bootstrap": "tab:red", "modified": "tab:green"}


def _ratio_axes(plt: Any, n: int = 1, width: float = 7.5):
    fig, axes = plt.subplots(2, n, figsize=(width * n, 7.5), sharex="col", squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05, "wspace": 0.3})
    return fig, axes


def plot_multiplicity(truth: dict, samples: dict, n_train_max: int, n_show: int, path: str | Path,
                      title: str = "") -> list[Path]:
    """Exclusive multiplicity per event of the training region (n <= n_train_max),
    truth vs every variant, with the ratio to truth."""
    from ... import plotting

    plotting.style()
    import matplotlib.pyplot as plt

    fig, axes = _ratio_axes(plt)
    ax, rax = axes[0, 0], axes[1, 0]
    edges = np.arange(n_show + 2) - 0.5

    def norm(n_jets: np.ndarray):
        c = toy.multiplicity_counts(n_jets, n_show).astype(float)
        z = c[: n_train_max + 1].sum()
        return c / z, np.sqrt(c) / z

    t, te = norm(truth["n_jets"])
    ax.stairs(t, edges, color="k", lw=2, label=LABELS["truth"])
    for v, s in samples.items():
        y, ye = norm(s["n_jets"])
        ax.stairs(y, edges, color=COLORS[v], lw=1.6, label=LABELS[v])
        with np.errstate(divide="ignore", invalid="ignore"):
            rax.errorbar(np.arange(n_show + 1), y / t, ye / t, fmt="o", color=COLORS[v], ms=4)
    rax.fill_between(np.arange(n_show + 1), 1 - te / t, 1 + te / t, step="mid", color="0.8")
    ax.axvspan(n_train_max + 0.5, n_show + 0.5, color="0.93", zorder=-1)
    ax.text(n_train_max + 0.6, 0.5, "extrapolation", fontsize=13, transform=ax.get_xaxis_transform())
    ax.set_yscale("log")
    ax.set_ylim(max(t[t > 0].min() * 0.1, 1e-5), 3)
    ax.set_ylabel(r"events / events with $n \leq %d$" % n_train_max)
    ax.legend(loc="upper right", fontsize=13, title=title, title_fontsize=13)
    rax.axhline(1, color="k", lw=1)
    rax.set_ylim(0, 2)
    rax.set_yticks([0.5, 1.0, 1.5])  # none at the edges, where they meet the upper panel's
    rax.set_ylabel("/ Truth")
    rax.set_xlabel(r"number of extra jets $n$")
    rax.set_xticks(np.arange(n_show + 1))
    plotting.label(ax)
    return plotting.save(fig, path)


def plot_kth_jet(truth: dict, kinematics: dict, k: int, pt_max: float, path: str | Path, title: str = "") -> list[Path]:
    """Normalised pT and eta of the k-th jet in k-jet events: truth vs the
    variants (``kinematics[v]`` = (n_events, 3) jets), with ratio panels."""
    from ... import plotting

    plotting.style()
    import matplotlib.pyplot as plt

    tj = truth["jets"][truth["n_jets"] == k, k - 1]
    fig, axes = _ratio_axes(plt, 2)
    specs = [(0, np.linspace(tj[:, 0].min(), pt_max, 20), r"$p_{T,j_%d}$ [GeV]" % k, True),
             (1, np.linspace(-4, 4, 25), r"$\eta_{j_%d}$" % k, False)]
    for col, (feat, edges, xlabel, logy) in enumerate(specs):
        ax, rax = axes[0, col], axes[1, col]
        t, _ = np.histogram(tj[:, feat], edges)
        tn = t / max(t.sum(), 1) / np.diff(edges)
        te = np.sqrt(t) / max(t.sum(), 1) / np.diff(edges)
        ax.stairs(tn, edges, color="k", lw=2, label=f"{LABELS['truth']} ({k} jets)")
        for v, jets in kinematics.items():
            if not len(jets):
                continue
            h, _ = np.histogram(jets[:, feat], edges)
            hn = h / max(h.sum(), 1) / np.diff(edges)
            ax.stairs(hn, edges, color=COLORS[v], lw=1.6, label=LABELS[v])
            with np.errstate(divide="ignore", invalid="ignore"):
                rax.stairs(hn / tn, edges, color=COLORS[v], lw=1.6)
        with np.errstate(divide="ignore", invalid="ignore"):
            rax.fill_between(edges, np.append(1 - te / tn, 1), np.append(1 + te / tn, 1), step="post", color="0.8")
        if logy:
            ax.set_yscale("log")
        ax.set_ylabel("normalised")
        rax.axhline(1, color="k", lw=1)
        rax.set_ylim(0.5, 1.5)
        rax.set_yticks([0.75, 1.0, 1.25])  # none at the edges, where they meet the upper panel's
        rax.set_ylabel("/ Truth")
        rax.set_xlabel(xlabel)
        ax.legend(fontsize=12, title=title, title_fontsize=12)
        plotting.label(ax)
    return plotting.save(fig, path)


# ------------------------------------------------------------------ pipeline steps
HP_KEYS = {"n_train_max": int, "pt_min": float, "dim": int, "heads": int, "layers": int, "n_gauss": int,
           "batch_size": int, "lr": float, "patience": int, "epochs": int, "bootstrap_rounds": int,
           "bootstrap_epochs": int}


def hparams(cfg: Config) -> dict:
    """The model and training settings of ``studies.jet_radiation`` as the
    flat dict saved with every model; InputError where they do not fit together."""
    hp = {"n_train_max": cfg.n_train_max, "pt_min": cfg.lhe.pt_min if cfg.source == "lhe" else cfg.toy.pt_min,
          **dataclasses.asdict(cfg.model), **dataclasses.asdict(cfg.training)}
    hp = {key: typ(hp[key]) for key, typ in HP_KEYS.items()}
    if hp["dim"] % hp["heads"]:
        raise InputError("config", "studies.jet_radiation.model.dim",
                         f"must be a multiple of heads ({hp['heads']}), got {hp['dim']}")
    return hp


def run_training(events_path: str | Path, variant: str, hp: dict, seed: int, model_out: str | Path,
                 samples_out: str | Path, forced_out: str | Path, record_out: str | Path,
                 train_fraction: float, n_generate: int, n_gen_max: int, init_path: str | Path | None = None) -> dict:
    """One variant: read the truth file, train on the training split with at
    most ``n_train_max`` jets, save the model (+ JSON hyper-parameters and
    preprocessing), freely generated events and events with the stop after
    ``n_train_max`` jets skipped (kinematics of the first unseen jet)."""
    from ...io import write_json
    from ...nn.train import save_model

    if n_gen_max <= hp["n_train_max"]:
        raise InputError("config", "studies.jet_radiation.n_gen_max", f"must exceed n_train_max = {hp['n_train_max']}")
    events = toy.read_events(events_path, pt_min=hp["pt_min"])
    train = training_events(split(events, train_fraction)[0], hp["n_train_max"])
    init = pre = None
    if variant == "bootstrap":
        if init_path is None:
            raise InputError(None, "init", "the bootstrap variant needs the plain model")
        init, pre, _ = load_model(init_path)
    model, pre, record = train_variant(train, variant, hp, seed=seed, init=init, pre=pre)
    save_model(model, model_out, {"variant": variant, "hparams": hp, "preprocessing": pre.state()})
    k = hp["n_train_max"] + 1
    gen = generate_events(model, pre, n_generate, n_gen_max, seed=seed + 7)
    forced = generate_events(model, pre, n_generate, k, seed=seed + 11, no_stop_at=(hp["n_train_max"],))
    attrs = {"source": f"model:{variant}", "seed": seed}
    toy.write_events(samples_out, gen["jets"], gen["n_jets"], attrs)
    toy.write_events(forced_out, forced["jets"], forced["n_jets"], {**attrs, "no_stop_at": hp["n_train_max"]})
    record["generated_counts"] = np.bincount(gen["n_jets"], minlength=n_gen_max + 1).tolist()
    write_json(record_out, record)
    return record


def run_report(events_path: str | Path, samples: dict, forced: dict, records: dict, mult_png: str | Path,
               kin_png: str | Path, *, train_fraction: float, n_train_max: int, n_gen_max: int,
               published: str | Path | None = None) -> dict:
    """Figures and the metrics (of metrics.json) from the truth reference
    split and the generated samples of every variant, a list over training
    seeds each (and, given ``published``, the ONNX export records of
    :func:`publish` under ``metrics["published"]``). Figures: the first seed."""
    from ...io import read_json

    missing = [v for v in VARIANTS if not samples.get(v) or not forced.get(v)]
    if missing:
        raise InputError(None, missing[0], "generated samples of this variant missing")
    events = toy.read_events(events_path)
    ratio = float(events["attrs"].get("ratio", float("nan")))
    if not math.isfinite(ratio):
        raise InputError(events_path, "ratio", "truth file carries no staircase ratio attribute")
    ref = split(events, train_fraction)[1]
    gen = {v: [toy.read_events(p) for p in samples[v]] for v in VARIANTS}
    frc = {v: [toy.read_events(p) for p in forced[v]] for v in VARIANTS}
    rec = {v: [read_json(p) for p in records[v]] for v in VARIANTS}
    m = extrapolation_metrics(ref, gen, frc, ratio, n_train_max)
    k = m["k"]
    kin = {}
    for v in VARIANTS:
        src = gen[v][0] if m["variants"][v]["kinematics_from"][0] == "generated" else frc[v][0]
        kin[v] = _kth_jet(src, k)
    tj = _kth_jet(ref, k)
    source = str(events["attrs"].get("source", "toy"))
    real = source.startswith("lhe:")
    what = "MG5 Z + jets partons" if real else "Z + jets toy"
    plot_multiplicity(ref, {v: g[0] for v, g in gen.items()}, n_train_max, n_gen_max, mult_png,
                      title=rf"{what}, $R = {ratio:.3g}$, trained on $n \leq {n_train_max}$")
    plot_kth_jet(ref, kin, k, float(np.quantile(tj[:, 0], 0.99)) if len(tj) else 100.0,
                 kin_png, title=f"jet {k} in {k}-jet events")
    m["seeds"] = [r["seed"] for r in rec["plain"]]
    m["staircase_ratio_train"] = rec["plain"][0]["staircase_ratio_train"]
    m["staircase_ratio_train_err"] = rec["plain"][0]["staircase_ratio_train_err"]
    m["bootstrap_rounds"] = [r.get("rounds") for r in rec["bootstrap"]]
    if published is not None:
        m["published"] = read_json(published)
    m["modified_loss"] = ("the stop term of events at the largest training multiplicity is left out of the loss "
                          "(censored by the multiplicity cut); no multiplicity ratio is handed to any variant")
    m["truth_source"] = source
    if real:
        m["ratio_from"] = events["attrs"].get("ratio_from", "")
    data = (f"real MG5_aMC Z + 0/1/2-jet partons ({source[4:]}, MLM-matched LHE, before any shower) instead of "
            f"MadGraph + Pythia Z + jets: trained on n <= {n_train_max}, extrapolated to {n_train_max + 1} against "
            f"the file's own {n_train_max + 1}-parton events (not exactly staircase: the truth ratio is measured)"
            if real else "toy Z + jets with exact staircase scaling and a Markov splitting kernel instead of MadGraph "
            "+ Pythia Z + jets")
    m["reduced_vs_paper"] = (
        f"{data}; jets only (the Z is the start token); one small causal transformer with a 3-d Gaussian-mixture "
        "head per jet (the paper: a particle transformer plus a component transformer with Gaussian mixtures per "
        "component); the modified loss leaves the censored stop term out instead of the paper's perturbed target; "
        "bootstrap by rounds of regenerating the network's own events and training further instead of a buffer "
        "refreshed every few steps")
    return m


def load_model(path: str | Path) -> tuple[RadiationGPT, Preprocessor, dict]:
    """A trained variant saved by :func:`run_training`: (model, preprocessing, saved metadata)."""
    from ...nn.train import load_state

    state, meta = load_state(path)
    for key in ("hparams", "preprocessing"):
        if key not in meta:
            raise InputError(f"{path}.json", key, "saved model metadata lacks this field")
    model = build_model(meta["hparams"])
    model.load_state_dict(state)
    p = meta["preprocessing"]
    return model.eval(), Preprocessor(p["pt_min"], p["mean"], p["std"]), meta


def publish(models: dict, records: dict, events_path: str | Path, out_root: str | Path, *, train_fraction: float,
            n_gen_max: int,
            n_val: int = 200) -> dict:
    """ONNX + model card of every variant's step network (:class:`StepExport`),
    checked in onnxruntime, in ``out_root/<variant>``; returns ``{variant:
    {"exported", "passed", "max_abs_diff", ...}}`` (an exporter failure is
    recorded, not hidden). The frozen validation inputs are the first
    ``n_val`` events of the truth reference split, cut to ``n_gen_max`` jets."""
    from pathlib import Path

    from ...io import read_json
    from ...publish import publish_checked

    events = toy.read_events(events_path)
    ref = split(events, train_fraction)[1]
    if len(ref["n_jets"]) < n_val:
        raise InputError(events_path, "n_jets", f"reference split has {len(ref['n_jets'])} events, need {n_val}")
    s = int(n_gen_max)
    n = np.minimum(ref["n_jets"][:n_val], s)
    out = {}
    for v, path in models.items():
        if v not in VARIANTS:
            raise InputError(path, "variant", f"unknown variant '{v}' (choose from {VARIANTS})")
        model, pre, meta = load_model(path)
        rec = read_json(records[v])
        hp = meta["hparams"]
        jets = pre.forward(_pad(ref["jets"][:n_val, :s], s), n)
        mask = (np.arange(s)[None, :] < n[:, None]).astype(np.float32)
        counts = rec.get("generated_counts", [])
        k = hp["n_train_max"] + 1
        hist = rec.get("history") or {}
        metrics = {"staircase_ratio_train": rec["staircase_ratio_train"],
                   "generated_counts": counts,
                   f"generated_rate_ratio_{k}_over_{k - 1}": (counts[k] / counts[k - 1]
                                                              if len(counts) > k and counts[k - 1] else None)}
        if "best_val" in hist:
            metrics["best_val_nll"] = hist["best_val"]
        if rec.get("rounds"):
            metrics["bootstrap_last_round_best_val_nll"] = rec["rounds"][-1]["best_val"]
        state = pre.state()
        prep = (f"colliderflow.studies.jet_radiation.core.Preprocessor(pt_min={state['pt_min']:g}, "
                f"mean={state['mean']}, "
                f"std={state['std']}).forward(jets, n_jets): per jet (log(pT - pt_min), eta, acoplanarity "
                "phi_k - phi_{k-1} - pi wrapped to (-pi, pi], phi_0 = 0 for the Z), minus mean, over std; "
                f"{s} slots, pT-ordered jets first, zero on padding")
        out[v] = publish_checked(
            StepExport(model), {"jets": jets, "mask": mask}, Path(out_root) / v,
            name=f"jet_radiation_step_{v}",
            description=(
                f"One step of the autoregressive jet-radiation generator ('{v}' variant; Butter et al., "
                "arXiv:2412.12074, on the colliderflow staircase Z + jets toy): a causal transformer over "
                "[Z, jet_1, ..., jet_S]; position k (the state after the Z and k jets) gives the probability to "
                "stop after k jets and a diagonal Gaussian mixture over jet k + 1's standardised features. "
                "Autoregressive use (as colliderflow.studies.jet_radiation.core.sample / generate_events do in torch): "
                "start with mask all 0; at step k read stop_logit[:, k], stop with probability sigmoid(stop_logit); "
                "otherwise pick a component from softmax(mixture_logits[:, k]), draw jet k + 1 ~ "
                "Normal(mixture_mean[:, k, c], mixture_sigma[:, k, c]) into jets[:, k], set mask[:, k] = 1 and "
                f"repeat (at most {s} jets); Preprocessor.inverse maps the features back to (pT [GeV], eta, phi). "
                "Causal attention: outputs at position k do not depend on slots after k."),
            input_specs={
                "jets": {"units": "1 (standardised log GeV, 1, rad)",
                         "features": ["log(pT - pt_min)", "eta", "acoplanarity"], "preprocessing": prep,
                         "preprocessor_state": state},
                "mask": {"units": "1", "preprocessing": "1.0 for a real jet, 0.0 for padding; real jets first"}},
            outputs={
                "stop_logit": {"description": "logit of stopping after k jets (position k = 0..S)"},
                "mixture_logits": {"description": "logits of the Gaussian-mixture components for jet k + 1"},
                "mixture_mean": {"description": "component means of jet k + 1's standardised features"},
                "mixture_sigma": {"description": "component widths (softplus + 1e-3 applied) of jet k + 1's "
                                                 "standardised features"}},
            training_data={"file": str(events_path), "source": events["attrs"].get("source", "unknown"),
                           "staircase_ratio": events["attrs"].get("ratio"), "train_fraction": train_fraction,
                           "n_train_max": hp["n_train_max"], "n_train": rec["n_train"],
                           "train_counts": rec["train_counts"], "variant": v, "hparams": hp,
                           "preprocessing": state},
            metrics=metrics)
    return out
