"""TRANSIT: a mass-conditioned transport network moves sideband events to
signal-region masses; template closure and the TRANSIT report. The data
split, background flow and classifiers are the R-ANODE family's
(:mod:`colliderflow.studies.ranode.background`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...metrics import Stopwatch
from ...nn.train import fit, seed_everything
from ..ranode.background import (
    FEATURE_LABELS,
    from_flow_space,
    load_background,
    load_split,
    sample_background,
    train_config,
)
from ..ranode.config import Config as RanodeConfig
from ..ranode.config import Regions
from . import Config, closes

# --------------------------------------------------------------------------
# TRANSIT: mass-conditioned transport of sideband events into the SR
# --------------------------------------------------------------------------

def _mlp(n_in: int, n_out: int, hidden: Sequence[int]) -> torch.nn.Sequential:
    layers, d = [], n_in
    for h in hidden:
        layers += [torch.nn.Linear(d, h), torch.nn.SiLU()]
        d = h
    return torch.nn.Sequential(*layers, torch.nn.Linear(d, n_out))


def mass_dependence(z: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Mass information left in a latent: the summed squared correlations of
    each latent dimension and of its square with m (0 when z is independent
    of m; TRANSIT's validation criterion, see :meth:`Transit.loss`)."""
    def corr2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a, b = a - a.mean(0), (b - b.mean()).unsqueeze(1)
        return ((a * b).mean(0) ** 2 / (a.var(0, unbiased=False) * b.var(unbiased=False) + 1e-12)).sum()

    zc = z - z.mean(0)
    return corr2(z, m) + corr2(zc ** 2, m)


class Transit(torch.nn.Module):
    """Encoder E(x, m) -> z and decoder D(z, m) -> x with mass injection.

    Both are residual (z = x + e(x, m), x = z + d(z, m), last layers
    zero-initialised), so training starts from the identity transport, i.e.
    the untransported sideband template. Loss (one optimiser, see
    :meth:`loss`): reconstruction |D(E(x,m),m) - x|^2; latent consistency
    |E(D(z,m'),m') - z|^2 at a random other mass m'; and an adversary
    predicting m from z behind a gradient-reversal layer, which pushes the
    encoder to a latent without mass information so that the decoder must
    take the mass from its input (the adversary minimises its error on a
    detached latent; the encoder minimises the variance of the frozen
    adversary's prediction, a bounded form of the minimax game). Transport: x' = D(E(x,m), m'). Inputs are
    standardised with stored buffers; the latent has the features' dimension.
    """

    def __init__(self, n_features: int, hidden: Sequence[int], x_mean: np.ndarray, x_std: np.ndarray,
                 m_mean: np.ndarray, m_std: np.ndarray,
                 w_consistency: float = 1.0, w_adversary: float = 1.0) -> None:
        super().__init__()
        self.hparams = dict(n_features=n_features, hidden=list(hidden),
                            w_consistency=w_consistency, w_adversary=w_adversary)
        self.enc = _mlp(n_features + 1, n_features, hidden)
        self.dec = _mlp(n_features + 1, n_features, hidden)
        for net in (self.enc, self.dec):
            torch.nn.init.zeros_(net[-1].weight)
            torch.nn.init.zeros_(net[-1].bias)
        self.adv = _mlp(n_features, 1, hidden)
        for k, v in dict(x_mean=x_mean, x_std=x_std, m_mean=m_mean, m_std=m_std).items():
            self.register_buffer(k, torch.as_tensor(v, dtype=torch.float32).reshape(-1))

    def _m(self, m: np.ndarray) -> torch.Tensor:
        return ((m.reshape(-1, 1) - self.m_mean) / self.m_std)

    def encode(self, xs: np.ndarray, m: np.ndarray) -> torch.Tensor:
        return xs + self.enc(torch.cat([xs, self._m(m)], 1))

    def decode(self, z: np.ndarray, m: np.ndarray) -> torch.Tensor:
        return z + self.dec(torch.cat([z, self._m(m)], 1))

    def loss(self, batch: Any) -> torch.Tensor:
        x, m = batch
        xs = (x - self.x_mean) / self.x_std
        z = self.encode(xs, m)
        rec = ((self.decode(z, m) - xs) ** 2).mean()
        m2 = m[torch.randperm(len(m), device=m.device)]  # drawn where m lives: no host-to-device copy per batch
        z2 = self.encode(self.decode(z, m2), m2)
        cons = ((z2 - z.detach()) ** 2).mean() + ((z2 - z) ** 2).mean()
        # adversary learns m from the (detached) latent; the encoder is penalised by the
        # spread of the frozen adversary's predictions (zero when z carries no mass information)
        adv = ((self.adv(z.detach()).squeeze(1) - self._m(m).squeeze(1)) ** 2).mean()
        frozen = {k: v.detach() for k, v in self.adv.named_parameters()}
        pred = torch.func.functional_call(self.adv, frozen, (z,)).squeeze(1)
        h = self.hparams
        if self.training:
            return rec + h["w_consistency"] * cons + adv + h["w_adversary"] * (pred.var() + mass_dependence(
                z, self._m(m).squeeze(1)))
        # validation (picks the best epoch): the minimax terms are no criterion -- the identity map has rec = cons
        # = 0, and a better adversary raises the loss exactly when the encoder hides the mass better, so the first
        # epoch would always be kept. The mass information left in the latent is measured directly instead.
        return rec + h["w_consistency"] * cons + h["w_adversary"] * mass_dependence(z, self._m(m).squeeze(1))

    @torch.no_grad()
    def transport(self, x: np.ndarray, m_from: np.ndarray, m_to: np.ndarray) -> np.ndarray:
        self.eval()
        xs = (torch.as_tensor(x) - self.x_mean) / self.x_std
        out = self.decode(self.encode(xs, torch.as_tensor(m_from)), torch.as_tensor(m_to))
        return (out * self.x_std + self.x_mean).numpy()


def train_transit(x: np.ndarray, m: np.ndarray, cfg: Config, seed: int, max_events: int = 0) -> tuple[Transit, Any]:
    """Train :class:`Transit` on sideband events; returns (model, history)."""
    if max_events and len(x) > max_events:
        pick = np.random.default_rng(seed).choice(len(x), max_events, replace=False)
        x, m = x[pick], m[pick]
    xt, mt = torch.as_tensor(x), torch.as_tensor(m)
    seed_everything(seed)
    model = Transit(x.shape[1], list(cfg.hidden), xt.mean(0), xt.std(0), mt.mean(), mt.std(),
                    cfg.w_consistency, cfg.w_adversary)
    # eager even where the run compiles: inductor (torch 2.13) fails on this loss's graph (a pattern-matcher
    # error; fit would fall back after the attempt, which costs the compilation)
    hist = fit(model, lambda mdl, b: mdl.loss(b), (xt, mt), replace(train_config(cfg, seed, "TRANSIT"), compile=False))
    return model, hist


def transit_template(model: Transit, sb_x: np.ndarray, sb_m: np.ndarray, m_target: np.ndarray, seed: int) -> np.ndarray:
    """Template of SR background: sideband events (drawn with replacement)
    transported to the target SR masses ``m_target`` (one per target)."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(sb_x), len(m_target))
    out = model.transport(sb_x[pick], sb_m[pick], np.asarray(m_target, np.float32))
    return out[np.isfinite(out).all(axis=1)]


def near_sidebands(x: np.ndarray, m: np.ndarray, regions: Regions, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Sideband events within ``width`` TeV of the SR edges (TRANSIT sources)."""
    sel = ((m >= regions.sr_lo - width) & (m < regions.sr_lo)) | ((m >= regions.sr_hi) & (m < regions.sr_hi + width))
    return x[sel], m[sel]


def save_transit(model: Transit, path: str | Path, hist: Any, cpu: float) -> None:
    from ...nn.train import save_model

    save_model(model, path, {**model.hparams, "history": hist.as_dict(), "cpu_seconds": cpu})


def load_transit(path: str | Path) -> tuple[Transit, dict]:
    from ...nn.train import load_state

    state, hp = load_state(path)
    n = hp["n_features"]
    model = Transit(n, hp["hidden"], np.zeros(n), np.ones(n), 0.0, 1.0, hp["w_consistency"],
                    hp["w_adversary"])
    model.load_state_dict(state)
    model.eval()
    return model, hp


def transit_step(events_path: str | Path, out_model: str | Path, cfg: RanodeConfig, tcfg: Config, seed: int) -> dict:
    """Train and save the TRANSIT transport network on the sidebands."""
    split, _ = load_split(events_path, cfg, seed)
    with Stopwatch() as sw:
        model, hist = train_transit(split.sb_x, split.sb_m, tcfg, seed, tcfg.max_events)
    save_transit(model, out_model, hist, sw.cpu)
    return {"cpu_seconds": sw.cpu}


def closure_step(events_path: str | Path, bg_model: str | Path, transit_model: str | Path, out_json: str | Path,
                 out_fig: str | Path, cfg: RanodeConfig, tcfg: Config, seed: int,
                 threads: int = 1, tier: str = "default") -> dict:
    """Template closure in the SR: TRANSIT template, CATHODE flow samples and
    untransported sideband events, each vs the true SR background (the IAD
    reference sample); AUCs and the per-feature figure."""
    from ...io import write_json

    split, regions = load_split(events_path, cfg, seed)
    flow, _, _ = load_background(bg_model)
    model, _ = load_transit(transit_model)
    truth_x, truth_m = split.bg_iad
    sx, sm = near_sidebands(split.sb_x, split.sb_m, regions, tcfg.source_width)
    rng = np.random.default_rng(seed)
    raw = sx[rng.integers(0, len(sx), len(truth_m))]
    templates = {"transit": transit_template(model, sx, sm, truth_m, seed),
                 "cathode_flow": sample_background(flow, truth_m, seed),
                 "sideband_untransported": raw}
    auc, auc_se = {}, {}
    for k, v in templates.items():
        auc[k], auc_se[k] = closure_auc_se(v, truth_x, cfg.classifier, cfg.kfold, seed, threads)
    doc = {"closure_auc": auc, "closure_auc_se": auc_se, "closure_auc_se_method": "bootstrap of the held-out scores "
           "(200 resamples)", "n_truth": len(truth_x), "tier": tier,
           "source_width": tcfg.source_width, "regions": regions.__dict__}
    write_json(out_json, doc)
    plot_templates(templates, truth_x, auc, out_fig)
    return doc


def closure_auc_se(template: np.ndarray, truth: np.ndarray, ccfg: Any, k: int, seed: int,
                   threads: int = 1) -> tuple[float, float]:
    """Closure AUC (:func:`colliderflow.studies.ranode.background.closure_auc`:
    k-fold classifier template vs truth, held-out scores) and its standard
    error from a bootstrap of the held-out events."""
    from sklearn.metrics import roc_auc_score

    from ...verdict import bootstrap_se
    from ..ranode.background import classifier_scores

    n = min(len(template), len(truth))
    rng = np.random.default_rng(seed)
    a, b = template[rng.permutation(len(template))[:n]], truth[rng.permutation(len(truth))[:n]]
    _, h1, h0 = classifier_scores(a, b, a[:1], ccfg, k, seed, threads)
    y, sc = np.r_[np.ones(n), np.zeros(n)], np.r_[h1, h0]
    return float(roc_auc_score(y, sc)), bootstrap_se(roc_auc_score, y, sc, n=200, seed=seed)


def plot_templates(templates: dict, truth_x: np.ndarray, auc: dict, path: str | Path) -> list:
    """Per-feature template vs true SR background (and ratio), closure AUC in the legend."""
    from ... import plotting

    plotting.style()
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(26, 10), gridspec_kw={"height_ratios": [3, 1]}, sharex="col")
    truth = from_flow_space(truth_x)
    temps = {k: from_flow_space(v) for k, v in templates.items()}
    names = {"transit": "TRANSIT template", "cathode_flow": "CATHODE flow samples",
             "sideband_untransported": "sideband, not transported"}
    cols = {"transit": "tab:cyan", "cathode_flow": "tab:blue", "sideband_untransported": "tab:orange"}
    for j in range(4):
        lo, hi = np.quantile(truth[:, j], [0.005, 0.995])
        edges = np.linspace(lo, hi, 41)
        ht, _ = np.histogram(truth[:, j], edges, density=True)
        ax, rax = axes[0, j], axes[1, j]
        ax.stairs(ht, edges, color="k", lw=2, label="true SR background")
        for k, v in temps.items():
            h, _ = np.histogram(v[:, j], edges, density=True)
            ax.stairs(h, edges, color=cols[k], label=f"{names[k]} (AUC {auc[k]:.3f})")
            with np.errstate(divide="ignore", invalid="ignore"):
                rax.stairs(np.where(ht > 0, h / ht, np.nan), edges, color=cols[k])
        rax.axhline(1, color="k", lw=1)
        rax.set_ylim(0.7, 1.3)
        rax.set_xlabel(FEATURE_LABELS[j])
        rax.set_ylabel("template / true", fontsize=14)
        ax.set_ylabel("density")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=4, fontsize=16, frameon=False)
    fig.subplots_adjust(wspace=0.3, hspace=0.06, top=0.86)
    plotting.label(axes[0, 0], text="")
    return plotting.save(fig, path)


def transit_report(scans: list[dict], closure: dict, bg_hp: dict, transit_hp: dict, png: str | Path,
                   cfg: RanodeConfig, tcfg: Config) -> dict:
    """TRANSIT study: closure, CWoLa max SIC vs injection (with CATHODE and IAD), training time; the metrics."""
    from ..ranode.methods import aggregate
    from ..ranode.plots import plot_max_sic

    agg = aggregate(scans, cfg.methods)
    n_bg = scans[0]["n_background_sr"]
    drawn = [m for m in ("supervised", "iad", "cathode", "transit", "untransported") if m in cfg.methods]
    plot_max_sic(agg, n_bg, png, rlabel=f"{n_bg} SR bkg, {len(scans)} seeds", methods=drawn,
                 ceiling=math.sqrt(scans[0]["n_test_background"] / cfg.min_bkg_pass))
    from ..ranode.methods import per_seed

    auc, se = closure["closure_auc"], closure["closure_auc_se"]
    tol = tcfg.closure_tolerance
    big = {m: agg["max_sic"][m][-1]["median"] for m in ("transit", "cathode", "iad", "untransported")}
    lim = cfg.low_injection_s_over_sqrt_b
    return {
        "closure_auc": auc, "closure_auc_se": se, "closure_tolerance": tol, "closes": bool(closes(auc, tcfg)),
        "untransported_closes": abs(auc["sideband_untransported"] - 0.5) <= tol,
        "closure_distance_transit_minus_untransported":
            abs(auc["transit"] - 0.5) - abs(auc["sideband_untransported"] - 0.5),
        "low_injection_max_s_over_sqrt_b": lim,
        "low_injection_per_seed_max_sic": {m: per_seed(scans, m, 0.0, lim) for m in ("transit", "cathode",
                                                                                     "untransported", "iad")},
        "high_injection_per_seed_max_sic": {m: per_seed(scans, m, lim, math.inf) for m in ("transit", "cathode",
                                                                                          "untransported")},
        "max_sic": {m: agg["max_sic"][m] for m in drawn},
        "largest_injection": max(agg["injections"]), "largest_injection_median_max_sic": big,
        "training_cpu_seconds": {"transit_network": transit_hp.get("cpu_seconds"),
                                 "cathode_background_flow": bg_hp.get("cpu_seconds")},
        "cpu_seconds_per_method": {m: agg["cpu_seconds_per_method"].get(m) for m in ("cathode", "transit")},
        "n_background_sr_data": n_bg, "closure_n_truth": closure["n_truth"],
    }
