"""SPINUP: unfolding as a fit of a truth density to the data likelihood.

* forward model ``p(x | z)``: a conditional zuko flow trained on the
  simulated pairs (reco ``x`` given truth ``z``). It describes the detector
  only, so the simulation's truth prior drops out where it has support.
* unfolded density ``p_theta(z)``: a zuko flow over the truth of the
  reconstructed jets, fitted by maximising the data likelihood
  ``sum_i w_i log int p(x_i | z) p_theta(z) dz``.
* neural importance sampling for the integral: a conditional flow
  ``q(z | x)`` (trained on the simulation, the inverse direction) proposes
  ``K`` truth values per data jet; the integral is the importance-weighted
  mean ``1/K sum_k p(x_i|z_k) p_theta(z_k) / q(z_k|x_i)``. The proposal and
  the forward-model terms are fixed, so they are computed once and only
  ``p_theta`` is evaluated during the fit.
* efficiency and fakes: the data density is the mixture
  ``(1 - phi) int p(x|z) p_theta(z) dz + phi p_fake(x)`` with the fake
  density ``p_fake`` a flow trained on the simulated fakes and ``phi`` from
  the simulated fakes per particle-level jet and mean efficiency. The fitted
  density is the truth of *reconstructed* jets; samples from it are
  weighted with 1 / eff(z) (a classifier on the simulation) to give the
  truth of all jets.
* ensemble: members differ in seed and in Poisson(1) bootstrap weights of
  the data; their spread is the uncertainty.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike

from ...nn.flows import StandardizedFlow
from ...nn.train import TrainConfig, fit, seed_everything
from .methods import bootstrap_weights
from .nets import Features, NetConfig, efficiency_model, logit

log = logging.getLogger(__name__)


@dataclass
class SpinupConfig:
    kind: str = "maf"            # zuko flow: "maf" (fast) or "nsf"
    transforms: int = 3
    hidden: int = 64
    bins: int = 8
    epochs: int = 30
    batch_size: int = 512
    lr: float = 2e-3
    patience: int = 6
    proposals: int = 16          # K truth samples per data jet
    ensemble: int = 3
    samples: int = 50000         # unfolded samples per member for the histograms
    seed: int = 0


def _flow(x: ArrayLike, c: ArrayLike, cfg: SpinupConfig) -> StandardizedFlow:
    return StandardizedFlow.fitted_to(x, c, kind=cfg.kind, transforms=cfg.transforms,
                                      hidden=(cfg.hidden, cfg.hidden), bins=cfg.bins)


def _train(flow: StandardizedFlow, tensors: list[torch.Tensor], cfg: SpinupConfig, seed: int, desc: str,
           loss: Callable | None = None):
    fit(flow, loss or (lambda m, b: m.nll(b)), tensors,
        TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, patience=cfg.patience, seed=seed,
                    desc=desc))
    return flow


def _batched(fn: Callable, *arrays, batch: int = 32768):
    with torch.no_grad():
        n = len(arrays[0])
        return torch.cat([fn(*(a[i:i + batch] for a in arrays)) for i in range(0, n, batch)])


def detector_models(sim: dict, feats: Features, cfg: SpinupConfig, rng: np.random.Generator) -> tuple[StandardizedFlow,
                    StandardizedFlow]:
    """Forward model p(x|z) and proposal q(z|x), trained on the matched simulated pairs."""
    m = sim["gen_pass"] & sim["reco_pass"]
    z = torch.tensor(feats(sim["gen"][m], rng), dtype=torch.float32)
    x = torch.tensor(feats(sim["reco"][m], rng), dtype=torch.float32)
    forward = _train(_flow(x, z, cfg), [x, z], cfg, cfg.seed + 101, "spinup forward p(x|z)")
    proposal = _train(_flow(z, x, cfg), [z, x], cfg, cfg.seed + 102, "spinup proposal q(z|x)")
    return forward, proposal


def fake_model(sim: dict, feats: Features, cfg: SpinupConfig, rng: np.random.Generator) -> tuple[StandardizedFlow,
               float]:
    """Density of the simulated fakes and the fake share phi of reco jets,
    from the fakes per particle-level jet and the mean efficiency."""
    w = sim["weight"]
    fake = sim["reco_pass"] & ~sim["gen_pass"]
    x = torch.tensor(feats(sim["reco"][fake], rng), dtype=torch.float32)
    flow = _train(_flow(x, None, cfg), [x], cfg, cfg.seed + 103, "spinup fakes p_fake(x)")
    rho = w[fake].sum() / w[sim["gen_pass"]].sum()
    eff_mean = w[sim["gen_pass"] & sim["reco_pass"]].sum() / w[sim["gen_pass"]].sum()
    return flow, float(rho / (rho + eff_mean))


def importance_terms(x: ArrayLike, forward: StandardizedFlow, proposal: StandardizedFlow, K: int, seed: int) -> tuple:
    """Proposal samples z (n, K, d) and the fixed log terms
    log p(x|z) - log q(z|x) (n, K) for data ``x`` (n, d); computed on
    :func:`colliderflow.nn.device.select`'s device, returned (and the flows
    left) on the CPU."""
    from ...nn.device import select

    dev = select()
    torch.manual_seed(seed)
    n, d = x.shape
    forward.to(dev), proposal.to(dev)
    try:
        xr = x.repeat_interleave(K, 0).to(dev)
        z = _batched(lambda c: proposal.sample(c=c), xr)
        a = _batched(lambda zz, c: forward.log_prob(c, zz) - proposal.log_prob(zz, c), z, xr)
    finally:
        forward.to("cpu"), proposal.to("cpu")
    a = torch.nan_to_num(a.cpu(), nan=-1e30, neginf=-1e30)
    return z.cpu().reshape(n, K, d), a.reshape(n, K)


def _nll(model: torch.nn.Module, batch: list[torch.Tensor]):
    """-log of the mixture likelihood; batch: z (n,K,d), a (n,K), log phi p_fake(x) (n), log(1-phi), w (n)."""
    z, a, lfake, lreal, w = batch
    n, K, d = z.shape
    lp = model.log_prob(z.reshape(-1, d)).reshape(n, K)
    ll = torch.logsumexp(a + lp, dim=1) - np.log(K)
    ll = torch.logaddexp(ll + lreal, lfake)
    return -(w * ll).sum() / w.sum()


def fit_density(z: ArrayLike, a: ArrayLike, lfake: ArrayLike, lreal: ArrayLike, w: ArrayLike, z_init: ArrayLike,
                cfg: SpinupConfig, seed: int) -> StandardizedFlow:
    """The unfolded density p_theta(z), fitted to the data likelihood."""
    flow = _flow(z_init, None, cfg)
    return _train(flow, [z, a, lfake, lreal, torch.as_tensor(w, dtype=torch.float32)], cfg, seed,
                  f"spinup density s{seed}", _nll)


def unfold(sim: dict, data: dict, feats: Features, cfg: SpinupConfig, net: NetConfig) -> list:
    """Unfolded particle-level samples per ensemble member: a list of
    ``(samples (n, d) in observable units, weights 1/eff)``."""
    rng = np.random.default_rng(cfg.seed)
    seed_everything(cfg.seed)
    forward, proposal = detector_models(sim, feats, cfg, rng)
    eff = efficiency_model(sim, feats, net)
    fake_flow, phi = fake_model(sim, feats, cfg, rng)
    dsel = data["reco_pass"]
    w = data["weight"][dsel]
    x = torch.tensor(feats(data["reco"][dsel], rng), dtype=torch.float32)
    z, a = importance_terms(x, forward, proposal, cfg.proposals, cfg.seed + 7)
    lfake = _batched(fake_flow.log_prob, x) + np.log(phi)
    lreal = torch.full((len(x),), float(np.log1p(-phi)))
    m = sim["gen_pass"] & sim["reco_pass"]
    z_init = torch.tensor(feats(sim["gen"][m], rng), dtype=torch.float32)
    members = []
    for k in range(cfg.ensemble):
        boot = bootstrap_weights(cfg.seed, k, len(w), cfg.ensemble)  # the same for both priors (paired)
        flow = fit_density(z, a, lfake, lreal, w * boot, z_init, cfg, cfg.seed + 1000 + k)
        with torch.no_grad():
            torch.manual_seed(cfg.seed + 2000 + k)
            s = flow.sample(cfg.samples).numpy()
        s = s[np.isfinite(s).all(axis=1)]
        p_eff = 1.0 / (1.0 + np.exp(-logit(eff, s)))
        members.append((feats.inverse(s), 1.0 / np.clip(p_eff, 0.05, 1.0)))
    return members
