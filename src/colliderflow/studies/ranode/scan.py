"""The injection scan of the resonant-AD family: ANODE, R-ANODE (and the
classifier methods of :mod:`.background`, TRANSIT from
:mod:`colliderflow.studies.transit.model`) on one seed (the aggregate over
seeds is :func:`.methods.aggregate`)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ... import health
from ...metrics import Stopwatch
from ...nn.flows import StandardizedFlow
from ...nn.train import fit, seed_everything
from ..transit.model import near_sidebands, transit_template
from .background import (
    Split,
    classifier_scores,
    flow_kwargs,
    inject,
    kfold,
    log_prob,
    mass_log_density,
    max_sic,
    sample_background,
    sic_curve,
    test_set,
    train_config,
)
from .config import Config, Regions

log = logging.getLogger(__name__)


def anode_scores(x: np.ndarray, m: np.ndarray, x_test: np.ndarray, m_test: np.ndarray, logpb_test: np.ndarray,
                 flow_cfg: dict, k: int, seed: int) -> np.ndarray:
    """ANODE: conditional flow p_data(x | m) on SR data (k-fold); score =
    log p_data - log p_B on the test set (mean over folds)."""
    folds = kfold(len(x), k, seed)
    test = np.zeros(len(x_test))
    for f in range(k):
        tr = folds != f
        xt, ct = torch.as_tensor(x[tr]), torch.as_tensor(m[tr]).reshape(-1, 1)
        seed_everything(seed + f)
        flow = StandardizedFlow.fitted_to(xt, ct, **flow_kwargs(flow_cfg))
        fit(flow, lambda fl, b: fl.nll(b), (xt, ct), train_config(flow_cfg, seed + f, f"ANODE fold {f}"))
        test += (log_prob(flow, x_test, m_test) - logpb_test) / k
    return test


class RANODE(torch.nn.Module):
    """Signal-only flow p_S(x, m) inside a fixed mixture with the frozen
    background: loss = -mean log[w p_S(x,m) + (1 - w) p_B(x|m) p_B(m)].

    ``w = sigmoid(w_scale * theta)``; ``theta`` is a parameter when
    ``learnable``, else a fixed buffer. ``w_scale`` multiplies the step the
    shared optimiser takes on the logit of w (w needs a larger learning rate
    than the flow weights). Batches are (xm, log p_B(x|m) + log p_B(m)).
    """

    def __init__(self, flow: StandardizedFlow, w: float, learnable: bool, w_scale: float = 1.0) -> None:
        super().__init__()
        self.flow = flow
        self.w_scale = float(w_scale)
        theta = torch.tensor(math.log(w / (1 - w)) / self.w_scale, dtype=torch.float32)
        if learnable:
            self.theta = torch.nn.Parameter(theta)
        else:
            self.register_buffer("theta", theta)

    @property
    def w(self) -> torch.Tensor:
        return torch.sigmoid(self.w_scale * self.theta)

    def nll(self, batch: Any) -> torch.Tensor:
        xm, logpb = batch
        lps = self.flow.log_prob(xm)
        w = self.w
        return -torch.logaddexp(torch.log(w) + lps, torch.log1p(-w) + logpb).mean()


def ranode_scores(xm: np.ndarray, logpb: np.ndarray, xm_test: np.ndarray, logpb_test: np.ndarray, w: float,
                  learnable: bool, flow_cfg: dict, k: int, seed: int,
                  w_scale: float = 1.0) -> tuple[np.ndarray, float]:
    """R-ANODE k-fold: returns (test score log p_S - log p_B, mean fitted w)."""
    folds = kfold(len(xm), k, seed)
    test, ws = np.zeros(len(xm_test)), []
    for f in range(k):
        tr = folds != f
        xt, lt = torch.as_tensor(xm[tr]), torch.as_tensor(logpb[tr], dtype=torch.float32)
        seed_everything(seed + f)
        model = RANODE(StandardizedFlow.fitted_to(xt, **flow_kwargs(flow_cfg)), w, learnable, w_scale)
        fit(model, lambda mdl, b: mdl.nll(b), (xt, lt), train_config(flow_cfg, seed + f, f"R-ANODE fold {f}"))
        ws.append(float(model.w.detach()))
        test += (log_prob(model.flow, xm_test) - logpb_test) / k
    return test, float(np.mean(ws))


# --------------------------------------------------------------------------
# one seed of the injection scan
# --------------------------------------------------------------------------

def run_seed(split: Split, bg_flow: Any, mass_coef: np.ndarray, transit_model: Any, regions: Regions, cfg: Config,
             source_width: float,
             seed: int, threads: int = 1, curve_injection: int | None = None) -> dict:
    """Every method at every injection of ``cfg.injections`` for one seed.

    ``cfg``: the ``studies.ranode`` section (injections, kfold, classifier,
    signal_flow, anode_flow, oversample, w_wrong_factor, w_floor,
    min_bkg_pass); ``source_width``: studies.transit.source_width (TRANSIT's
    source sidebands).
    Returns a JSON-ready dict: per injection the max SIC of each method, the
    true and learned w, CPU seconds per method, and SIC curves at
    ``curve_injection``.
    """
    ccfg = cfg.classifier
    k = cfg.kfold
    xt, mt, yt = test_set(split)
    logpb_x_test = log_prob(bg_flow, xt, mt)
    logpb_test = logpb_x_test + mass_log_density(mt, mass_coef, regions)
    xm_test = np.column_stack([xt, mt]).astype(np.float32)
    n_bg = len(split.bg_data[0])
    out = {"seed": seed, "n_background_sr": n_bg, "n_test_background": int((yt == 0).sum()),
           "n_test_signal": int((yt == 1).sum()), "injections": {}, "curves": {}}
    cpu = {}

    training: dict = {}  # method -> n_sig -> health records of its trainings (folds)

    def timed(name: str, fn: Callable, *a, n_sig: int | None = None, **kw):
        first = len(health.RECORDS)
        with Stopwatch() as sw:
            r = fn(*a, **kw)
        cpu[name] = cpu.get(name, 0.0) + sw.cpu
        if n_sig is not None and len(health.RECORDS) > first:
            training.setdefault(name, {})[str(int(n_sig))] = [rec for _, rec in health.RECORDS[first:]]
        return r

    msic = lambda s: max_sic(yt, s, cfg.min_bkg_pass)  # noqa: E731
    sup = timed("supervised", classifier_scores, split.sig_sup[0], split.bg_iad[0], xt, ccfg, k, seed, threads)[0]
    sup_sic = msic(sup)
    tsx, tsm = near_sidebands(split.sb_x, split.sb_m, regions, source_width)
    for n_sig in cfg.injections:
        s = seed * 1000 + int(n_sig)
        x, m, y = inject(split, int(n_sig), s)
        w_true = n_sig / len(x)
        res = {"n_sig": int(n_sig), "s_over_sqrt_b": n_sig / math.sqrt(n_bg), "w_true": w_true, "max_sic": {}}
        scores = {"supervised": sup}
        scores["iad"] = timed("iad", classifier_scores, x, split.bg_iad[0], xt, ccfg, k, s, threads)[0]
        scores["anode"] = timed("anode", anode_scores, x, m, xt, mt, logpb_x_test, cfg.anode_flow, k, s, n_sig=n_sig)
        rng = np.random.default_rng(s)
        m_samp = m[rng.integers(0, len(m), int(cfg.oversample * len(m)))]
        bg_samples = timed("cathode", sample_background, bg_flow, m_samp, s)
        scores["cathode"] = timed("cathode", classifier_scores, x, bg_samples, xt, ccfg, k, s, threads)[0]
        template = timed("transit", transit_template, transit_model, tsx, tsm, m_samp, s)
        scores["transit"] = timed("transit", classifier_scores, x, template, xt, ccfg, k, s, threads)[0]
        # TRANSIT's null: the same sideband events, not transported (the identity map)
        raw = tsx[np.random.default_rng(s + 1).integers(0, len(tsx), len(template))]
        scores["untransported"] = timed("untransported", classifier_scores, x, raw, xt, ccfg, k, s, threads)[0]
        logpb = log_prob(bg_flow, x, m) + mass_log_density(m, mass_coef, regions)
        xm = np.column_stack([x, m]).astype(np.float32)
        w_fix = max(w_true, cfg.w_floor)
        variants = {"ranode_true_w": (w_fix, False), "ranode_wrong_w": (w_fix * cfg.w_wrong_factor, False),
                    "ranode_learn_w": (cfg.w_init, True)}
        for name, (w0, learn) in variants.items():
            sc, w_fit = timed(name, ranode_scores, xm, logpb, xm_test, logpb_test, w0, learn, cfg.signal_flow, k, s,
                              cfg.w_lr_scale, n_sig=n_sig)
            scores[name] = sc
            if learn:
                res["w_learned"] = w_fit
        res["w_fixed_true"], res["w_fixed_wrong"] = w_fix, w_fix * cfg.w_wrong_factor
        res["max_sic"] = {k_: msic(v) for k_, v in scores.items()}
        out["injections"][str(int(n_sig))] = res
        log.info("seed %d n_sig %d: %s", seed, n_sig, {k_: round(v, 2) for k_, v in res["max_sic"].items()})
        if curve_injection is not None and int(n_sig) == int(curve_injection):
            out["curves"] = {name: _thin_curve(yt, sc) for name, sc in scores.items()}
    out["supervised_max_sic"] = sup_sic
    out["cpu_seconds"] = cpu
    out["training"] = training
    return out


def _thin_curve(y: np.ndarray, score: np.ndarray, n: int = 200):
    """SIC curve on a log grid of signal efficiency (for plotting)."""
    tpr, sic, fpr = sic_curve(y, score)
    grid = np.linspace(0.0, 1.0, n)
    idx = np.clip(np.searchsorted(tpr, grid), 0, len(tpr) - 1)
    return {"eps_s": tpr[idx].tolist(), "sic": sic[idx].tolist(), "eps_b": fpr[idx].tolist()}


def scan_step(events_path: str | Path, bg_model: str | Path, transit_model: str | Path, out_json: str | Path,
              cfg: Config, source_width: float, seed: int,
              scan_seed: int, threads: int = 1) -> dict:
    """One seed of the injection scan (all methods), written as JSON."""
    from ...io import write_json
    from ..transit.model import load_transit
    from .background import load_background, load_split
    from .training import history_health

    split, regions = load_split(events_path, cfg, seed)
    flow, coef, bg_hp = load_background(bg_model)
    model, tr_hp = load_transit(transit_model)
    res = run_seed(split, flow, coef, model, regions, cfg, source_width, seed * 100 + scan_seed, threads,
                   cfg.curve_injection)
    res["scan_seed"] = scan_seed
    res["frozen_models"] = {"background_flow": history_health(bg_hp.get("history")),
                            "transit": history_health(tr_hp.get("history"))}
    write_json(out_json, res)
    return res
