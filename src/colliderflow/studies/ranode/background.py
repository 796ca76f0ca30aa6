"""Resonant anomaly detection on the LHC Olympics R&D features: one family.

Two studies share this module, the prepared data and one frozen background
model:

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
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..errors import InputError
from ..metrics import Stopwatch
from ..nn.flows import StandardizedFlow
from ..nn.train import TrainConfig, fit, seed_everything

log = logging.getLogger(__name__)

FEATURES = ["mj1", "delta_mj", "tau21_j1", "tau21_j2"]
FEATURE_LABELS = [r"$m_{J,\min}$ [TeV]", r"$\Delta m_J$ [TeV]", r"$\tau_{21}^{J_1}$", r"$\tau_{21}^{J_2}$"]
METHODS = ["supervised", "iad", "anode", "cathode", "ranode_true_w", "ranode_wrong_w", "ranode_learn_w", "transit"]
METHOD_LABELS = {
    "supervised": "Supervised", "iad": "IAD (idealised)", "anode": "ANODE", "cathode": "CATHODE",
    "ranode_true_w": "R-ANODE (true $w$)", "ranode_wrong_w": "R-ANODE (wrong $w$)",
    "ranode_learn_w": "R-ANODE (learned $w$)", "transit": "TRANSIT (CWoLa)",
}


# --------------------------------------------------------------------------
# data: regions, feature space, splits, injection
# --------------------------------------------------------------------------

@dataclass
class Regions:
    """Signal region [sr_lo, sr_hi) and sidebands [sb_lo, sr_lo) + [sr_hi, sb_hi) in TeV."""
    sr_lo: float = 3.3
    sr_hi: float = 3.7
    sb_lo: float = 2.6
    sb_hi: float = 5.0

    def __post_init__(self):
        if not (self.sb_lo < self.sr_lo < self.sr_hi < self.sb_hi):
            raise InputError(None, "studies.ranode.regions", f"need sb_lo < sr_lo < sr_hi < sb_hi, got {self}")

    def sr(self, m):
        m = np.asarray(m)
        return (m >= self.sr_lo) & (m < self.sr_hi)

    def sb(self, m):
        m = np.asarray(m)
        return ((m >= self.sb_lo) & (m < self.sr_lo)) | ((m >= self.sr_hi) & (m < self.sb_hi))


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


def check_events(df: pd.DataFrame, source="events") -> None:
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


def split_events(df: pd.DataFrame, regions: Regions, fractions=(0.6, 0.2, 0.2), max_injection: int = 0,
                 seed: int = 0, source="events") -> Split:
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

    def parts(mask):
        idx = rng.permutation(np.flatnonzero(mask))
        cuts = np.cumsum([int(round(f * len(idx))) for f in fractions[:-1]])
        return [(x[i], m[i]) for i in np.split(idx, cuts)]

    bg_data, bg_iad, bg_test = parts(sr & (y == 0))
    sig_inject, sig_sup, sig_test = parts(sr & (y == 1))
    if len(sig_inject[0]) < max_injection:
        raise InputError(source, "label", f"only {len(sig_inject[0])} SR signal events for an injection of {max_injection}")
    sb_bg = np.flatnonzero(sb & (y == 0))
    sb_sig = np.flatnonzero(sb & (y == 1))
    n_sr_sig = max(int((sr & (y == 1)).sum()), 1)
    n_sb_sig = min(len(sb_sig), int(round(max_injection * len(sb_sig) / n_sr_sig)))
    sb_idx = np.concatenate([sb_bg, rng.choice(sb_sig, n_sb_sig, replace=False)])
    if len(sb_bg) < 100 or len(bg_data[0]) < 50:
        raise InputError(source, "mjj", f"too few events: {len(sb_bg)} sideband, {len(bg_data[0])} SR background")
    return Split(x[sb_idx], m[sb_idx], bg_data, bg_iad, bg_test, sig_inject, sig_sup, sig_test)


def inject(split: Split, n_sig: int, seed: int):
    """SR 'data': all data-part background plus ``n_sig`` signal events drawn
    (seeded) from the injection reserve. Returns x, m, truth label."""
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(split.sig_inject[0]))[:n_sig]
    x = np.concatenate([split.bg_data[0], split.sig_inject[0][pick]])
    m = np.concatenate([split.bg_data[1], split.sig_inject[1][pick]])
    y = np.concatenate([np.zeros(len(split.bg_data[0])), np.ones(len(pick))])
    order = rng.permutation(len(x))
    return x[order], m[order], y[order]


def test_set(split: Split):
    x = np.concatenate([split.bg_test[0], split.sig_test[0]])
    m = np.concatenate([split.bg_test[1], split.sig_test[1]])
    y = np.concatenate([np.zeros(len(split.bg_test[0])), np.ones(len(split.sig_test[0]))])
    return x, m, y


# --------------------------------------------------------------------------
# background model p_B(x | m) p_B(m)
# --------------------------------------------------------------------------

def fit_mass_density(m_sb, regions: Regions, bins: int = 40, degree: int = 2) -> np.ndarray:
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


def mass_log_density(m, coef, regions: Regions) -> np.ndarray:
    """log p_B(m), normalised to 1 over the SR."""
    poly, mid = coef[:-1], coef[-1]
    grid = np.linspace(regions.sr_lo, regions.sr_hi, 401)
    norm = np.trapezoid(np.exp(np.polyval(poly, grid - mid)), grid)
    return np.polyval(poly, np.asarray(m, float) - mid) - math.log(norm)


def flow_kwargs(cfg: dict) -> dict:
    return dict(kind=cfg["kind"], transforms=cfg["transforms"], hidden=tuple(cfg["hidden"]), bins=cfg.get("bins", 8))


def train_config(cfg: dict, seed: int, desc: str) -> TrainConfig:
    return TrainConfig(epochs=cfg["epochs"], batch_size=cfg["batch_size"], lr=cfg["lr"], patience=cfg["patience"],
                       seed=seed, desc=desc)


def train_background_flow(x, m, flow_cfg: dict, seed: int, max_events: int = 0):
    """Conditional flow p_B(x | m) on sideband events; returns (flow, history)."""
    if max_events and len(x) > max_events:
        pick = np.random.default_rng(seed).choice(len(x), max_events, replace=False)
        x, m = x[pick], m[pick]
    x, c = torch.as_tensor(x), torch.as_tensor(m).reshape(-1, 1)
    seed_everything(seed)
    flow = StandardizedFlow.fitted_to(x, c, **flow_kwargs(flow_cfg))
    hist = fit(flow, lambda f, b: f.nll(b), (x, c), train_config(flow_cfg, seed, "background flow"))
    return flow, hist


def log_prob(flow, x, m=None, batch: int = 8192) -> np.ndarray:
    """Flow log-density in batches without gradients (m = context or None)."""
    out = []
    flow.eval()
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = torch.as_tensor(x[i:i + batch])
            cb = None if m is None else torch.as_tensor(m[i:i + batch]).reshape(-1, 1)
            out.append(flow.log_prob(xb, cb).numpy())
    return np.concatenate(out) if out else np.zeros(0)


def sample_background(flow, m, seed: int, batch: int = 8192) -> np.ndarray:
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

def kfold(n: int, k: int, seed: int):
    """Fold index (0..k-1) of each of n events, balanced and seeded."""
    return np.random.default_rng(seed).permutation(np.arange(n) % k)


def sic_curve(y, score):
    """(signal efficiency, SIC = eps_S / sqrt(eps_B), eps_B) from sklearn's ROC."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, score, drop_intermediate=False)  # keep every cut for the max
    with np.errstate(divide="ignore", invalid="ignore"):
        sic = np.where(fpr > 0, tpr / np.sqrt(fpr), 0.0)
    return tpr, sic, fpr


def max_sic(y, score, min_bkg_pass: int = 20) -> float:
    """Maximum SIC over cuts keeping at least ``min_bkg_pass`` test background
    events (limits the statistical spike at tiny background efficiency)."""
    tpr, sic, fpr = sic_curve(y, score)
    n_b = int((np.asarray(y) == 0).sum())
    ok = fpr * n_b >= min_bkg_pass
    return float(sic[ok].max()) if ok.any() else float("nan")


def classifier_scores(x1, x0, x_test, cfg: dict, seed: int, threads: int = 1):
    """Weak/idealised/supervised classifier: label-1 sample ``x1`` vs label-0
    sample ``x0`` (classes balanced by weights), k-fold: each fold's model
    scores its held-out part of ``x1`` (the 'every event scored' output) and
    the test set gets the mean of the k models' log-odds.

    Returns (test scores, held-out scores of x1, held-out scores of x0).
    """
    import xgboost

    k = cfg["kfold"]
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
        clf = xgboost.XGBClassifier(n_estimators=cfg["n_estimators"], max_depth=cfg["max_depth"],
                                    learning_rate=cfg["learning_rate"], subsample=0.8, n_jobs=threads,
                                    min_child_weight=cfg["min_child_weight"],
                                    early_stopping_rounds=cfg["early_stopping"], eval_metric="logloss",
                                    random_state=seed + f, tree_method="hist")
        clf.fit(X[tr], y[tr], sample_weight=w[tr], eval_set=[(X[va], y[va])], sample_weight_eval_set=[w[va]],
                verbose=False)
        te = folds == f
        held[te] = clf.predict(X[te], output_margin=True)
        test += clf.predict(x_test, output_margin=True) / k
    return test, held[:len(x1)], held[len(x1):]


def closure_auc(template, truth, cfg: dict, seed: int, threads: int = 1) -> float:
    """AUC of a k-fold classifier separating ``template`` from ``truth`` on
    held-out events (0.5: indistinguishable, a closed template)."""
    from sklearn.metrics import roc_auc_score

    n = min(len(template), len(truth))
    rng = np.random.default_rng(seed)
    a, b = template[rng.permutation(len(template))[:n]], truth[rng.permutation(len(truth))[:n]]
    _, h1, h0 = classifier_scores(a, b, a[:1], cfg, seed, threads)
    return float(roc_auc_score(np.r_[np.ones(n), np.zeros(n)], np.r_[h1, h0]))


def anode_scores(x, m, x_test, m_test, logpb_test, flow_cfg: dict, k: int, seed: int):
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

    def __init__(self, flow: StandardizedFlow, w: float, learnable: bool, w_scale: float = 1.0):
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

    def nll(self, batch):
        xm, logpb = batch
        lps = self.flow.log_prob(xm)
        w = self.w
        return -torch.logaddexp(torch.log(w) + lps, torch.log1p(-w) + logpb).mean()


def ranode_scores(xm, logpb, xm_test, logpb_test, w: float, learnable: bool, flow_cfg: dict, k: int, seed: int,
                  w_scale: float = 1.0):
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
# TRANSIT: mass-conditioned transport of sideband events into the SR
# --------------------------------------------------------------------------

def _mlp(n_in, n_out, hidden):
    layers, d = [], n_in
    for h in hidden:
        layers += [torch.nn.Linear(d, h), torch.nn.SiLU()]
        d = h
    return torch.nn.Sequential(*layers, torch.nn.Linear(d, n_out))


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

    def __init__(self, n_features: int, hidden, x_mean, x_std, m_mean, m_std,
                 w_consistency: float = 1.0, w_adversary: float = 1.0):
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

    def _m(self, m):
        return ((m.reshape(-1, 1) - self.m_mean) / self.m_std)

    def encode(self, xs, m):
        return xs + self.enc(torch.cat([xs, self._m(m)], 1))

    def decode(self, z, m):
        return z + self.dec(torch.cat([z, self._m(m)], 1))

    def loss(self, batch):
        x, m = batch
        xs = (x - self.x_mean) / self.x_std
        z = self.encode(xs, m)
        rec = ((self.decode(z, m) - xs) ** 2).mean()
        m2 = m[torch.randperm(len(m))]
        z2 = self.encode(self.decode(z, m2), m2)
        cons = ((z2 - z.detach()) ** 2).mean() + ((z2 - z) ** 2).mean()
        # adversary learns m from the (detached) latent; the encoder is penalised by the
        # spread of the frozen adversary's predictions (zero when z carries no mass information)
        adv = ((self.adv(z.detach()).squeeze(1) - self._m(m).squeeze(1)) ** 2).mean()
        frozen = {k: v.detach() for k, v in self.adv.named_parameters()}
        pred = torch.func.functional_call(self.adv, frozen, (z,)).squeeze(1)
        h = self.hparams
        return rec + h["w_consistency"] * cons + adv + h["w_adversary"] * pred.var()

    @torch.no_grad()
    def transport(self, x, m_from, m_to):
        self.eval()
        xs = (torch.as_tensor(x) - self.x_mean) / self.x_std
        out = self.decode(self.encode(xs, torch.as_tensor(m_from)), torch.as_tensor(m_to))
        return (out * self.x_std + self.x_mean).numpy()


def train_transit(x, m, cfg: dict, seed: int, max_events: int = 0):
    """Train :class:`Transit` on sideband events; returns (model, history)."""
    if max_events and len(x) > max_events:
        pick = np.random.default_rng(seed).choice(len(x), max_events, replace=False)
        x, m = x[pick], m[pick]
    xt, mt = torch.as_tensor(x), torch.as_tensor(m)
    seed_everything(seed)
    model = Transit(x.shape[1], cfg["hidden"], xt.mean(0), xt.std(0), mt.mean(), mt.std(),
                    cfg["w_consistency"], cfg["w_adversary"])
    hist = fit(model, lambda mdl, b: mdl.loss(b), (xt, mt), train_config(cfg, seed, "TRANSIT"))
    return model, hist


def transit_template(model: Transit, sb_x, sb_m, m_target, seed: int) -> np.ndarray:
    """Template of SR background: sideband events (drawn with replacement)
    transported to the target SR masses ``m_target`` (one per target)."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(sb_x), len(m_target))
    out = model.transport(sb_x[pick], sb_m[pick], np.asarray(m_target, np.float32))
    return out[np.isfinite(out).all(axis=1)]


def near_sidebands(x, m, regions: Regions, width: float):
    """Sideband events within ``width`` TeV of the SR edges (TRANSIT sources)."""
    sel = ((m >= regions.sr_lo - width) & (m < regions.sr_lo)) | ((m >= regions.sr_hi) & (m < regions.sr_hi + width))
    return x[sel], m[sel]


# --------------------------------------------------------------------------
# one seed of the injection scan
# --------------------------------------------------------------------------

def run_seed(split: Split, bg_flow, mass_coef, transit_model, regions: Regions, cfg: dict, seed: int,
             threads: int = 1, curve_injection: int | None = None) -> dict:
    """Every method at every injection of ``cfg['injections']`` for one seed.

    ``cfg``: the ``studies.ranode`` section (keys injections, kfold, classifier,
    signal_flow, anode_flow, oversample, w_wrong_factor, w_floor,
    min_bkg_pass) plus ``transit`` (the studies.transit section).
    Returns a JSON-ready dict: per injection the max SIC of each method, the
    true and learned w, CPU seconds per method, and SIC curves at
    ``curve_injection``.
    """
    ccfg = dict(cfg["classifier"], kfold=cfg["kfold"])
    k = cfg["kfold"]
    xt, mt, yt = test_set(split)
    logpb_x_test = log_prob(bg_flow, xt, mt)
    logpb_test = logpb_x_test + mass_log_density(mt, mass_coef, regions)
    xm_test = np.column_stack([xt, mt]).astype(np.float32)
    n_bg = len(split.bg_data[0])
    out = {"seed": seed, "n_background_sr": n_bg, "n_test_background": int((yt == 0).sum()),
           "n_test_signal": int((yt == 1).sum()), "injections": {}, "curves": {}}
    cpu = {}

    def timed(name, fn, *a, **kw):
        with Stopwatch() as sw:
            r = fn(*a, **kw)
        cpu[name] = cpu.get(name, 0.0) + sw.cpu
        return r

    msic = lambda s: max_sic(yt, s, cfg["min_bkg_pass"])  # noqa: E731
    sup = timed("supervised", classifier_scores, split.sig_sup[0], split.bg_iad[0], xt, ccfg, seed, threads)[0]
    sup_sic = msic(sup)
    tsx, tsm = near_sidebands(split.sb_x, split.sb_m, regions, cfg["transit"]["source_width"])
    for n_sig in cfg["injections"]:
        s = seed * 1000 + int(n_sig)
        x, m, y = inject(split, int(n_sig), s)
        w_true = n_sig / len(x)
        res = {"n_sig": int(n_sig), "s_over_sqrt_b": n_sig / math.sqrt(n_bg), "w_true": w_true, "max_sic": {}}
        scores = {"supervised": sup}
        scores["iad"] = timed("iad", classifier_scores, x, split.bg_iad[0], xt, ccfg, s, threads)[0]
        scores["anode"] = timed("anode", anode_scores, x, m, xt, mt, logpb_x_test, cfg["anode_flow"], k, s)
        rng = np.random.default_rng(s)
        m_samp = m[rng.integers(0, len(m), int(cfg["oversample"] * len(m)))]
        bg_samples = timed("cathode", sample_background, bg_flow, m_samp, s)
        scores["cathode"] = timed("cathode", classifier_scores, x, bg_samples, xt, ccfg, s, threads)[0]
        template = timed("transit", transit_template, transit_model, tsx, tsm, m_samp, s)
        scores["transit"] = timed("transit", classifier_scores, x, template, xt, ccfg, s, threads)[0]
        logpb = log_prob(bg_flow, x, m) + mass_log_density(m, mass_coef, regions)
        xm = np.column_stack([x, m]).astype(np.float32)
        w_fix = max(w_true, cfg["w_floor"])
        variants = {"ranode_true_w": (w_fix, False), "ranode_wrong_w": (w_fix * cfg["w_wrong_factor"], False),
                    "ranode_learn_w": (cfg["w_init"], True)}
        for name, (w0, learn) in variants.items():
            sc, w_fit = timed(name, ranode_scores, xm, logpb, xm_test, logpb_test, w0, learn, cfg["signal_flow"], k, s,
                              cfg["w_lr_scale"])
            scores[name] = sc
            if learn:
                res["w_learned"] = w_fit
        res["w_fixed_true"], res["w_fixed_wrong"] = w_fix, w_fix * cfg["w_wrong_factor"]
        res["max_sic"] = {k_: msic(v) for k_, v in scores.items()}
        out["injections"][str(int(n_sig))] = res
        log.info("seed %d n_sig %d: %s", seed, n_sig, {k_: round(v, 2) for k_, v in res["max_sic"].items()})
        if curve_injection is not None and int(n_sig) == int(curve_injection):
            out["curves"] = {name: _thin_curve(yt, sc) for name, sc in scores.items()}
    out["supervised_max_sic"] = sup_sic
    out["cpu_seconds"] = cpu
    return out


def _thin_curve(y, score, n: int = 200):
    """SIC curve on a log grid of signal efficiency (for plotting)."""
    tpr, sic, fpr = sic_curve(y, score)
    grid = np.linspace(0.0, 1.0, n)
    idx = np.clip(np.searchsorted(tpr, grid), 0, len(tpr) - 1)
    return {"eps_s": tpr[idx].tolist(), "sic": sic[idx].tolist(), "eps_b": fpr[idx].tolist()}


# --------------------------------------------------------------------------
# pipeline steps (one per workflow script) and figures
# --------------------------------------------------------------------------

def load_split(events_path, cfg: dict, seed: int) -> tuple[Split, Regions]:
    """Read the prepared AD table and split it (the same split in every step)."""
    from ..io import read_table

    if "curve_injection" in cfg and cfg["curve_injection"] not in cfg["injections"]:
        raise InputError("config", "studies.ranode.curve_injection",
                         f"{cfg['curve_injection']} is not one of the injections {cfg['injections']}")
    df, _ = read_table(events_path, columns=["mjj", *FEATURES, "label"])
    regions = Regions(**cfg["regions"])
    split = split_events(df, regions, tuple(cfg["split_fractions"]), max(cfg["injections"]), seed, events_path)
    return split, regions


def save_background(flow, coef, path, hist, cpu: float, regions: Regions) -> None:
    from ..nn.train import save_model

    save_model(flow, path, {**flow.hparams, "history": hist.as_dict(), "cpu_seconds": cpu,
                            "mass_coef": list(map(float, coef)), "regions": regions.__dict__})


def load_background(path):
    from ..nn.train import load_state

    state, hp = load_state(path)
    flow = StandardizedFlow(hp["features"], hp["context"], kind=hp["kind"], transforms=hp["transforms"],
                            hidden=tuple(hp["hidden"]), bins=hp["bins"])
    flow.load_state_dict(state)
    flow.eval()
    return flow, np.asarray(hp["mass_coef"]), hp


def background_step(events_path, out_model, cfg: dict, seed: int) -> dict:
    """Train and save the frozen background model (flow + p_B(m) fit)."""
    split, regions = load_split(events_path, cfg, seed)
    with Stopwatch() as sw:
        flow, hist = train_background_flow(split.sb_x, split.sb_m, cfg["background_flow"], seed,
                                           cfg["background_flow"]["max_events"])
        coef = fit_mass_density(split.sb_m, regions)
    save_background(flow, coef, out_model, hist, sw.cpu, regions)
    return {"cpu_seconds": sw.cpu, "best_val": hist.best_val}


def save_transit(model: Transit, path, hist, cpu: float) -> None:
    from ..nn.train import save_model

    save_model(model, path, {**model.hparams, "history": hist.as_dict(), "cpu_seconds": cpu})


def load_transit(path) -> Transit:
    from ..nn.train import load_state

    state, hp = load_state(path)
    n = hp["n_features"]
    model = Transit(n, hp["hidden"], np.zeros(n), np.ones(n), 0.0, 1.0, hp["w_consistency"],
                    hp["w_adversary"])
    model.load_state_dict(state)
    model.eval()
    return model, hp


def transit_step(events_path, out_model, cfg: dict, tcfg: dict, seed: int) -> dict:
    """Train and save the TRANSIT transport network on the sidebands."""
    split, _ = load_split(events_path, cfg, seed)
    with Stopwatch() as sw:
        model, hist = train_transit(split.sb_x, split.sb_m, tcfg, seed, tcfg["max_events"])
    save_transit(model, out_model, hist, sw.cpu)
    return {"cpu_seconds": sw.cpu}


def closure_step(events_path, bg_model, transit_model, out_json, out_fig, cfg: dict, tcfg: dict, seed: int,
                 threads: int = 1, tier: str = "default") -> dict:
    """Template closure in the SR: TRANSIT template, CATHODE flow samples and
    untransported sideband events, each vs the true SR background (the IAD
    reference sample); AUCs and the per-feature figure."""
    from ..io import write_json

    split, regions = load_split(events_path, cfg, seed)
    flow, _, _ = load_background(bg_model)
    model, _ = load_transit(transit_model)
    ccfg = dict(cfg["classifier"], kfold=cfg["kfold"])
    truth_x, truth_m = split.bg_iad
    sx, sm = near_sidebands(split.sb_x, split.sb_m, regions, tcfg["source_width"])
    rng = np.random.default_rng(seed)
    raw = sx[rng.integers(0, len(sx), len(truth_m))]
    templates = {"transit": transit_template(model, sx, sm, truth_m, seed),
                 "cathode_flow": sample_background(flow, truth_m, seed),
                 "sideband_untransported": raw}
    auc = {k: closure_auc(v, truth_x, ccfg, seed, threads) for k, v in templates.items()}
    doc = {"closure_auc": auc, "n_truth": len(truth_x), "tier": tier,
           "source_width": tcfg["source_width"], "regions": regions.__dict__}
    write_json(out_json, doc)
    plot_templates(templates, truth_x, auc, out_fig)
    return doc


def scan_step(events_path, bg_model, transit_model, out_json, cfg: dict, tcfg: dict, seed: int, scan_seed: int,
              threads: int = 1) -> dict:
    """One seed of the injection scan (all methods), written as JSON."""
    from ..io import write_json

    split, regions = load_split(events_path, cfg, seed)
    flow, coef, _ = load_background(bg_model)
    model, _ = load_transit(transit_model)
    res = run_seed(split, flow, coef, model, regions, {**cfg, "transit": tcfg}, seed * 100 + scan_seed, threads,
                   cfg["curve_injection"])
    res["scan_seed"] = scan_seed
    write_json(out_json, res)
    return res


def aggregate(scans: list[dict]) -> dict:
    """Median and 16/84 % quantiles over seeds of max SIC (per method and
    injection) and of the learned w."""
    injections = sorted({int(k) for s in scans for k in s["injections"]})
    out = {"injections": injections, "max_sic": {}, "w": {}}
    for method in METHODS:
        rows = []
        for n in injections:
            v = np.array([s["injections"][str(n)]["max_sic"][method] for s in scans], float)
            rows.append({"n_sig": n, "median": float(np.nanmedian(v)), "q16": float(np.nanquantile(v, 0.16)),
                         "q84": float(np.nanquantile(v, 0.84)), "values": v.tolist()})
        out["max_sic"][method] = rows
    for n in injections:
        inj = [s["injections"][str(n)] for s in scans]
        wl = np.array([i["w_learned"] for i in inj], float)
        out["w"][str(n)] = {"w_true": inj[0]["w_true"], "s_over_sqrt_b": inj[0]["s_over_sqrt_b"],
                            "learned_median": float(np.median(wl)), "learned_q16": float(np.quantile(wl, 0.16)),
                            "learned_q84": float(np.quantile(wl, 0.84)), "learned": wl.tolist()}
    cpu = {}
    for s in scans:
        for k, v in s["cpu_seconds"].items():
            cpu[k] = cpu.get(k, 0.0) + v
    out["cpu_seconds_per_method"] = cpu
    return out


def _ax():
    from .. import plotting

    plotting.style()
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(9, 7))


STYLE = {"supervised": ("k", "-"), "iad": ("0.45", "--"), "anode": ("tab:green", "-."), "cathode": ("tab:blue", "-"),
         "ranode_true_w": ("tab:red", "-"), "ranode_wrong_w": ("tab:orange", ":"),
         "ranode_learn_w": ("tab:purple", "--"), "transit": ("tab:cyan", "-")}


def plot_sic_curves(scan: dict, path, rlabel: str = "", methods=METHODS, min_bkg_pass: int = 20):
    """SIC vs signal efficiency for every method at one injection (one seed);
    cuts keeping fewer than ``min_bkg_pass`` test background events are not
    drawn (the same rule as :func:`max_sic`)."""
    from .. import plotting

    fig, ax = _ax()
    n_b = scan["n_test_background"]
    for name in methods:
        c = scan["curves"].get(name)
        if c is None:
            continue
        eps_s, sic, eps_b = (np.asarray(c[k], float) for k in ("eps_s", "sic", "eps_b"))
        sic = np.where(eps_b * n_b >= min_bkg_pass, sic, np.nan)
        col, ls = STYLE[name]
        ax.plot(eps_s, sic, color=col, ls=ls, label=METHOD_LABELS[name])
    ax.axhline(1.0, color="0.7", lw=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, None)
    ax.set_xlabel(r"Signal efficiency $\epsilon_S$")
    ax.set_ylabel(r"SIC $= \epsilon_S/\sqrt{\epsilon_B}$")
    ax.legend(fontsize=13, loc="upper left", title=rlabel or None, title_fontsize=13)
    plotting.label(ax, text="")
    return plotting.save(fig, path)


def plot_max_sic(agg: dict, n_bg: int, path, rlabel: str = "", methods=METHODS, ceiling: float | None = None):
    """max SIC (median, 16-84 % band over seeds) vs S/sqrt(B): R-ANODE's headline figure.

    ``ceiling``: the largest SIC the test set can show (all signal kept at the
    minimum allowed background count), drawn as a dotted line.
    """
    from .. import plotting

    fig, ax = _ax()
    for name in methods:
        rows = agg["max_sic"][name]
        x = np.array([r["n_sig"] for r in rows]) / math.sqrt(n_bg)
        med = np.array([r["median"] for r in rows])
        col, ls = STYLE[name]
        ax.plot(x, med, color=col, ls=ls, marker="o", ms=4, label=METHOD_LABELS[name])
        ax.fill_between(x, [r["q16"] for r in rows], [r["q84"] for r in rows], color=col, alpha=0.15, lw=0)
    ax.axhline(1.0, color="0.7", lw=1)
    if ceiling:
        ax.axhline(ceiling, color="0.5", ls=":", lw=1.5, label="test-set SIC ceiling")
    ax.set_xlabel(r"$S/\sqrt{B}$ in the signal region")
    ax.set_ylabel("max SIC")
    ax.set_ylim(0, (ceiling or ax.get_ylim()[1]) * 1.45)
    ns = ", ".join(str(n) for n in agg["injections"])
    ax.legend(fontsize=12, loc="upper left", ncol=2, title=f"{rlabel}; $N_{{sig}}$ = {ns}", title_fontsize=12)
    plotting.label(ax, text="")
    return plotting.save(fig, path)


def plot_w(agg: dict, path, rlabel: str = ""):
    """Learned w (median, 16-84 % over seeds) vs true w with the diagonal."""
    from .. import plotting

    fig, ax = _ax()
    rows = [agg["w"][str(n)] for n in agg["injections"]]
    wt = np.array([r["w_true"] for r in rows])
    med = np.array([r["learned_median"] for r in rows])
    err = [med - np.array([r["learned_q16"] for r in rows]), np.array([r["learned_q84"] for r in rows]) - med]
    ax.errorbar(wt, med, yerr=err, fmt="o", color="tab:purple", label="R-ANODE learned $w$ (median, 16-84 %)")
    lim = max(wt.max(), med.max()) * 1.15 + 1e-4
    ax.plot([0, lim], [0, lim], color="k", ls="--", label="$w$ = true $w$")
    ax.set_xlim(-0.03 * lim, lim)
    ax.set_ylim(0, lim)
    ax.set_xlabel(r"True signal fraction $w$ in the SR")
    ax.set_ylabel(r"Learned $w$")
    ax.legend(fontsize=13, loc="upper left", title=rlabel or None, title_fontsize=13)
    plotting.label(ax, text="")
    return plotting.save(fig, path)


def plot_templates(templates: dict, truth_x, auc: dict, path):
    """Per-feature template vs true SR background (and ratio), closure AUC in the legend."""
    from .. import plotting

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


def _low_injection_mean(agg: dict, method: str, n_bg: int, max_s_over_sqrt_b: float) -> float:
    rows = [r for r in agg["max_sic"][method] if 0 < r["n_sig"] / math.sqrt(n_bg) <= max_s_over_sqrt_b]
    return float(np.mean([r["median"] for r in rows])) if rows else None  # None: no injection in range


def ranode_report(scans: list[dict], outdir, cfg: dict, tier: str = "default") -> dict:
    """R-ANODE study: figures and metrics.json from the per-seed scans."""
    from pathlib import Path

    from ..metrics import write_metrics

    out = Path(outdir)
    agg = aggregate(scans)
    n_bg = scans[0]["n_background_sr"]
    rl = f"{n_bg} SR bkg, {len(scans)} seeds"
    curve = next((s for s in scans if s.get("curves")), None)
    if curve is not None:
        plot_sic_curves(curve, out / "sic_curves.png", rlabel=f"$N_{{sig}}$ = {cfg['curve_injection']}, seed {curve['seed']}",
                        min_bkg_pass=cfg["min_bkg_pass"])
    ceiling = math.sqrt(scans[0]["n_test_background"] / cfg["min_bkg_pass"])
    plot_max_sic(agg, n_bg, out / "max_sic_vs_injection.png", rlabel=rl, ceiling=ceiling)
    plot_w(agg, out / "learned_w.png", rlabel=rl)
    lim = cfg["low_injection_s_over_sqrt_b"]
    low = {m: _low_injection_mean(agg, m, n_bg, lim) for m in METHODS}
    holds = bool(low["ranode_true_w"] is not None and low["ranode_true_w"] > low["anode"]
                 and low["ranode_true_w"] > low["cathode"])
    key_n = cfg["curve_injection"]
    key = next(r["median"] for r in agg["max_sic"]["ranode_true_w"] if r["n_sig"] == key_n)
    zero = {m: next((r["median"] for r in agg["max_sic"][m] if r["n_sig"] == 0), None) for m in METHODS}
    big = max(agg["injections"])
    metrics = {
        "max_sic": agg["max_sic"], "learned_w": agg["w"], "injections": agg["injections"],
        "n_background_sr_data": n_bg, "n_test_background": scans[0]["n_test_background"],
        "n_test_signal": scans[0]["n_test_signal"], "seeds": [s["scan_seed"] for s in scans],
        "low_injection_mean_max_sic": low, "low_injection_max_s_over_sqrt_b": lim,
        "zero_injection_median_max_sic": zero,
        "sic_ceiling_of_test_set": ceiling,
        "largest_injection_median_max_sic": {m: agg["max_sic"][m][-1]["median"] for m in METHODS},
        "largest_injection": big,
        "cpu_seconds_per_method": agg["cpu_seconds_per_method"],
        "reduced_vs_paper": cfg["reduced_vs_paper"],
    }
    return write_metrics(
        out / "metrics.json", study="ranode", paper="arXiv:2312.11629",
        title="R-ANODE: signal-only flow in a fixed mixture with a sideband background flow (LHCO R&D)",
        key_metric={"name": f"R-ANODE (true w) median max SIC at N_sig={key_n}", "value": round(key, 3)},
        claim=(f"R-ANODE with the true w beats ANODE and CATHODE at low injection (mean median max SIC over "
               f"0 < S/sqrt(B) <= {lim})"),
        holds=holds, metrics=metrics, tier=tier)


def transit_report(scans: list[dict], closure: dict, bg_hp: dict, transit_hp: dict, outdir, cfg: dict,
                   tcfg: dict, tier: str = "default") -> dict:
    """TRANSIT study: closure, CWoLa max SIC vs injection (with CATHODE and IAD), training time."""
    from pathlib import Path

    from ..metrics import write_metrics

    out = Path(outdir)
    agg = aggregate(scans)
    n_bg = scans[0]["n_background_sr"]
    plot_max_sic(agg, n_bg, out / "transit_max_sic.png", rlabel=f"{n_bg} SR bkg, {len(scans)} seeds",
                 methods=["supervised", "iad", "cathode", "transit"],
                 ceiling=math.sqrt(scans[0]["n_test_background"] / cfg["min_bkg_pass"]))
    auc = closure["closure_auc"]
    tol = tcfg["closure_tolerance"]
    big = {m: agg["max_sic"][m][-1]["median"] for m in ("transit", "cathode", "iad")}
    closes = abs(auc["transit"] - 0.5) <= tol
    finds = big["transit"] >= tcfg["sic_fraction_of_cathode"] * big["cathode"]
    metrics = {
        "closure_auc": auc, "closure_tolerance": tol, "closes": bool(closes),
        "closure_distance_transit_minus_untransported": abs(auc["transit"] - 0.5) - abs(auc["sideband_untransported"] - 0.5),
        "max_sic": {m: agg["max_sic"][m] for m in ("supervised", "iad", "cathode", "transit")},
        "largest_injection": max(agg["injections"]), "largest_injection_median_max_sic": big,
        "training_cpu_seconds": {"transit_network": transit_hp.get("cpu_seconds"),
                                 "cathode_background_flow": bg_hp.get("cpu_seconds")},
        "cpu_seconds_per_method": {m: agg["cpu_seconds_per_method"].get(m) for m in ("cathode", "transit")},
        "n_background_sr_data": n_bg,
    }
    return write_metrics(
        out / "metrics.json", study="transit", paper="TRANSIT",
        title="TRANSIT: transport of sideband events into the signal region, CWoLa on data vs template",
        key_metric={"name": "closure AUC (TRANSIT template vs true SR background)", "value": round(auc["transit"], 4)},
        claim=(f"the transported template closes (AUC within {tol} of 0.5) and its CWoLa classifier reaches at "
               f"least {tcfg['sic_fraction_of_cathode']:.0%} of CATHODE's max SIC at the largest injection"),
        holds=bool(closes and finds), metrics=metrics, tier=tier)
