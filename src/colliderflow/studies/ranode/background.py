"""Resonant anomaly detection on the LHC Olympics R&D features: what the
family shares -- data split, the frozen background model, classifiers and SIC.

Two studies use this module, the prepared data and one frozen background
model (step ``ranode.background``):

* ``ranode`` (R-ANODE, arXiv:2312.11629): ANODE, CATHODE, R-ANODE (w fixed
  true / fixed wrong / learnable), IAD and supervised over a signal-injection
  scan; max SIC vs S/sqrt(B) and learned w vs true w.
* ``transit`` (TRANSIT, Oleksiyuk et al.): a transport network morphs
  sideband events to signal-region masses; template closure AUC and a CWoLa
  classifier on data vs template.

Conventions. Events come from the AD table (:data:`colliderflow.data.lhco.AD_COLUMNS`,
TeV). The four features ``mj1, delta_mj, tau21_j1, tau21_j2`` are mapped to an
unbounded "flow space" (:func:`flow_space`: log masses, logit tau ratios);
every density and classifier works there (density *ratios* do not depend on
that choice). ``m`` is mjj in TeV. Shapes: features ``(N, 4)``, masses ``(N,)``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ...errors import InputError
from ...metrics import Stopwatch
from ...nn.flows import StandardizedFlow
from ...nn.train import TrainConfig, fit, seed_everything
from .config import Classifier, Config, Flow, Regions
from .methods import METHOD_LABELS, METHODS  # noqa: F401 (the family's method names live there)

log = logging.getLogger(__name__)

FEATURES = ["mj1", "delta_mj", "tau21_j1", "tau21_j2"]
FEATURE_LABELS = [r"$m_{J,\min}$ [TeV]", r"$\Delta m_J$ [TeV]", r"$\tau_{21}^{J_1}$", r"$\tau_{21}^{J_2}$"]


# --------------------------------------------------------------------------
# data: regions, feature space, splits, injection
# --------------------------------------------------------------------------


def flow_space(df: pd.DataFrame) -> np.ndarray:
    """(N, 4) unbounded features: log mj1, log delta_mj, logit tau21 (both jets)."""
    eps = 1e-4
    t = np.clip(df[["tau21_j1", "tau21_j2"]].to_numpy(float), eps, 1 - eps)
    return np.column_stack([
        np.log(np.clip(df["mj1"].to_numpy(float), eps, None)),
        np.log(np.clip(df["delta_mj"].to_numpy(float), 0, None) + 1e-3),
        np.log(t / (1 - t)),
    ]).astype(np.float32)


def from_flow_space(x: np.ndarray) -> np.ndarray:
    """Inverse of :func:`flow_space` back to (mj1, delta_mj, tau21_j1, tau21_j2)."""
    x = np.asarray(x, dtype=float)
    return np.column_stack([np.exp(x[:, 0]), np.exp(x[:, 1]) - 1e-3, 1 / (1 + np.exp(-x[:, 2])),
                            1 / (1 + np.exp(-x[:, 3]))])


def check_events(df: pd.DataFrame, source: str | Path="events") -> None:
    for c in ["mjj", *FEATURES, "label"]:
        if c not in df.columns:
            raise InputError(source, c, "column missing from the AD table")


@dataclass
class Split:
    """All samples one seed needs, in flow space (x) with masses (m).

    ``sb_*``: sideband training sample (background + the sideband tail of the
    signal at the largest injection); ``bg_data`` / ``bg_iad`` / ``bg_test``:
    disjoint SR background samples (data, the IAD's perfect background, the
    labelled test set); ``sig_inject`` / ``sig_sup`` / ``sig_test``: disjoint SR
    signal samples (injection reserve, supervised training, test).
    """
    sb_x: np.ndarray
    sb_m: np.ndarray
    bg_data: tuple
    bg_iad: tuple
    bg_test: tuple
    sig_inject: tuple
    sig_sup: tuple
    sig_test: tuple


def split_events(df: pd.DataFrame, regions: Regions, fractions: Sequence[float]=(0.6, 0.2, 0.2), max_injection: int = 0,
                 seed: int = 0, source: str | Path="events") -> Split:
    """Partition the AD table (fixed by ``seed``; the same for every injection).

    SR background and SR signal are each split by ``fractions`` into data /
    reference-or-supervised / test parts. The sidebands hold all background
    in them plus ``max_injection * (sideband/SR signal ratio)`` signal events,
    i.e. the sideband contamination of the largest injected sample.
    """
    check_events(df, source)
    rng = np.random.default_rng(seed)
    x, m, y = flow_space(df), df["mjj"].to_numpy(np.float32), df["label"].to_numpy()
    sr, sb = regions.sr(m), regions.sb(m)

    def parts(mask: np.ndarray):
        idx = rng.permutation(np.flatnonzero(mask))
        cuts = np.cumsum([int(round(f * len(idx))) for f in fractions[:-1]])
        return [(x[i], m[i]) for i in np.split(idx, cuts)]

    bg_data, bg_iad, bg_test = parts(sr & (y == 0))
    sig_inject, sig_sup, sig_test = parts(sr & (y == 1))
    if len(sig_inject[0]) < max_injection:
        raise InputError(source, "label",
                         f"only {len(sig_inject[0])} SR signal events for an injection of {max_injection}")
    sb_bg = np.flatnonzero(sb & (y == 0))
    sb_sig = np.flatnonzero(sb & (y == 1))
    n_sr_sig = max(int((sr & (y == 1)).sum()), 1)
    n_sb_sig = min(len(sb_sig), int(round(max_injection * len(sb_sig) / n_sr_sig)))
    sb_idx = np.concatenate([sb_bg, rng.choice(sb_sig, n_sb_sig, replace=False)])
    if len(sb_bg) < 100 or len(bg_data[0]) < 50:
        raise InputError(source, "mjj", f"too few events: {len(sb_bg)} sideband, {len(bg_data[0])} SR background")
    return Split(x[sb_idx], m[sb_idx], bg_data, bg_iad, bg_test, sig_inject, sig_sup, sig_test)


def inject(split: Split, n_sig: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SR 'data': all data-part background plus ``n_sig`` signal events drawn
    (seeded) from the injection reserve. Returns x, m, truth label."""
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(split.sig_inject[0]))[:n_sig]
    x = np.concatenate([split.bg_data[0], split.sig_inject[0][pick]])
    m = np.concatenate([split.bg_data[1], split.sig_inject[1][pick]])
    y = np.concatenate([np.zeros(len(split.bg_data[0])), np.ones(len(pick))])
    order = rng.permutation(len(x))
    return x[order], m[order], y[order]


def test_set(split: Split) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.concatenate([split.bg_test[0], split.sig_test[0]])
    m = np.concatenate([split.bg_test[1], split.sig_test[1]])
    y = np.concatenate([np.zeros(len(split.bg_test[0])), np.ones(len(split.sig_test[0]))])
    return x, m, y


# --------------------------------------------------------------------------
# background model p_B(x | m) p_B(m)
# --------------------------------------------------------------------------

def fit_mass_density(m_sb: np.ndarray, regions: Regions, bins: int = 40, degree: int = 2) -> np.ndarray:
    """Polynomial in (m - centre) fitted to log counts of the sideband mjj
    histogram (Poisson-weighted); interpolated into the SR as p_B(m)."""
    m_sb = np.asarray(m_sb, float)
    counts, edges = np.histogram(m_sb, bins=bins, range=(regions.sb_lo, regions.sb_hi))
    centres = 0.5 * (edges[1:] + edges[:-1])
    ok = (counts > 0) & ~regions.sr(centres) & ~regions.sr(edges[1:] - 1e-9) & ~regions.sr(edges[:-1])
    if ok.sum() <= degree + 1:
        raise InputError(None, "mjj", "too few populated sideband bins to fit p_B(mjj)")
    mid = 0.5 * (regions.sr_lo + regions.sr_hi)
    coef = np.polyfit(centres[ok] - mid, np.log(counts[ok]), degree, w=np.sqrt(counts[ok]))
    return np.concatenate([coef, [mid]])


def mass_log_density(m: np.ndarray, coef: np.ndarray, regions: Regions) -> np.ndarray:
    """log p_B(m), normalised to 1 over the SR."""
    poly, mid = coef[:-1], coef[-1]
    grid = np.linspace(regions.sr_lo, regions.sr_hi, 401)
    norm = np.trapezoid(np.exp(np.polyval(poly, grid - mid)), grid)
    return np.polyval(poly, np.asarray(m, float) - mid) - math.log(norm)


def flow_kwargs(cfg: Flow) -> dict:
    return dict(kind=cfg.kind, transforms=cfg.transforms, hidden=tuple(cfg.hidden), bins=cfg.bins)


def train_config(cfg: Any, seed: int, desc: str) -> TrainConfig:
    """The shared training loop's settings from a config with epochs, batch_size, lr, patience
    and optionally min_steps (a :class:`Flow` or the transit Config)."""
    return TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, patience=cfg.patience,
                       seed=seed, desc=desc, min_steps=getattr(cfg, "min_steps", 0))


def train_background_flow(x: np.ndarray, m: np.ndarray, flow_cfg: Flow, seed: int, max_events: int = 0) -> tuple[Any,
                          Any]:
    """Conditional flow p_B(x | m) on sideband events; returns (flow, history)."""
    if max_events and len(x) > max_events:
        pick = np.random.default_rng(seed).choice(len(x), max_events, replace=False)
        x, m = x[pick], m[pick]
    x, c = torch.as_tensor(x), torch.as_tensor(m).reshape(-1, 1)
    seed_everything(seed)
    flow = StandardizedFlow.fitted_to(x, c, **flow_kwargs(flow_cfg))
    hist = fit(flow, lambda f, b: f.nll(b), (x, c), train_config(flow_cfg, seed, "background flow"))
    return flow, hist


def log_prob(flow: Any, x: np.ndarray, m: np.ndarray | None = None, batch: int = 8192) -> np.ndarray:
    """Flow log-density in batches without gradients (m = context or None)."""
    out = []
    flow.eval()
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = torch.as_tensor(x[i:i + batch])
            cb = None if m is None else torch.as_tensor(m[i:i + batch]).reshape(-1, 1)
            out.append(flow.log_prob(xb, cb).numpy())
    return np.concatenate(out) if out else np.zeros(0)


def sample_background(flow: Any, m: np.ndarray, seed: int, batch: int = 8192) -> np.ndarray:
    """One p_B(x | m) sample per mass in ``m``."""
    torch.manual_seed(seed)
    out = []
    with torch.no_grad():
        for i in range(0, len(m), batch):
            out.append(flow.sample(c=torch.as_tensor(m[i:i + batch]).reshape(-1, 1)).numpy())
    x = np.concatenate(out)
    return x[np.isfinite(x).all(axis=1)]


# --------------------------------------------------------------------------
# scores and figures of merit
# --------------------------------------------------------------------------

def kfold(n: int, k: int, seed: int) -> np.ndarray:
    """Fold index (0..k-1) of each of n events, balanced and seeded."""
    return np.random.default_rng(seed).permutation(np.arange(n) % k)


def sic_curve(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(signal efficiency, SIC = eps_S / sqrt(eps_B), eps_B) from sklearn's ROC."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, score, drop_intermediate=False)  # keep every cut for the max
    with np.errstate(divide="ignore", invalid="ignore"):
        sic = np.where(fpr > 0, tpr / np.sqrt(fpr), 0.0)
    return tpr, sic, fpr


def max_sic(y: np.ndarray, score: np.ndarray, min_bkg_pass: int = 20) -> float:
    """Maximum SIC over cuts keeping at least ``min_bkg_pass`` test background
    events (limits the statistical spike at tiny background efficiency)."""
    tpr, sic, fpr = sic_curve(y, score)
    n_b = int((np.asarray(y) == 0).sum())
    ok = fpr * n_b >= min_bkg_pass
    return float(sic[ok].max()) if ok.any() else float("nan")


def classifier_scores(x1: np.ndarray, x0: np.ndarray, x_test: np.ndarray, cfg: Classifier, k: int, seed: int,
                      threads: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weak/idealised/supervised classifier: label-1 sample ``x1`` vs label-0
    sample ``x0`` (classes balanced by weights), k-fold: each fold's model
    scores its held-out part of ``x1`` (the 'every event scored' output) and
    the test set gets the mean of the k models' log-odds.

    Returns (test scores, held-out scores of x1, held-out scores of x0).
    """
    import xgboost

    X = np.concatenate([x1, x0])
    y = np.concatenate([np.ones(len(x1)), np.zeros(len(x0))])
    w = np.where(y == 1, 0.5 / len(x1), 0.5 / len(x0)) * len(X)
    folds = kfold(len(X), k, seed)
    held = np.zeros(len(X))
    test = np.zeros(len(x_test))
    rng = np.random.default_rng(seed + 1)
    for f in range(k):
        tr = np.flatnonzero(folds != f)
        val_mask = rng.random(len(tr)) < 0.2
        va, tr = tr[val_mask], tr[~val_mask]
        clf = xgboost.XGBClassifier(n_estimators=cfg.n_estimators, max_depth=cfg.max_depth,
                                    learning_rate=cfg.learning_rate, subsample=0.8, n_jobs=threads,
                                    min_child_weight=cfg.min_child_weight,
                                    early_stopping_rounds=cfg.early_stopping, eval_metric="logloss",
                                    random_state=seed + f, tree_method="hist")
        clf.fit(X[tr], y[tr], sample_weight=w[tr], eval_set=[(X[va], y[va])], sample_weight_eval_set=[w[va]],
                verbose=False)
        te = folds == f
        held[te] = clf.predict(X[te], output_margin=True)
        test += clf.predict(x_test, output_margin=True) / k
    return test, held[:len(x1)], held[len(x1):]


def closure_auc(template: np.ndarray, truth: np.ndarray, cfg: Classifier, k: int, seed: int, threads: int = 1) -> float:
    """AUC of a k-fold classifier separating ``template`` from ``truth`` on
    held-out events (0.5: indistinguishable, a closed template)."""
    from sklearn.metrics import roc_auc_score

    n = min(len(template), len(truth))
    rng = np.random.default_rng(seed)
    a, b = template[rng.permutation(len(template))[:n]], truth[rng.permutation(len(truth))[:n]]
    _, h1, h0 = classifier_scores(a, b, a[:1], cfg, k, seed, threads)
    return float(roc_auc_score(np.r_[np.ones(n), np.zeros(n)], np.r_[h1, h0]))


# --------------------------------------------------------------------------
# the data split and the saved background model (the steps of ranode.steps)
# --------------------------------------------------------------------------

def load_split(events_path: str | Path, cfg: Config, seed: int) -> tuple[Split, Regions]:
    """Read the prepared AD table and split it (the same split in every step)."""
    from ...io import read_table

    df, _ = read_table(events_path, columns=["mjj", *FEATURES, "label"])
    split = split_events(df, cfg.regions, tuple(cfg.split_fractions), max(cfg.injections), seed, events_path)
    return split, cfg.regions


def save_background(flow: Any, coef: np.ndarray, path: str | Path, hist: Any, cpu: float, regions: Regions) -> None:
    from ...nn.train import save_model

    save_model(flow, path, {**flow.hparams, "history": hist.as_dict(), "cpu_seconds": cpu,
                            "mass_coef": list(map(float, coef)), "regions": regions.__dict__})


def load_background(path: str | Path) -> tuple[Any, np.ndarray, dict]:
    from ...nn.train import load_state

    state, hp = load_state(path)
    flow = StandardizedFlow(hp["features"], hp["context"], kind=hp["kind"], transforms=hp["transforms"],
                            hidden=tuple(hp["hidden"]), bins=hp["bins"])
    flow.load_state_dict(state)
    flow.eval()
    return flow, np.asarray(hp["mass_coef"]), hp


def background_step(events_path: str | Path, out_model: str | Path, cfg: Config, seed: int) -> dict:
    """Train and save the frozen background model (flow + p_B(m) fit)."""
    split, regions = load_split(events_path, cfg, seed)
    with Stopwatch() as sw:
        flow, hist = train_background_flow(split.sb_x, split.sb_m, cfg.background_flow, seed,
                                           cfg.background_flow.max_events)
        coef = fit_mass_density(split.sb_m, regions)
    save_background(flow, coef, out_model, hist, sw.cpu, regions)
    return {"cpu_seconds": sw.cpu, "best_val": hist.best_val}


