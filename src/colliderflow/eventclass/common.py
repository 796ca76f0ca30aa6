"""Pieces the three event-classification studies share: labelled samples
from toy NanoAOD files, engineered features for the BDT, torch classifier
training/prediction and the XGBoost baseline."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from ..data.kinematics import p4
from ..errors import InputError
from ..nn.train import History, TrainConfig, fit
from . import EncoderConfig
from .encoder import N_OBJECTS, epochs_for, objects

TOP_MASS = 172.5


def split_indices(n: int, parts: dict[str, float], seed: int) -> dict[str, np.ndarray]:
    """Disjoint random index sets of ``n`` rows with the given fractions."""
    perm = np.random.default_rng(seed).permutation(n)
    out, start = {}, 0
    for name, frac in parts.items():
        stop = start + int(round(frac * n))
        out[name] = np.sort(perm[start:stop])
        start = stop
    return out


def labelled(tables: dict[str, pd.DataFrame], signal: str, background: str, idx: dict[str, np.ndarray] | None = None
             ) -> tuple[pd.DataFrame, np.ndarray]:
    """Concatenate signal (y=1) and background (y=0) rows."""
    for name in (signal, background):
        if name not in tables:
            raise InputError("config", "signal/background", f"process {name!r} not among the inputs {sorted(tables)}")
    s, b = tables[signal], tables[background]
    if idx is not None:
        s, b = s.iloc[idx[signal]], b.iloc[idx[background]]
    df = pd.concat([s, b], ignore_index=True)
    y = np.r_[np.ones(len(s)), np.zeros(len(b))].astype(np.float32)
    return df, y


def balanced_subset(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` row indices, half of each class."""
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    k = min(n // 2, len(pos), len(neg))
    return np.r_[rng.choice(pos, k, replace=False), rng.choice(neg, k, replace=False)]


def _p4_slots(table: pd.DataFrame, coll: str, k: int):
    cols = lambda q: np.stack([table[f"{coll}{i}_{q}"] for i in range(k)], 1)  # noqa: E731
    m = np.stack([table[f"{coll}{i}_mask"] for i in range(k)], 1) > 0
    v = p4(cols("pt").ravel(), cols("eta").ravel(), cols("phi").ravel(), cols("mass").ravel())
    arr = {q: np.where(m, np.asarray(getattr(v, q)).reshape(m.shape), 0.0) for q in ("px", "py", "pz", "E")}
    return arr, m


def engineered(table: pd.DataFrame) -> pd.DataFrame:
    """High-level features a physicist would give a BDT: HT, jet and b-jet
    multiplicities, MET, lepton pT, transverse mass, visible mass, the four
    leading jet pTs and the best hadronic-top candidate (3 jets closest to m_t)."""
    jets, jm = _p4_slots(table, "Jet", N_OBJECTS["Jet"])
    mu, mm = _p4_slots(table, "Muon", N_OBJECTS["Muon"])
    el, em = _p4_slots(table, "Electron", N_OBJECTS["Electron"])
    f = pd.DataFrame(index=table.index)
    jpt = np.stack([table[f"Jet{i}_pt"] * table[f"Jet{i}_mask"] for i in range(N_OBJECTS["Jet"])], 1)
    f["ht"] = jpt.sum(1)
    f["n_jets"] = jm.sum(1)
    f["n_b"] = sum(((table[f"Jet{i}_btagDeepFlavB"] > 0.5) & (table[f"Jet{i}_mask"] > 0)).astype(float)
                   for i in range(N_OBJECTS["Jet"]))
    f["met"] = table["MET_pt"]
    lep_pt = np.where(table["Muon0_pt"] > table["Electron0_pt"], table["Muon0_pt"], table["Electron0_pt"])
    lep_phi = np.where(table["Muon0_pt"] > table["Electron0_pt"], table["Muon0_phi"], table["Electron0_phi"])
    f["lep_pt"] = lep_pt
    f["n_lep"] = mm.sum(1) + em.sum(1)
    f["mt"] = np.sqrt(np.maximum(2 * lep_pt * table["MET_pt"] * (1 - np.cos(lep_phi - table["MET_phi"])), 0))
    tot = {q: jets[q].sum(1) + mu[q].sum(1) + el[q].sum(1) for q in ("px", "py", "pz", "E")}
    tot["px"] = tot["px"] + table["MET_pt"] * np.cos(table["MET_phi"])
    tot["py"] = tot["py"] + table["MET_pt"] * np.sin(table["MET_phi"])
    tot["E"] = tot["E"] + table["MET_pt"]
    f["m_vis"] = np.sqrt(np.maximum(tot["E"] ** 2 - tot["px"] ** 2 - tot["py"] ** 2 - tot["pz"] ** 2, 0))
    for i in range(4):
        f[f"jet{i}_pt"] = jpt[:, i]
    best = np.full(len(table), np.inf)
    best_m, best_pt = np.zeros(len(table)), np.zeros(len(table))
    for c in combinations(range(N_OBJECTS["Jet"]), 3):
        s = {q: sum(jets[q][:, i] for i in c) for q in jets}
        m = np.sqrt(np.maximum(s["E"] ** 2 - s["px"] ** 2 - s["py"] ** 2 - s["pz"] ** 2, 0))
        ok = jm[:, list(c)].all(1) & (np.abs(m - TOP_MASS) < best)
        best = np.where(ok, np.abs(m - TOP_MASS), best)
        best_m = np.where(ok, m, best_m)
        best_pt = np.where(ok, np.hypot(s["px"], s["py"]), best_pt)
    f["m_top_best"] = best_m
    f["pt_top_best"] = best_pt
    return f


def train_xgb(x_tr: np.ndarray, y_tr: np.ndarray, x_te: np.ndarray, seed: int, n_estimators: int = 200,
              max_depth: int = 4, threads: int = 1, name: str | None = None) -> np.ndarray:
    """Gradient-boosted trees (xgboost) on the engineered features; returns test scores. With ``name``,
    the training's health is recorded (:func:`xgb_health`)."""
    import xgboost

    clf = xgboost.XGBClassifier(n_estimators=n_estimators, max_depth=max_depth, learning_rate=0.1, subsample=0.8,
                                random_state=seed, n_jobs=threads, tree_method="hist", eval_metric="logloss")
    clf.fit(np.asarray(x_tr), y_tr)
    if name is not None:
        from .. import health

        health.add(name, xgb_health(clf, np.asarray(x_tr), np.asarray(y_tr), n_estimators))
    return clf.predict_proba(np.asarray(x_te))[:, 1]


def xgb_health(clf: object, x: np.ndarray, y: np.ndarray, rounds: int, min_improvement: float = 1e-3) -> dict:
    """Did boosting learn? The BDT has no held-out set (all its events train it), so its training log-loss
    must fall by ``min_improvement`` from that of the base rate (the constant prediction mean(y), where
    boosting starts)."""
    from sklearn.metrics import log_loss

    from .. import health

    p0 = float(np.clip(np.mean(y), 1e-7, 1 - 1e-7))
    initial = log_loss(y, np.full(len(y), p0), labels=[0, 1])
    final = log_loss(y, clf.predict_proba(x)[:, 1], labels=[0, 1])
    crit = (f"training log-loss falls by >= {min_improvement:g} from the base rate's (xgboost, {rounds} rounds; "
            "no held-out set)")
    return {**health.record(initial, final, final, rounds, min_improvement, criterion=crit), "device": "cpu"}


def torch_inputs(table: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
    raw, mask = objects(table)
    return torch.as_tensor(raw), torch.as_tensor(mask)


def train_torch(model: nn.Module, inputs: list[torch.Tensor], y: np.ndarray, cfg: TrainConfig, target_steps: int,
                max_epochs: int, aux_loss: Callable | None = None, aux_weight: float = 0.0) -> History:
    """Binary classifier training through the shared loop: BCE on
    ``model(*inputs)[0]`` (+ ``aux_weight * aux_loss(model_out, batch)``)."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits

    def loss_fn(m: nn.Module, batch: list[torch.Tensor]):
        *x, yb = batch
        out = m(*x)
        loss = bce(out[0], yb)
        if aux_loss is not None and aux_weight > 0:
            loss = loss + aux_weight * aux_loss(out, x)
        return loss

    n_tr = int(len(y) * (1 - cfg.val_fraction))
    cfg = replace(cfg, epochs=epochs_for(n_tr, cfg.batch_size, target_steps, max_epochs))
    return fit(model, loss_fn, [*inputs, torch.as_tensor(y)], cfg)


@torch.no_grad()
def predict(model: nn.Module, inputs: list[torch.Tensor], batch_size: int = 4096) -> np.ndarray:
    model.eval()
    n = len(inputs[0])
    out = [torch.sigmoid(model(*(t[i:i + batch_size] for t in inputs))[0]) for i in range(0, n, batch_size)]
    return torch.cat(out).numpy()


def auc(y: np.ndarray, s: np.ndarray) -> float:
    return float(roc_auc_score(y, s))


def auc_curves(m: dict, curves: list[tuple[str, str, str]], xlabel: str, title: str, path: str | Path, rlabel: str = ""
               ) -> list:
    """Test AUC (mean +- spread over seeds) vs training size for several
    models: ``curves`` = [(key in m["auc"], marker, legend label)]."""
    from .. import plotting

    plotting.style()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 7))
    sizes = m["sizes"]
    for key, marker, lab in curves:
        mean = [m["auc"][key][str(s)]["mean"] for s in sizes]
        std = [m["auc"][key][str(s)]["std"] for s in sizes]
        ax.errorbar(sizes, mean, yerr=std, marker=marker, capsize=3, label=lab)
    ax.set_xscale("log")
    # ticks at the training sizes: a log axis spanning about a decade labels its
    # minor ticks too (2x10^2, 3x10^2, ...), and those run into each other
    from matplotlib.ticker import NullFormatter

    ax.set_xticks(sizes, [f"{s:g}" for s in sizes])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test AUC")
    ax.text(0.03, 0.96, title, transform=ax.transAxes, va="top", fontsize=13)
    ax.legend(fontsize=13, loc="lower right")
    plotting.label(ax, "", rlabel=rlabel)
    return plotting.save(fig, path)


#: training settings the event-classification steps share (not configurable, as before)
BATCH_SIZE, LR, PATIENCE = 128, 2e-3, 6


def encoder_hp(enc: EncoderConfig) -> dict:
    """The encoder section as the hyper-parameter dict of :func:`build_encoder`."""
    return {"dim": enc.dim, "heads": enc.heads, "layers": enc.layers, "out_dim": enc.out_dim}


def train_config(seed: int, **kw) -> TrainConfig:
    """The shared training settings (batch 128, lr 2e-3, patience 6), ``kw`` overriding."""
    return TrainConfig(**{"batch_size": BATCH_SIZE, "lr": LR, "patience": PATIENCE, "seed": seed, **kw})


def process_files(paths: list[str]) -> dict[str, str]:
    """{process: path} of toy NanoAOD files named ``<process>.root``."""
    return {os.path.basename(p).removesuffix(".root"): str(p) for p in paths}
