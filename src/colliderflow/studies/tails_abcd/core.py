"""Tails search with ABCD (arXiv:2404.07258): a conditional normalizing flow
decorrelates auxiliary features from the tail feature, a weakly supervised
classifier (data vs control process) runs on the decorrelated latent, and the
background in the tail is estimated by ABCD in (classifier score, MET).

The toy (:func:`generate_toy`, one tabular HDF5 file) has

========== ==================================================================
met        tail feature t [GeV]: MET for the Z(nunu)+jets-like background and
           the signal, photon pT for the gamma+jets-like control process
jet1_pt    leading-jet pT [GeV]; recoils against t, resolution worsening at low t
jet1_mass  leading-jet mass [GeV]; scales with jet1_pt (QCD-like), so y depends on t
jet1_abseta |eta| of the leading jet; independent of t (classic-ABCD feature)
process    0 = background, 1 = control, 2 = signal pool (truth)
========== ==================================================================

The "known difference" of background and control is their t spectrum (the
control falls faster) and normalisation. That is what makes a data-vs-control
classifier on the raw y sculpt t: y carries t. With ``control_mismatch`` = 0
they share p(y | t) exactly -- the method's assumption built in; a mismatch
delta gives the control a jet-mass scale (t / met_min)^delta times the
background's, a MET-dependent difference the flow (trained on the control)
cannot remove from the background's latent: ABCD closure then breaks
(scanned in :func:`mismatch_scan`).
The signal sits at high t with a narrow jet-mass peak and central jets.

ABCD regions (t cut, score cut): A = high t & high score (signal region),
B = high t & low score, C = low t & high score, D = low t & low score;
N_A(pred) = N_B N_C / N_D. A region without events raises
:class:`EmptyRegionError`; nothing is ever divided by zero.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...errors import InputError

log = logging.getLogger(__name__)

COLUMNS = ["met", "jet1_pt", "jet1_mass", "jet1_abseta", "process"]
Y_COLUMNS = ["jet1_pt", "jet1_mass"]
BACKGROUND, CONTROL, SIGNAL = 0, 1, 2
MASS_FRACTION = 0.1      # jet mass / jet pT scale of QCD-like jets
MASS_SHAPE = 3.0         # Gamma shape of (jet mass / (MASS_FRACTION * jet pT))
ETA_WIDTH_BKG, ETA_WIDTH_SIG = 1.6, 0.8


class EmptyRegionError(InputError):
    """An ABCD region holds no events, so N_B N_C / N_D (or its closure
    ratio) is undefined. Raised instead of writing inf/NaN anywhere."""

    def __init__(self, region: str, counts: dict, cuts: str) -> None:
        super().__init__(None, f"ABCD region {region}",
                         f"zero events ({cuts}; counts {counts}): N_A = N_B N_C / N_D is undefined; "
                         "loosen the MET cut or the score efficiency")
        self.region = region
        self.counts = counts


# --------------------------------------------------------------------------
# toy
def _pt_resolution(t: np.ndarray):
    """Relative leading-jet pT resolution vs t (worse at low t)."""
    return 0.10 + 0.15 * (200.0 / np.asarray(t))


def _background_like_y(t: np.ndarray, rng: np.random.Generator, mismatch: float = 0.0, met_min: float = 200.0):
    """(jet pT, jet mass, |eta|) of background-like events; ``mismatch`` delta
    scales the jet mass by (t / met_min)^delta (0: the background's p(y|t))."""
    n = len(t)
    pt = t * np.exp(rng.normal(0.0, _pt_resolution(t), n))
    mass = pt * MASS_FRACTION * rng.gamma(MASS_SHAPE, 1.0 / MASS_SHAPE, n) * (t / met_min) ** mismatch
    eta = np.abs(rng.normal(0.0, ETA_WIDTH_BKG, n))
    return pt, mass, eta


def generate_toy(n_background: int, n_control: int, n_signal: int, seed: int, met_min: float = 200.0,
                 met_scale_background: float = 80.0, met_scale_control: float = 70.0,
                 met_mean_signal: float = 500.0, signal_mass: float = 90.0,
                 signal_mass_width: float = 6.0, control_mismatch: float = 0.0) -> pd.DataFrame:
    """The tails toy as one table (:data:`COLUMNS`), deterministic in ``seed``.

    Background t = met_min + Exp(met_scale_background), control the same with
    ``met_scale_control``; signal t = met_min + Gamma(3, (met_mean_signal - met_min) / 3).
    ``control_mismatch``: the control's jet mass scale is (t / met_min)^delta
    times the background's (0: identical p(y | t)).
    """
    if not met_mean_signal > met_min:
        raise InputError("config", "studies.tails_abcd.toy.met_mean_signal",
                         f"must exceed met_min={met_min} (got {met_mean_signal})")
    rng = np.random.default_rng(seed)
    parts = []
    for proc, n, scale, delta in ((BACKGROUND, n_background, met_scale_background, 0.0),
                                  (CONTROL, n_control, met_scale_control, control_mismatch)):
        t = met_min + rng.exponential(scale, n)
        pt, mass, eta = _background_like_y(t, rng, delta, met_min)
        parts.append(pd.DataFrame(dict(met=t, jet1_pt=pt, jet1_mass=mass, jet1_abseta=eta, process=proc)))
    t = met_min + rng.gamma(3.0, (met_mean_signal - met_min) / 3.0, n_signal)
    pt = t * np.exp(rng.normal(-0.05, 0.08, n_signal))
    mass = np.abs(rng.normal(signal_mass, signal_mass_width, n_signal))
    eta = np.abs(rng.normal(0.0, ETA_WIDTH_SIG, n_signal))
    parts.append(pd.DataFrame(dict(met=t, jet1_pt=pt, jet1_mass=mass, jet1_abseta=eta, process=SIGNAL)))
    df = pd.concat(parts, ignore_index=True)
    df["process"] = df["process"].astype(np.int8)
    return df


def true_latent(df: pd.DataFrame, mismatch: float = 0.0, met_min: float = 200.0) -> np.ndarray:
    """The exact decorrelating map of the toy's background: the conditional
    CDFs of y given t, pushed to standard normals (the ideal flow). With
    ``mismatch`` delta: the exact map of a control generated with
    ``control_mismatch`` = delta (the ideal flow trained on that control)."""
    t, pt, m = (df[c].to_numpy(float) for c in ("met", "jet1_pt", "jet1_mass"))
    z1 = np.log(pt / t) / _pt_resolution(t)
    u = stats.gamma.cdf(m / (MASS_FRACTION * pt * (t / met_min) ** mismatch), MASS_SHAPE, scale=1.0 / MASS_SHAPE)
    z2 = stats.norm.ppf(np.clip(u, 1e-12, 1 - 1e-12))
    return np.column_stack([z1, z2])


def check_table(df: pd.DataFrame, source: str | Path) -> None:
    """Every process needed is present (the reader already checked columns/finite)."""
    for proc, name in ((BACKGROUND, "background"), (CONTROL, "control")):
        if not (df["process"] == proc).any():
            raise InputError(source, "process", f"no {name} events (process == {proc})")
    if (df[["met", "jet1_pt", "jet1_mass"]] <= 0).any().any():
        raise InputError(source, "met/jet1_pt/jet1_mass", "must be positive")


# --------------------------------------------------------------------------
# conditional flow p(y | t) and its latent
def flow_inputs(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(x, c) for the flow: x = (log jet1_pt/MET, log jet1_mass/jet1_pt), c = log MET.

    x is an invertible map of y at fixed t (so z = f(y; t) is still a
    function of y and t only), built from the balance variables an analysis
    would use; it leaves the flow the t-dependence of the shapes to learn.
    With raw (log jet pT, log jet mass) inputs the latent's residual MET
    dependence in its tails broke the closure of the signal-trained classifier
    by about 3 sigma at the default size (a plain flow has to learn the
    scale with t as well).
    """
    t = df["met"].to_numpy(np.float64)
    pt, m = df["jet1_pt"].to_numpy(np.float64), df["jet1_mass"].to_numpy(np.float64)
    x = np.column_stack([np.log(pt / t), np.log(m / pt)]).astype(np.float32)
    return x, np.log(t).astype(np.float32)[:, None]


def train_flow(df_control: pd.DataFrame, *, transforms: int, hidden: Sequence[int], bins: int, epochs: int,
               batch_size: int,
               lr: float, patience: int, seed: int) -> tuple[Any, Any]:
    """Fit a zuko NSF p(x(y, t) | log t) (:func:`flow_inputs`) on control events; returns (flow, history)."""
    import torch

    from ...nn.flows import StandardizedFlow
    from ...nn.train import TrainConfig, fit, seed_everything

    seed_everything(seed)
    x, c = flow_inputs(df_control)
    flow = StandardizedFlow.fitted_to(x, c, kind="nsf", transforms=transforms, hidden=tuple(hidden), bins=bins)
    # eager even where the run compiles: compiled, the default tier's discovery-Z comparison with the classic
    # ABCD flipped (+0.21 +- 0.10 eager, -1.19 +- 0.49 compiled; benchmarks/README.md), far beyond its seed
    # spread and not yet understood
    hist = fit(flow, lambda m, b: m.nll(b), (torch.as_tensor(x), torch.as_tensor(c)),
               TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, patience=patience, seed=seed,
                           desc="tails flow p(y|MET)", compile=False))
    return flow, hist


def flow_latent(flow: Any, df: pd.DataFrame, batch: int = 65536) -> np.ndarray:
    """z = f(y; t) for every row of ``df``, shape (n, 2)."""
    import torch

    x, c = flow_inputs(df)
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(flow.latent(torch.as_tensor(x[i:i + batch]), torch.as_tensor(c[i:i + batch])).numpy())
    z = np.concatenate(out) if out else np.zeros((0, 2))
    if not np.isfinite(z).all():
        raise FloatingPointError("flow latent holds NaN/inf")
    return z


# --------------------------------------------------------------------------
# dependence measures
def distance_correlation(x: np.ndarray, y: np.ndarray, max_events: int = 2000, seed: int = 0) -> float:
    """Sample distance correlation dCor(x, y) in [0, 1] (Szekely et al. 2007) on
    at most ``max_events`` random rows (O(n^2) memory)."""
    x = np.asarray(x, float).reshape(len(x), -1)
    y = np.asarray(y, float).reshape(len(y), -1)
    if len(x) > max_events:
        idx = np.random.default_rng(seed).choice(len(x), max_events, replace=False)
        x, y = x[idx], y[idx]

    def centred(a: Any):
        d = np.sqrt(((a[:, None, :] - a[None, :, :]) ** 2).sum(-1))
        return d - d.mean(0) - d.mean(1)[:, None] + d.mean()

    a, b = centred(x), centred(y)
    dcov2, vx, vy = (a * b).mean(), (a * a).mean(), (b * b).mean()
    return float(math.sqrt(max(dcov2, 0.0) / math.sqrt(vx * vy))) if vx > 0 and vy > 0 else 0.0


def independence_test(z: np.ndarray, t: np.ndarray, max_events: int = 20000, seed: int = 0) -> dict:
    """Chatterjee's xi test of independence of each latent dimension from t
    (scipy.stats.chatterjeexi, asymptotic p-values), Bonferroni-combined."""
    z = np.asarray(z, float).reshape(len(z), -1)
    t = np.asarray(t, float)
    if len(t) > max_events:
        idx = np.random.default_rng(seed).choice(len(t), max_events, replace=False)
        z, t = z[idx], t[idx]
    res = [stats.chatterjeexi(t, z[:, j]) for j in range(z.shape[1])]
    p = [float(r.pvalue) for r in res]
    return {"xi": [float(r.statistic) for r in res], "p_values": p,
            "p_combined": float(min(1.0, z.shape[1] * min(p))), "n_events": int(len(t))}


# --------------------------------------------------------------------------
# weakly supervised classifier (CWoLa, k-fold)
@dataclass
class ClassifierConfig:
    folds: int = 3
    n_estimators: int = 150
    max_depth: int = 3
    learning_rate: float = 0.1
    threads: int = 1
    seed: int = 0


#: the CWoLa BDTs' own training-health check (:func:`cwola_health`)
CWOLA_CRITERION = ("the boosted trees move the held-out scores (their spread > 1e-6; a BDT that did not boost gives "
                   "one score for every event); the held-out logloss is recorded against ln 2, the balanced classes' "
                   "constant, but not required to fall: a data-vs-control classifier of indistinguishable samples "
                   "(the closure test) rightly stays there")


def cwola_health(y: np.ndarray, p: np.ndarray, w: np.ndarray, rounds: int) -> dict:
    """Training health of one CWoLa BDT from its held-out fold: labels ``y``, scores ``p``, balanced weights
    ``w`` (initial: ln 2, the logloss of the best constant; best = final: the held-out weighted logloss)."""
    from ... import health

    q = np.clip(np.asarray(p, float), 1e-7, 1 - 1e-7)
    final = float(-np.sum(w * (y * np.log(q) + (1 - y) * np.log1p(-q))) / np.sum(w)) if len(y) else float("nan")
    trained = bool(rounds > 0 and len(q) > 1 and np.std(q) > 1e-6)
    return health.record(math.log(2.0), final, final, rounds, criterion=CWOLA_CRITERION, trained=trained)


def cwola_percentiles(x_data: np.ndarray, x_control: np.ndarray, cfg: ClassifierConfig,
                      x_extra: np.ndarray | None = None,
                      name: str = "CWoLa BDT") -> tuple[np.ndarray, np.ndarray | None]:
    """Data-vs-control classifier (xgboost BDT), k-fold so that no event is
    scored by a model trained on it.

    Returns the score of each data event (and of each ``x_extra`` event, e.g.
    held-out signal) as its percentile among the data events of the same fold
    scored by the same model: comparable across folds, uniform on data. Each
    fold's BDT leaves a training-health record ``name`` (:func:`cwola_health`).
    """
    import xgboost

    from ... import health

    x_data = np.asarray(x_data, np.float32)
    x_control = np.asarray(x_control, np.float32)
    rng = np.random.default_rng(cfg.seed)
    k = cfg.folds
    fd = rng.integers(0, k, len(x_data))
    fc = rng.integers(0, k, len(x_control))
    pct = np.empty(len(x_data))
    x_extra = None if x_extra is None else np.asarray(x_extra, np.float32)
    fe = None if x_extra is None else rng.integers(0, k, len(x_extra))
    pct_extra = None if x_extra is None else np.empty(len(x_extra))
    for j in range(k):
        trd, trc = fd != j, fc != j
        x = np.concatenate([x_data[trd], x_control[trc]])
        y = np.concatenate([np.ones(trd.sum()), np.zeros(trc.sum())])
        w = np.where(y == 1, 0.5 / max(trd.sum(), 1), 0.5 / max(trc.sum(), 1)) * len(y)
        model = xgboost.XGBClassifier(n_estimators=cfg.n_estimators, max_depth=cfg.max_depth,
                                      learning_rate=cfg.learning_rate, subsample=0.8, tree_method="hist",
                                      n_jobs=cfg.threads, random_state=cfg.seed + j)
        model.fit(x, y, sample_weight=w)
        s_ref = model.predict_proba(x_data[fd == j])[:, 1]
        s_ctl = model.predict_proba(x_control[fc == j])[:, 1]
        n_d, n_c = len(s_ref), len(s_ctl)
        w_val = np.r_[np.full(n_d, 0.5 / max(n_d, 1)), np.full(n_c, 0.5 / max(n_c, 1))]
        health.add(name, cwola_health(np.r_[np.ones(n_d), np.zeros(n_c)], np.r_[s_ref, s_ctl], w_val,
                                      model.get_booster().num_boosted_rounds()))
        ref = np.sort(s_ref)
        pct[fd == j] = np.searchsorted(ref, s_ref, side="right") / max(len(ref), 1)
        if x_extra is not None and (fe == j).any():
            pct_extra[fe == j] = np.searchsorted(ref, model.predict_proba(x_extra[fe == j])[:, 1],
                                                 side="right") / max(len(ref), 1)
    return pct, pct_extra


# --------------------------------------------------------------------------
# ABCD
REGIONS = ("A", "B", "C", "D")


def abcd_counts(t: np.ndarray, score: np.ndarray, t_cut: float, score_cut: float,
                weights: np.ndarray | None = None) -> dict:
    """Events (or summed weights) in A (t>cut, s>cut), B (t>cut, s<=cut),
    C (t<=cut, s>cut), D (t<=cut, s<=cut)."""
    t, score = np.asarray(t, float), np.asarray(score, float)
    w = np.ones(len(t)) if weights is None else np.asarray(weights, float)
    hi_t, hi_s = t > t_cut, score > score_cut
    masks = {"A": hi_t & hi_s, "B": hi_t & ~hi_s, "C": ~hi_t & hi_s, "D": ~hi_t & ~hi_s}
    return {r: float(w[m].sum()) for r, m in masks.items()}


def abcd_predict(counts: dict, cuts: str = "") -> dict:
    """Predicted N_A = N_B N_C / N_D with Poisson errors, and the closure
    ratio predicted/observed with its error (relative errors added in
    quadrature) and the closure pull (N_pred - N_obs) / sqrt(sigma_pred^2 + N_obs). Raises :class:`EmptyRegionError`
    if any region is empty (the prediction or the ratio would be undefined)."""
    for r in REGIONS:
        if not counts[r] > 0:
            raise EmptyRegionError(r, counts, cuts)
    a, b, c, d = (counts[r] for r in REGIONS)
    pred = b * c / d
    rel_pred = math.sqrt(1 / b + 1 / c + 1 / d)
    ratio = pred / a
    ratio_err = ratio * math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    excess_err = math.sqrt(a + (pred * rel_pred) ** 2)
    return {"counts": counts, "predicted_A": pred, "predicted_A_err": pred * rel_pred, "observed_A": a,
            "excess": a - pred, "excess_err": excess_err,
            "closure_ratio": ratio, "closure_ratio_err": ratio_err, "closure_pull": (pred - a) / excess_err}


def closure_scan(t: np.ndarray, score: np.ndarray, t_cuts: Sequence[float], score_cut: float) -> list[dict]:
    """Closure vs the t cut; a cut leaving a region empty is reported as
    ``{"t_cut": .., "empty_region": "A"}`` (documented limit), never as inf."""
    out = []
    for tc in t_cuts:
        try:
            r = abcd_predict(abcd_counts(t, score, tc, score_cut), f"MET > {tc}, score > {score_cut}")
            out.append({"t_cut": float(tc), **{k: r[k] for k in ("closure_ratio", "closure_ratio_err", "closure_pull",
                                                                   "observed_A", "predicted_A")}})
        except EmptyRegionError as exc:
            out.append({"t_cut": float(tc), "empty_region": exc.region})
    return out


def _discovery_z(model: Any, data: Any) -> float:
    """Asymptotic discovery significance sqrt(q0) (q0 from pyhf, mu >= 0)."""
    import pyhf

    bounds = model.config.suggested_bounds()
    bounds[model.config.poi_index] = (0.0, bounds[model.config.poi_index][1])
    q0 = float(pyhf.infer.test_statistics.q0(0.0, pyhf.tensorlib.astensor(data), model, model.config.suggested_init(),
                                             bounds, model.config.suggested_fixed()))
    return math.sqrt(max(q0, 0.0))


def pyhf_abcd(counts: dict, signal: dict, asimov: dict | None = None) -> dict:
    """Four one-bin channels with the ABCD constraint in pyhf.

    Background per region: N_D x r_t^[A,B] x r_s^[A,C] (free normfactors), so
    the fit enforces N_A = N_B N_C / N_D; signal ``mu x signal[R]`` in every
    region (contamination included). Returns the fitted mu with its error
    (minuit) and the discovery significance Z = sqrt(q0) on ``counts``, and
    on ``asimov`` counts if given (expected significance).
    """
    import pyhf

    for r in REGIONS:
        if not counts[r] > 0:
            raise EmptyRegionError(r, counts, "pyhf ABCD model")
    if not sum(signal.values()) > 0:
        raise InputError(None, "signal template", "no signal expected in any region")
    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(tolerance=1e-3))
    a, b, c, d = (counts[r] for r in REGIONS)
    r_t, r_s = b / d, c / d
    mods = {"A": ["r_t", "r_s"], "B": ["r_t"], "C": ["r_s"], "D": []}
    channels = []
    for r in REGIONS:
        bkg_mods = [{"name": "n_d", "type": "normfactor", "data": None}] + [
            {"name": m, "type": "normfactor", "data": None} for m in mods[r]]
        channels.append({"name": r, "samples": [
            {"name": "signal", "data": [max(float(signal[r]), 1e-9)],
             "modifiers": [{"name": "mu", "type": "normfactor", "data": None}]},
            {"name": "background", "data": [float(d)], "modifiers": bkg_mods}]})
    s_tot = max(sum(signal.values()), 1e-9)
    mu_max = 20.0 * max(1.0, (a + b + c + d) / s_tot) ** 0.5
    spec = {"channels": channels, "version": "1.0.0",
            "measurements": [{"name": "abcd", "config": {"poi": "mu", "parameters": [
                {"name": "mu", "bounds": [[-mu_max, mu_max]], "inits": [0.0]},
                {"name": "n_d", "bounds": [[0.2, 5.0]], "inits": [1.0]},
                {"name": "r_t", "bounds": [[r_t / 20, r_t * 20]], "inits": [r_t]},
                {"name": "r_s", "bounds": [[r_s / 20, r_s * 20]], "inits": [r_s]}]}}],
            "observations": [{"name": r, "data": [float(counts[r])]} for r in REGIONS]}
    ws = pyhf.Workspace(spec)
    model = ws.model()
    data = ws.data(model)
    fitted = pyhf.infer.mle.fit(data, model, return_uncertainties=True)  # (n_pars, 2): value, error
    poi = model.config.poi_index
    mu, mu_err = float(fitted[poi, 0]), float(fitted[poi, 1])
    z = _discovery_z(model, data)
    z_exp = None if asimov is None else _discovery_z(model, [float(asimov[r]) for r in REGIONS] + model.config.auxdata)
    return {"mu": mu, "mu_err": mu_err, "significance": z, "expected_significance": z_exp,
            "signal_A_fit": mu * signal["A"], "signal_A_fit_err": mu_err * signal["A"]}


# --------------------------------------------------------------------------
# the study
CONFIGS = ("raw", "flow", "ideal", "classic")
CONFIG_LABELS = {"raw": "CWoLa on raw y (no decorrelation)", "flow": "CWoLa on flow latent z",
                 "classic": r"classic ABCD ($|\eta_{j1}|$, MET)", "ideal": "CWoLa on exact latent (toy truth)"}
CONFIG_STYLE = {"raw": "C3", "flow": "C0", "ideal": "C2", "classic": "0.4"}


def _features(df: pd.DataFrame, kind: str, z: np.ndarray):
    if kind == "raw":
        return df[Y_COLUMNS].to_numpy(np.float32)
    return z


def _scores(df: pd.DataFrame, feats: dict, kind: str, data_idx: np.ndarray, extra_idx: np.ndarray,
            ctrl: np.ndarray, ccfg: ClassifierConfig) -> tuple[np.ndarray, np.ndarray]:
    """Score percentiles of the data events and of ``extra_idx`` events for one configuration."""
    if kind == "classic":  # handcrafted: central leading jet = high score; rank among data
        eta = df["jet1_abseta"].to_numpy(float)
        ref = np.sort(-eta[data_idx])
        f = lambda i: np.searchsorted(ref, -eta[i], side="right") / len(ref)  # noqa: E731
        return f(data_idx), f(extra_idx)
    x = feats[kind]
    return cwola_percentiles(x[data_idx], x[ctrl], ccfg, x[extra_idx], name=f"CWoLa BDT ({kind})")


def _reference_fit(df: pd.DataFrame, feats: dict, kind: str, bidx: np.ndarray, sig_idx: np.ndarray, n_ref: int,
                   ctrl: np.ndarray, ccfg: ClassifierConfig, t_cut: float, s_cut: float) -> dict:
    """pyhf ABCD fit at an injection of ``n_ref`` signal events (the first of ``sig_idx``)."""
    t_all = df["met"].to_numpy(float)
    didx = np.concatenate([bidx, sig_idx[:n_ref]])
    s_d, s_pool = _scores(df, feats, kind, didx, sig_idx, ctrl, ccfg)
    counts = abcd_counts(t_all[didx], s_d, t_cut, s_cut)
    frac = abcd_counts(t_all[sig_idx], s_pool, t_cut, s_cut)
    template = {r: n_ref * frac[r] / len(sig_idx) for r in REGIONS}
    fit = pyhf_abcd(counts, template)
    return {"significance": fit["significance"], "mu": fit["mu"], "mu_err": fit["mu_err"]}


def replicas(df: pd.DataFrame, z: np.ndarray, main: dict | None, *, seeds: int, t_cut: float, score_efficiency: float,
             reference_injection: int, ccfg: ClassifierConfig, seed: int = 0) -> list[dict]:
    """The verdict's numbers over ``seeds`` replicas: replica r retrains every
    classifier with seed ``ccfg.seed + 1000 r`` (folds, subsampling) and draws
    the injected signal with ``seed + 1000 r``; replica 0 is :func:`run_study`'s
    run ``main`` (the same seeds; None: computed here). Per replica: the background-only closure
    ratio (and its Poisson error) of the flow and raw-y classifiers, and at the
    reference injection the discovery significance and fitted mu of the flow
    configuration and of the classic ABCD."""
    proc = df["process"].to_numpy()
    bidx, ctrl, sig = (np.flatnonzero(proc == p) for p in (BACKGROUND, CONTROL, SIGNAL))
    t_b = df["met"].to_numpy(float)[bidx]
    s_cut = 1.0 - score_efficiency
    feats = {"raw": df[Y_COLUMNS].to_numpy(np.float32), "flow": np.asarray(z, np.float32)}
    out = []
    for r in range(seeds):
        row: dict = {"replica": r}
        if r == 0 and main is not None:
            c = main["configs"]
            for kind in ("flow", "raw"):
                row[f"closure_ratio_{kind}"] = c[kind]["closure"]["closure_ratio"]
                row[f"closure_ratio_err_{kind}"] = c[kind]["closure"]["closure_ratio_err"]
            for kind in ("flow", "classic"):
                ref = next(x for x in c[kind]["injection"] if x["injected"] == reference_injection)
                row |= {f"{k}_{kind}": ref[k] for k in ("significance", "mu", "mu_err")}
            out.append(row)
            continue
        cc = dataclasses.replace(ccfg, seed=ccfg.seed + 1000 * r)
        rng = np.random.default_rng(seed + 1000 * r)
        sig_idx = sig[rng.permutation(len(sig))]
        for kind in ("flow", "raw"):
            s_b, _ = cwola_percentiles(feats[kind][bidx], feats[kind][ctrl], cc, name=f"CWoLa BDT ({kind})")
            res = abcd_predict(abcd_counts(t_b, s_b, t_cut, s_cut), f"replica {r}, {kind}")
            row[f"closure_ratio_{kind}"], row[f"closure_ratio_err_{kind}"] = res["closure_ratio"], \
                res["closure_ratio_err"]
        for kind in ("flow", "classic"):
            fit = _reference_fit(df, feats, kind, bidx, sig_idx, reference_injection, ctrl, cc, t_cut, s_cut)
            row |= {f"{k}_{kind}": v for k, v in fit.items()}
        out.append(row)
    return out


def mismatch_scan(df: pd.DataFrame, flow: Any, deltas: Sequence[float], control_mismatch: float, *, met_min: float,
                  met_scale_background: float, t_cut: float, score_efficiency: float, ccfg: ClassifierConfig,
                  seed: int = 0) -> list[dict]:
    """ABCD closure against the control-background mismatch delta.

    For each delta a fresh background sample (as many events as the toy's)
    is generated whose p(y | MET) differs from the control's by a jet-mass
    scale (MET / met_min)^delta: its jet masses carry (MET / met_min)^(d0 - delta)
    with d0 = ``control_mismatch`` (the toy's control), so delta = d0
    reproduces the toy. The flow (trained on the toy's control) gives its
    latent, the data-vs-control classifier runs against the same held-out
    controls, and the background-only closure ratio of the flow and of the
    classic ABCD (|eta|, MET) is recorded."""
    proc = df["process"].to_numpy()
    ctrl = df[proc == CONTROL]
    n_b = int((proc == BACKGROUND).sum())
    s_cut = 1.0 - score_efficiency
    out = []
    for i, delta in enumerate(deltas):
        rng = np.random.default_rng(seed + 7919 * (i + 1))
        t = met_min + rng.exponential(met_scale_background, n_b)
        pt, mass, eta = _background_like_y(t, rng, control_mismatch - float(delta), met_min)
        bkg = pd.DataFrame(dict(met=t, jet1_pt=pt, jet1_mass=mass, jet1_abseta=eta, process=BACKGROUND))
        pct, _ = cwola_percentiles(flow_latent(flow, bkg), flow_latent(flow, ctrl), ccfg, name="CWoLa BDT (flow)")
        row = {"mismatch": float(delta)}
        ref = np.sort(-eta)
        classic = np.searchsorted(ref, -eta, side="right") / len(ref)
        for kind, score in (("flow", pct), ("classic", classic)):
            res = abcd_predict(abcd_counts(t, score, t_cut, s_cut), f"mismatch {delta}, {kind}")
            row[kind] = {k: res[k] for k in ("closure_ratio", "closure_ratio_err", "closure_pull")}
        out.append(row)
    return out


def run_study(df: pd.DataFrame, z: np.ndarray, *, t_cut: float, t_cut_scan: Sequence[float], score_efficiency: float,
              injections: Sequence[int],
              reference_injection: int, ccfg: ClassifierConfig, dcor_events: int = 2000,
              independence_events: int = 20000, seed: int = 0) -> dict:
    """Everything the figures and metrics.json show.

    ``df`` holds every event of the toy (process column); ``z`` the flow latent
    of every row. The control events whose latent is used here must not be
    the ones the flow was trained on (the caller passes held-out controls).
    """
    proc = df["process"].to_numpy()
    bkg, ctrl, sig = proc == BACKGROUND, proc == CONTROL, proc == SIGNAL
    n_sig_pool = int(sig.sum())
    if max(list(injections) + [reference_injection]) > n_sig_pool:
        raise InputError("config", "studies.tails_abcd.abcd.injections",
                         f"largest injection exceeds the signal pool ({n_sig_pool})")
    rng = np.random.default_rng(seed)
    sig_idx = np.flatnonzero(sig)[rng.permutation(n_sig_pool)]
    s_cut = 1.0 - score_efficiency
    t_all = df["met"].to_numpy(float)
    feats = {"raw": df[Y_COLUMNS].to_numpy(np.float32), "flow": np.asarray(z, np.float32),
             "ideal": true_latent(df).astype(np.float32)}

    def scores(kind: str, data_idx: np.ndarray, extra_idx: np.ndarray):
        return _scores(df, feats, kind, data_idx, extra_idx, ctrl, ccfg)

    injections = sorted({0, *map(int, injections)})  # 0 = background-only pseudo-data (closure)
    out = {"n_background": int(bkg.sum()), "n_control_classifier": int(ctrl.sum()), "n_signal_pool": n_sig_pool,
           "t_cut": t_cut, "score_efficiency": score_efficiency, "configs": {}, "profiles": {}}
    bidx = np.flatnonzero(bkg)
    t_b = t_all[bidx]
    z = np.asarray(z)
    out["latent_independence"] = independence_test(z[bidx], t_b, independence_events, seed)
    out["latent_independence_raw_y"] = independence_test(np.log(feats["raw"][bidx]), t_b, independence_events, seed)
    out["dcor_latent_met"] = [distance_correlation(z[bidx, j], t_b, dcor_events, seed) for j in range(z.shape[1])]
    out["dcor_raw_y_met"] = [distance_correlation(feats["raw"][bidx, j], t_b, dcor_events, seed)
                             for j in range(feats["raw"].shape[1])]
    frac_pool = {}
    for kind in CONFIGS:
        rows = []
        for n_inj in injections:
            didx = np.concatenate([bidx, sig_idx[:n_inj]])
            s_d, s_pool = scores(kind, didx, sig_idx)
            s_b = s_d[:len(bidx)]
            if n_inj == 0:  # background-only pseudo-data: closure and score-vs-MET dependence
                res = abcd_predict(abcd_counts(t_b, s_b, t_cut, s_cut), f"MET > {t_cut}, score percentile > {s_cut}")
                out["configs"][kind] = {
                    "closure": res,
                    "closure_scan": closure_scan(t_b, s_b, t_cut_scan, s_cut),
                    "dcor_score_met": distance_correlation(s_b, t_b, dcor_events, seed),
                    "xi_score_met": independence_test(s_b, t_b, independence_events, seed),
                }
                out["profiles"][kind] = _efficiency_profile(t_b, s_b > s_cut)
            counts = abcd_counts(t_all[didx], s_d, t_cut, s_cut)
            truth = abcd_counts(t_all[sig_idx[:n_inj]], s_d[len(bidx):], t_cut, s_cut)
            bkg_true = abcd_counts(t_b, s_b, t_cut, s_cut)
            # closure of the background part alone under the signal-trained classifier
            bkg_closure = abcd_predict(bkg_true, f"background part, injected {n_inj}")
            # signal template: region fractions of the whole pool (each pool event
            # scored by a model that never saw it) x the injected (or reference) amount
            n_tmpl = n_inj if n_inj > 0 else reference_injection
            frac = abcd_counts(t_all[sig_idx], s_pool, t_cut, s_cut)
            template = {r: n_tmpl * frac[r] / n_sig_pool for r in REGIONS}
            est = abcd_predict(counts, f"MET > {t_cut}, injected {n_inj}")
            fit = pyhf_abcd(counts, template, asimov={r: bkg_true[r] + template[r] * (n_inj > 0) for r in REGIONS})
            rows.append({"injected": int(n_inj), "counts": counts, "signal_truth": truth, "signal_template": template,
                         "predicted_A": est["predicted_A"], "excess": est["excess"], "excess_err": est["excess_err"],
                         "mu_scale_events": n_tmpl, **fit, "expected_mu": n_inj / n_tmpl,
                         "background_closure_ratio": bkg_closure["closure_ratio"],
                         "background_closure_ratio_err": bkg_closure["closure_ratio_err"],
                         "background_closure_pull": bkg_closure["closure_pull"],
                         "mu_pull": (fit["mu"] - n_inj / n_tmpl) / fit["mu_err"] if fit["mu_err"] > 0 else None,
                         "s_over_sqrt_b_A": truth["A"] / math.sqrt(max(bkg_true["A"], 1.0))})
            frac_pool[kind] = frac
        out["configs"][kind]["injection"] = rows
        out["configs"][kind]["signal_pool_fractions"] = {r: v / n_sig_pool for r, v in frac_pool[kind].items()}
    return out


def _efficiency_profile(t: np.ndarray, passed: np.ndarray, n_bins: int = 12) -> dict:
    """Score-cut efficiency in log-spaced MET bins with binomial errors."""
    edges = np.unique(np.geomspace(t.min(), np.quantile(t, 0.999), n_bins + 1))
    idx = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(edges) - 2)
    n = np.bincount(idx, minlength=len(edges) - 1).astype(float)
    k = np.bincount(idx, weights=passed.astype(float), minlength=len(edges) - 1)
    eff = np.divide(k, n, out=np.zeros_like(k), where=n > 0)
    err = np.sqrt(np.divide(eff * (1 - eff), n, out=np.zeros_like(k), where=n > 0))
    return {"edges": edges.tolist(), "efficiency": eff.tolist(), "error": err.tolist(), "n": n.tolist()}


def summarise(res: dict, reference_injection: int) -> dict:
    """The compact metrics (closure, significance, single-run pulls) from :func:`run_study`'s output; the
    verdict (:func:`colliderflow.studies.tails_abcd.verdict`) reads these and the replicas."""
    c = res["configs"]
    sig = {k: {str(r["injected"]): r["significance"] for r in c[k]["injection"]} for k in CONFIGS}
    compact = {"closure_pull": {k: c[k]["closure"]["closure_pull"] for k in CONFIGS},
               "closure_ratio": {k: c[k]["closure"]["closure_ratio"] for k in CONFIGS},
               "closure_ratio_err": {k: c[k]["closure"]["closure_ratio_err"] for k in CONFIGS},
               "dcor_score_met": {k: c[k]["dcor_score_met"] for k in CONFIGS},
               "significance": sig}
    return compact


# --------------------------------------------------------------------------
# figures
def plot_correlation(res: dict, path: str | Path) -> list:
    """Score-cut efficiency vs MET on background-only data, raw vs decorrelated."""
    import matplotlib.pyplot as plt

    from ... import plotting

    plotting.style()
    fig, ax = plt.subplots(figsize=(10, 7))
    for kind, color in CONFIG_STYLE.items():
        p = res["profiles"][kind]
        e = np.asarray(p["edges"])
        centres = 0.5 * (e[1:] + e[:-1])
        dc = res["configs"][kind]["dcor_score_met"]
        ok = np.asarray(p["n"]) >= 20
        ax.errorbar(centres[ok], np.asarray(p["efficiency"])[ok], yerr=np.asarray(p["error"])[ok],
                    xerr=0.5 * np.diff(e)[ok], fmt="o", color=color,
                    label=f"{CONFIG_LABELS[kind]}, dCor = {dc:.3f}")
    ax.axhline(res["score_efficiency"], color="k", ls="--", lw=1, label="inclusive efficiency")
    ax.set_xscale("log")
    # plain tick labels at round values: a log axis under a decade labels its
    # minor ticks in scientific notation, the first one into the y axis' "0.0"
    from matplotlib.ticker import NullFormatter

    lo, hi = ax.get_xlim()
    nice = [v * 10.0**k for k in range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
            for v in (1, 1.5, 2, 3, 4, 6, 8)]
    ticks = [t for t in nice if lo * 1.05 < t < hi]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(lo, hi)
    ax.set_xlabel(r"$p_T^{miss}$ [GeV]")
    ax.set_ylabel("score-cut efficiency")
    top = max(max(res["profiles"][k]["efficiency"]) for k in res["profiles"])
    ax.set_ylim(0, 1.5 * max(top, 2 * res["score_efficiency"]))
    ax.legend(loc="upper right", fontsize=13, title="background only", title_fontsize=13)
    plotting.label(ax, "", rlabel=f"toy, {res['n_background']} bkg events")
    return plotting.save(fig, path)


def plot_closure(res: dict, path: str | Path) -> list:
    """ABCD closure (predicted / observed in A) vs the MET cut, with errors:
    all configurations on a log scale (top) and a linear zoom around 1 (bottom)."""
    import matplotlib.pyplot as plt

    from ... import plotting

    plotting.style()
    fig, (ax, zoom) = plt.subplots(2, 1, figsize=(10, 10), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    for i, (kind, color) in enumerate(CONFIG_STYLE.items()):
        pts = [p for p in res["configs"][kind]["closure_scan"] if "closure_ratio" in p]
        x = np.array([p["t_cut"] for p in pts]) + (i - 1.5) * 3.0
        y, e = [p["closure_ratio"] for p in pts], [p["closure_ratio_err"] for p in pts]
        for a in (ax, zoom) if kind != "raw" else (ax,):
            a.errorbar(x, y, yerr=e, fmt="o-", color=color, label=CONFIG_LABELS[kind], capsize=3)
    for a in (ax, zoom):
        a.axhline(1.0, color="k", lw=1)
    ax.set_yscale("log")
    ax.set_ylabel(r"$N_A^{pred} / N_A^{obs}$")
    zoom.set_ylabel("zoom")
    zoom.set_xlabel(r"$p_T^{miss}$ cut [GeV]")
    ax.legend(loc="center left", fontsize=13)
    plotting.label(ax, "", rlabel="background only")
    return plotting.save(fig, path)


def plot_significance(res: dict, path: str | Path) -> list:
    """Discovery significance (pyhf, ABCD-constrained) vs injected signal."""
    import matplotlib.pyplot as plt

    from ... import plotting

    plotting.style()
    fig, ax = plt.subplots(figsize=(10, 7))
    for kind, color in CONFIG_STYLE.items():
        rows = res["configs"][kind]["injection"]
        n = [r["injected"] for r in rows]
        ax.plot(n, [r["significance"] for r in rows], "o", color=color, label=CONFIG_LABELS[kind] + " (pseudo-data)")
        ax.plot(n, [r["expected_significance"] for r in rows], "--", color=color,
                label="dashed: expected (Asimov)" if kind == "classic" else None)
    ax.set_xlabel("injected signal events")
    ax.set_ylabel(r"significance $Z$ [$\sigma$] (pyhf, ABCD)")
    ax.set_yscale("symlog", linthresh=1.0)
    top = max(max(r["significance"], r["expected_significance"] or 0.0)
              for k in CONFIG_STYLE for r in res["configs"][k]["injection"])
    ax.set_ylim(-0.2, 40 * max(top, 5.0))  # room for the legend above the curves
    ax.axhline(5.0, color="k", ls=":", lw=1)
    ax.legend(loc="upper left", fontsize=12, ncol=1)
    plotting.label(ax, "", rlabel=f"MET > {res['t_cut']:.0f} GeV")
    return plotting.save(fig, path)


def plot_mismatch(scan: list[dict], tolerance: float | None, path: str | Path) -> list:
    """Background-only ABCD closure ratio vs the control-background mismatch (flow and classic ABCD)."""
    import matplotlib.pyplot as plt

    from ... import plotting

    plotting.style()
    fig, ax = plt.subplots(figsize=(10, 7))
    d = np.array([r["mismatch"] for r in scan])
    step = 0.01 * (d.max() - d.min() if len(d) > 1 else 1.0)
    for i, kind in enumerate(("flow", "classic")):
        ax.errorbar(d + (i - 0.5) * step, [r[kind]["closure_ratio"] for r in scan],
                    yerr=[r[kind]["closure_ratio_err"] for r in scan], fmt="o-", capsize=3,
                    color=CONFIG_STYLE[kind], label=CONFIG_LABELS[kind])
    ax.axhline(1.0, color="k", lw=1)
    if tolerance is not None:
        ax.axhspan(1 - tolerance, 1 + tolerance, color="0.85", zorder=0, label="closure tolerance of the verdict")
    ax.set_xlabel(r"control–background mismatch $\delta$")  # control jet mass x (MET / MET_min)^delta: caption
    ax.set_ylabel(r"$N_A^{pred} / N_A^{obs}$ (background only)")
    ax.legend(loc="best", fontsize=13)
    plotting.label(ax, "", rlabel="fresh background per point")
    return plotting.save(fig, path)


# --------------------------------------------------------------------------
# pipeline steps (called by steps.py)
def read_toy(path: str | Path) -> pd.DataFrame:
    from ...io import read_table

    df, _ = read_table(path, COLUMNS)
    check_table(df, path)
    return df


def flow_step(toy_path: str | Path, model_path: str | Path, latent_path: str | Path, *, flow_fraction: float,
              seed: int, **train_kw) -> dict:
    """Train p(y | MET) on a random ``flow_fraction`` of the control events and
    write the latent of every event (columns z1, z2, flow_train) to ``latent_path``."""
    from ...io import write_table
    from ...nn.train import save_model

    df = read_toy(toy_path)
    ctrl = np.flatnonzero(df["process"].to_numpy() == CONTROL)
    rng = np.random.default_rng(seed)
    train = np.zeros(len(df), bool)
    train[rng.choice(ctrl, int(round(flow_fraction * len(ctrl))), replace=False)] = True
    flow, hist = train_flow(df[train], seed=seed, **train_kw)
    save_model(flow, model_path, {**flow.hparams, "inputs": ["log(jet1_pt/met)", "log(jet1_mass/jet1_pt)"],
                                  "context": ["log met"],
                                  "history": hist.as_dict()})
    z = flow_latent(flow, df)
    from ...metrics import cpu_seconds

    write_table(latent_path, pd.DataFrame({"z1": z[:, 0], "z2": z[:, 1], "flow_train": train}),
                attrs={"study": "tails_abcd", "flow": flow.hparams, "toy": str(toy_path), "cpu_seconds": cpu_seconds()})
    return hist.as_dict()


def load_flow(path: str | Path) -> Any:
    """The saved p(y | MET) flow (:func:`flow_step`)."""
    from ...nn.flows import StandardizedFlow
    from ...nn.train import load_state

    state, hp = load_state(path)
    ctx = hp["context"]  # flow_step saves the context's names over the flow's count
    flow = StandardizedFlow(hp["features"], len(ctx) if isinstance(ctx, list) else int(ctx), kind=hp["kind"],
                            transforms=hp["transforms"], hidden=tuple(hp["hidden"]), bins=hp["bins"])
    flow.load_state_dict(state)
    flow.eval()
    return flow


def analysis_step(toy_path: str | Path, latent_path: str | Path, results_path: str | Path, figures: tuple[str | Path,
                  ...], *, t_cut: float, t_cut_scan: Sequence[float],
                  score_efficiency: float, injections: Sequence[int], reference_injection: int,
                  ccfg: ClassifierConfig, seed: int,
                  dcor_events: int = 2000, independence_events: int = 20000, seeds: int = 1,
                  flow_path: str | Path | None = None, mismatch: Sequence[float] = (), toy: dict | None = None,
                  closure_tolerance: float | None = None) -> dict:
    """ABCD study on the toy with the flow latent; writes results.json and the
    figures (``figures``: score_vs_met, abcd_closure, significance and, with
    a mismatch scan, closure_vs_mismatch PNGs; PDFs beside them) and returns
    the metrics. ``seeds`` replicas of the verdict's numbers (:func:`replicas`);
    ``mismatch``: the deltas of :func:`mismatch_scan` (needs ``flow_path`` and
    the ``toy`` config: met_min, met_scale_background, control_mismatch)."""
    from ...io import read_table, write_json

    corr_png, closure_png, significance_png = figures[:3]
    df = read_toy(toy_path)
    lat, lat_attrs = read_table(latent_path, ["z1", "z2", "flow_train"])
    if len(lat) != len(df):
        raise InputError(latent_path, "z1", f"{len(lat)} rows but the toy has {len(df)}")
    keep = ~lat["flow_train"].to_numpy(bool)  # controls seen by the flow never enter the classifier
    df, z = df[keep].reset_index(drop=True), lat[["z1", "z2"]].to_numpy()[keep]
    res = run_study(df, z, t_cut=t_cut, t_cut_scan=t_cut_scan, score_efficiency=score_efficiency,
                    injections=injections, reference_injection=reference_injection, ccfg=ccfg,
                    dcor_events=dcor_events, independence_events=independence_events, seed=seed)
    reps = replicas(df, z, res, seeds=seeds, t_cut=t_cut, score_efficiency=score_efficiency,
                    reference_injection=reference_injection, ccfg=ccfg, seed=seed)
    scan = []
    if mismatch:
        toy = toy or {}
        scan = mismatch_scan(df, load_flow(flow_path), mismatch, toy.get("control_mismatch", 0.0),
                             met_min=toy.get("met_min", 200.0), met_scale_background=toy.get("met_scale_background",
                                                                                              80.0),
                             t_cut=t_cut, score_efficiency=score_efficiency, ccfg=ccfg, seed=seed)
        plot_mismatch(scan, closure_tolerance, figures[3])
    res["replicas"], res["mismatch_scan"] = reps, scan
    write_json(results_path, res)
    plot_correlation(res, corr_png)
    plot_closure(res, closure_png)
    plot_significance(res, significance_png)
    compact = summarise(res, reference_injection)
    return {**compact, "replicas": reps, "mismatch_scan": scan, "control_mismatch": (toy or {}).get(
                "control_mismatch", 0.0), "latent_independence": res["latent_independence"],
            "latent_independence_threshold_p": 0.01,
            "dcor_latent_met": res["dcor_latent_met"], "dcor_raw_y_met": res["dcor_raw_y_met"],
            "closure": {k: res["configs"][k]["closure"] for k in CONFIGS},
            "closure_scan": {k: res["configs"][k]["closure_scan"] for k in CONFIGS},
            "injection": {k: [{f: r[f] for f in ("injected", "mu", "mu_err", "expected_mu", "mu_pull",
                                                  "excess", "excess_err", "signal_A_fit", "signal_A_fit_err",
                                                  "significance", "expected_significance",
                                                  "background_closure_ratio", "background_closure_ratio_err",
                                                  "background_closure_pull")}
                              | {"signal_truth_A": r["signal_truth"]["A"]}
                              for r in res["configs"][k]["injection"]] for k in CONFIGS},
            "n_background": res["n_background"], "n_control_classifier": res["n_control_classifier"],
            "t_cut": t_cut, "score_efficiency": score_efficiency, "reference_injection": reference_injection,
            "cpu_seconds_flow_step": lat_attrs.get("cpu_seconds")}
