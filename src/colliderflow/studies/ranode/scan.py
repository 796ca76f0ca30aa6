"""The injection scan of the resonant-AD family: ANODE, R-ANODE (and the
classifier methods of :mod:`.background`, TRANSIT from
:mod:`colliderflow.studies.transit.model`) on one seed (the aggregate over
seeds is :func:`.methods.aggregate`)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
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
from .jobs import METHODS

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
    ``warmup``: a learnable w stays at its start for the first ``warmup``
    optimiser steps (no gradient reaches it), so the signal flow can find the
    signal before w moves (issue 21: w fell before p_S had anything to fit).
    """

    def __init__(self, flow: StandardizedFlow, w: float, learnable: bool, w_scale: float = 1.0,
                 warmup: int = 0) -> None:
        super().__init__()
        self.flow = flow
        self.w_scale = float(w_scale)
        self.warmup, self.steps = int(warmup), 0
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
        if self.training and torch.is_grad_enabled():  # a training step (evaluation runs in eval mode)
            self.steps += 1
            if self.steps <= self.warmup:
                w = w.detach()
        return -torch.logaddexp(torch.log(w) + lps, torch.log1p(-w) + logpb).mean()


def ranode_scores(xm: np.ndarray, logpb: np.ndarray, xm_test: np.ndarray, logpb_test: np.ndarray, w: float,
                  learnable: bool, flow_cfg: dict, k: int, seed: int,
                  w_scale: float = 1.0, warmup: int = 0) -> tuple[np.ndarray, float]:
    """R-ANODE k-fold: returns (test score log p_S - log p_B, mean fitted w)."""
    folds = kfold(len(xm), k, seed)
    test, ws = np.zeros(len(xm_test)), []
    for f in range(k):
        tr = folds != f
        xt, lt = torch.as_tensor(xm[tr]), torch.as_tensor(logpb[tr], dtype=torch.float32)
        seed_everything(seed + f)
        model = RANODE(StandardizedFlow.fitted_to(xt, **flow_kwargs(flow_cfg)), w, learnable, w_scale, warmup)
        # eager even where the run compiles: the warm-up's step counter is a Python int, which torch.compile
        # treats as a constant, so every step would recompile
        fit(model, lambda mdl, b: mdl.nll(b), (xt, lt),
            replace(train_config(flow_cfg, seed + f, f"R-ANODE fold {f}"), compile=False))
        ws.append(float(model.w.detach()))
        test += (log_prob(model.flow, xm_test) - logpb_test) / k
    return test, float(np.mean(ws))


# --------------------------------------------------------------------------
# one cell (or several) of the injection scan
# --------------------------------------------------------------------------

#: seed offset of the training split ``p`` (fold partition and initialisation of the SR models); split 0 trains
#: with the injection's own seed, as before splits existed
SPLIT_STRIDE = 10_000_000


def run_cell(split: Split, bg_flow: Any, mass_coef: np.ndarray, transit_model: Any, regions: Regions, cfg: Config,
             source_width: float, seed: int, threads: int = 1, curve_injection: int | None = None,
             methods: Sequence[str] = METHODS, injections: Sequence[int] | None = None, split_index: int = 0) -> dict:
    """``methods`` at ``injections`` (default: every method at every injection
    of ``cfg.injections``) for one seed and one training split.

    ``cfg``: the ``studies.ranode`` section (injections, kfold, classifier,
    signal_flow, anode_flow, oversample, w_wrong_factor, w_floor,
    min_bkg_pass); ``source_width``: studies.transit.source_width (TRANSIT's
    source sidebands). ``seed`` fixes the injected signal sample; the split
    ``split_index`` shifts the seed of everything trained or drawn after the
    injection (split 0: the injection's seed).
    Returns a JSON-ready dict: per injection the max SIC of each method, the
    true and learned w, CPU seconds per method, health records per method and
    injection, and SIC curves at ``curve_injection``. The supervised
    classifier (independent of the injection) is trained once: its max SIC is
    ``supervised_max_sic`` and is copied into every injection of the cell.
    """
    ccfg = cfg.classifier
    k = cfg.kfold
    injections = tuple(cfg.injections) if injections is None else tuple(injections)
    shift = SPLIT_STRIDE * int(split_index)
    xt, mt, yt = test_set(split)
    n_bg = len(split.bg_data[0])
    out = {"seed": seed, "split": int(split_index), "methods": list(methods), "n_background_sr": n_bg,
           "n_test_background": int((yt == 0).sum()), "n_test_signal": int((yt == 1).sum()), "injections": {},
           "curves": {}}
    cpu: dict = {}
    training: dict = {}  # method -> n_sig -> health records of its trainings (folds)
    cache: dict = {}

    def shared(key: str, fn: Callable):
        """Computed once per cell, only when a method needs it (not charged to a method)."""
        if key not in cache:
            cache[key] = fn()
        return cache[key]

    def timed(name: str, fn: Callable, *a, n_sig: int | None = None, **kw):
        first = len(health.RECORDS)
        with Stopwatch() as sw:
            r = fn(*a, **kw)
        cpu[name] = cpu.get(name, 0.0) + sw.cpu
        if n_sig is not None and len(health.RECORDS) > first:
            training.setdefault(name, {})[str(int(n_sig))] = [rec for _, rec in health.RECORDS[first:]]
        return r

    logpb_x_test = lambda: shared("logpb_x_test", lambda: log_prob(bg_flow, xt, mt))  # noqa: E731
    msic = lambda s: max_sic(yt, s, cfg.min_bkg_pass)  # noqa: E731
    curve_here = lambda n: curve_injection is not None and int(n) == int(curve_injection)  # noqa: E731
    if "supervised" in methods:
        sup = timed("supervised", classifier_scores, split.sig_sup[0], split.bg_iad[0], xt, ccfg, k, seed + shift,
                    threads)[0]
        out["supervised_max_sic"] = msic(sup)
        if curve_injection is not None and (not injections or any(curve_here(n) for n in injections)):
            out["curves"]["supervised"] = _thin_curve(yt, sup)
    for n_sig in injections:
        s = seed * 1000 + int(n_sig)
        ts = s + shift
        x, m, _ = inject(split, int(n_sig), s)
        w_true = n_sig / len(x)
        w_fix = max(w_true, cfg.w_floor)
        res = {"n_sig": int(n_sig), "s_over_sqrt_b": n_sig / math.sqrt(n_bg), "w_true": w_true,
               "w_fixed_true": w_fix, "w_fixed_wrong": w_fix * cfg.w_wrong_factor, "max_sic": {}}
        scores = {}
        if "supervised" in methods:
            scores["supervised"] = sup
        if "iad" in methods:
            scores["iad"] = timed("iad", classifier_scores, x, split.bg_iad[0], xt, ccfg, k, ts, threads)[0]
        if "anode" in methods:
            scores["anode"] = timed("anode", anode_scores, x, m, xt, mt, logpb_x_test(), cfg.anode_flow, k, ts,
                                    n_sig=n_sig)
        rng = np.random.default_rng(ts)
        m_samp = m[rng.integers(0, len(m), int(cfg.oversample * len(m)))]  # CATHODE's and TRANSIT's target masses
        if "cathode" in methods:
            bg_samples = timed("cathode", sample_background, bg_flow, m_samp, ts)
            scores["cathode"] = timed("cathode", classifier_scores, x, bg_samples, xt, ccfg, k, ts, threads)[0]
        if "transit" in methods or "untransported" in methods:
            tsx, tsm = shared("near_sidebands", lambda: near_sidebands(split.sb_x, split.sb_m, regions, source_width))
            # the template is TRANSIT's cost (the untransported null's when TRANSIT is not computed)
            template = timed("transit" if "transit" in methods else "untransported", transit_template, transit_model,
                             tsx, tsm, m_samp, ts)
            if "transit" in methods:
                scores["transit"] = timed("transit", classifier_scores, x, template, xt, ccfg, k, ts, threads)[0]
            if "untransported" in methods:
                # TRANSIT's null: the same sideband events, not transported (the identity map)
                raw = tsx[np.random.default_rng(ts + 1).integers(0, len(tsx), len(template))]
                scores["untransported"] = timed("untransported", classifier_scores, x, raw, xt, ccfg, k, ts,
                                                threads)[0]
        variants = {"ranode_true_w": (w_fix, False), "ranode_wrong_w": (w_fix * cfg.w_wrong_factor, False),
                    "ranode_learn_w": (cfg.w_init, True)}
        variants = {name: v for name, v in variants.items() if name in methods}
        if variants:
            logpb_test = shared("logpb_test", lambda: logpb_x_test() + mass_log_density(mt, mass_coef, regions))
            xm_test = shared("xm_test", lambda: np.column_stack([xt, mt]).astype(np.float32))
            logpb = log_prob(bg_flow, x, m) + mass_log_density(m, mass_coef, regions)
            xm = np.column_stack([x, m]).astype(np.float32)
        for name, (w0, learn) in variants.items():
            sc, w_fit = timed(name, ranode_scores, xm, logpb, xm_test, logpb_test, w0, learn, cfg.signal_flow, k, ts,
                              cfg.w_lr_scale, cfg.w_warmup_steps, n_sig=n_sig)
            scores[name] = sc
            if learn:
                res["w_learned"] = w_fit
        res["max_sic"] = {k_: (out["supervised_max_sic"] if k_ == "supervised" else msic(v))
                          for k_, v in scores.items()}
        out["injections"][str(int(n_sig))] = res
        log.info("seed %d split %d n_sig %d: %s", seed, split_index, n_sig,
                 {k_: round(v, 2) for k_, v in res["max_sic"].items()})
        if curve_here(n_sig):
            out["curves"].update({name: _thin_curve(yt, sc) for name, sc in scores.items()})
    out["cpu_seconds"] = cpu
    out["training"] = training
    return out


def run_seed(split: Split, bg_flow: Any, mass_coef: np.ndarray, transit_model: Any, regions: Regions, cfg: Config,
             source_width: float, seed: int, threads: int = 1, curve_injection: int | None = None) -> dict:
    """Every method at every injection of ``cfg.injections`` for one seed (split 0)."""
    return run_cell(split, bg_flow, mass_coef, transit_model, regions, cfg, source_width, seed, threads,
                    curve_injection)


def _thin_curve(y: np.ndarray, score: np.ndarray, n: int = 200):
    """SIC curve on a log grid of signal efficiency (for plotting)."""
    tpr, sic, fpr = sic_curve(y, score)
    grid = np.linspace(0.0, 1.0, n)
    idx = np.clip(np.searchsorted(tpr, grid), 0, len(tpr) - 1)
    return {"eps_s": tpr[idx].tolist(), "sic": sic[idx].tolist(), "eps_b": fpr[idx].tolist()}


def scan_step(events_path: str | Path, bg_model: str | Path, transit_model: str | Path | None, out_json: str | Path,
              cfg: Config, source_width: float, seed: int, scan_seed: int, threads: int = 1, method: str = "all",
              n_sig: str = "all", split_index: int = 0) -> dict:
    """One job of the injection scan (wildcards method, n_sig, scan_seed,
    split; see :mod:`.jobs`), written as JSON."""
    from ...io import write_json
    from .background import load_background, load_split
    from .jobs import injections_of, methods_of, needs_transit
    from .training import history_health

    methods, injections = methods_of(method, cfg.methods), injections_of(n_sig, cfg.injections)
    if n_sig != "all" and "supervised" in methods:
        raise ValueError("the supervised classifier does not depend on the injection: its job has n_sig = all")
    split, regions = load_split(events_path, cfg, seed)
    flow, coef, bg_hp = load_background(bg_model)
    model, tr_hp = None, {}
    if needs_transit(method, cfg.methods):
        from ..transit.model import load_transit

        model, tr_hp = load_transit(transit_model)
    res = run_cell(split, flow, coef, model, regions, cfg, source_width, seed * 100 + scan_seed, threads,
                   cfg.curve_injection, methods=methods, injections=() if methods == ("supervised",) else injections,
                   split_index=split_index)
    res["scan_seed"] = scan_seed
    res["frozen_models"] = {"background_flow": history_health(bg_hp.get("history")),
                            "transit": history_health(tr_hp.get("history"))}
    write_json(out_json, res)
    return res
