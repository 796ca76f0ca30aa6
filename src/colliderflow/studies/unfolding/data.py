"""Gen/reco pair tables for unfolding: the toy, the NanoAOD reader, binning, chi2.

A pair table (HDF5 via :func:`colliderflow.io.write_table`) has one row per
jet (toy: per event) and the columns

``gen_<obs>``, ``reco_<obs>`` for every observable, ``gen_pass`` (1 = a
particle-level jet exists; 0 = a fake), ``reco_pass`` (1 = reconstructed; 0 =
lost to the efficiency), ``weight`` and ``sample`` (``sim_a``, ``sim_b`` =
the two simulations with different truth priors, ``data``). Values of the
level that does not exist are 0. The attributes record the observables, the
integer-valued ones and their axis labels.

Toy physics: a quark/gluon mixture drives four correlated jet substructure
observables (mass, constituent multiplicity, width, groomed momentum
fraction z_g). The three samples differ in the gluon fraction and in the
mass and multiplicity scales (a "Pythia-like" and a "Herwig-like" prior and
a third truth for the data). One detector model (mass-dependent efficiency,
smearing and shifts, constituent loss and pile-up, 5 % fakes) acts on all.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ...errors import InputError

SAMPLES = ("sim_a", "sim_b", "data")
TOY_OBSERVABLES = ("mass", "mult", "width", "zg")
TOY_LABELS = {"mass": r"jet mass $m$ [GeV]", "mult": r"constituents $N$", "width": r"jet width $w$",
              "zg": r"groomed $p_T$ fraction $z_g$"}
TOY_INTEGER = ("mult",)
#: Truth priors: gluon fraction, mass and multiplicity scales, z_g slope.
PRIORS = {
    "sim_a": dict(f_gluon=0.60, mass_scale=1.00, mult_scale=1.00, zg_slope=1.0),   # "Pythia-like"
    "sim_b": dict(f_gluon=0.25, mass_scale=0.82, mult_scale=0.80, zg_slope=0.6),   # "Herwig-like"
    "data": dict(f_gluon=0.42, mass_scale=0.90, mult_scale=0.90, zg_slope=0.8),
}
FAKE_FRACTION = 0.05
#: Detector response of the jet mass (scale, offset in GeV) and the logit shift of z_g: large enough that the
#: data reco level (the naive alternative, no unfolding) is visibly off on every observable (with the former
#: (0.92, 2.0) and no shift, the reco mass distribution nearly equalled the truth and any unfolding lost to it).
MASS_RESPONSE = (0.80, 6.0)
ZG_SHIFT = 0.4


def _zg(rng: np.random.Generator, a: ArrayLike):
    """z_g in [0.1, 0.5] with density ~ z^-a (inverse CDF; a != 1)."""
    u = rng.random(len(a))
    lo, hi = 0.1 ** (1 - a), 0.5 ** (1 - a)
    return (lo + u * (hi - lo)) ** (1 / (1 - a))


def toy_truth(n: int, rng: np.random.Generator, f_gluon: float, mass_scale: float, mult_scale: float,
              zg_slope: float) -> dict:
    """Particle-level observables of ``n`` jets for one prior."""
    g = rng.random(n) < f_gluon
    lam = mult_scale * np.where(g, 30.0, 16.0) * rng.lognormal(0.0, 0.2, n)
    mult = 2 + rng.poisson(lam)
    mass = mass_scale * np.where(g, 38.0, 24.0) * np.sqrt(mult / 20.0) * rng.lognormal(0.0, 0.3, n)
    width = np.clip(0.03 + 0.0025 * mass * rng.lognormal(0.0, 0.25, n), 0.005, 0.6)
    zg = _zg(rng, np.where(g, 1.0 + 0.4 * zg_slope, 1.0 - 0.6 * zg_slope) + 1e-3)
    return {"mass": mass, "mult": mult.astype(float), "width": width, "zg": zg}


def efficiency(truth: dict) -> np.ndarray:
    """Probability that a particle-level jet is reconstructed (low masses are lost)."""
    return np.clip(0.92 - 0.45 * np.exp(-truth["mass"] / 12.0), 0.0, 1.0)


def detector(truth: dict, rng: np.random.Generator) -> dict:
    """Reco-level observables of jets that are reconstructed: smearing, shifts,
    constituent loss and pile-up constituents, z_g migration."""
    n = len(truth["mass"])
    scale, offset = MASS_RESPONSE
    mass = np.maximum(truth["mass"] * (scale + 0.15 * rng.standard_normal(n)) + 3.0 * rng.standard_normal(n) + offset,
                      0.5)
    mult = rng.binomial(truth["mult"].astype(int), 0.8) + rng.poisson(3.0, n)
    width = np.clip(truth["width"] * 1.08 * rng.lognormal(0.0, 0.2, n) + 0.01, 0.005, 0.8)
    u = np.clip((truth["zg"] - 0.1) / 0.4, 1e-4, 1 - 1e-4)
    zg = 0.1 + 0.4 / (1 + np.exp(-(np.log(u / (1 - u)) + ZG_SHIFT + 0.7 * rng.standard_normal(n))))
    return {"mass": mass, "mult": mult.astype(float), "width": width, "zg": zg}


def fakes(n: int, rng: np.random.Generator) -> dict:
    """Reco-level jets without a particle-level partner (pile-up, noise)."""
    mass = rng.lognormal(np.log(14.0), 0.45, n)
    mult = 3 + rng.poisson(9.0, n)
    width = np.clip(rng.lognormal(np.log(0.12), 0.4, n), 0.005, 0.8)
    zg = 0.1 + 0.4 * rng.random(n)
    return {"mass": mass, "mult": mult.astype(float), "width": width, "zg": zg}


def _frame(sample: str, gen: ArrayLike, reco: ArrayLike, gen_pass: ArrayLike, reco_pass: ArrayLike,
           observables: Sequence[str]):
    n = len(gen_pass)
    cols = {}
    for o in observables:
        cols[f"gen_{o}"] = np.where(gen_pass == 1, gen[o], 0.0)
    for o in observables:
        cols[f"reco_{o}"] = np.where(reco_pass == 1, reco[o], 0.0)
    cols.update(gen_pass=gen_pass.astype(np.int8), reco_pass=reco_pass.astype(np.int8),
                weight=np.ones(n), sample=np.full(n, sample))
    return pd.DataFrame(cols)


def generate_toy(n_sim: int, n_data: int, seed: int) -> tuple[pd.DataFrame, dict]:
    """The toy pair table (``sim_a``, ``sim_b`` with ``n_sim`` particle-level
    jets each, ``data`` with ``n_data``) and its attributes."""
    rng = np.random.default_rng(seed)
    frames = []
    for sample in SAMPLES:
        n = n_data if sample == "data" else n_sim
        truth = toy_truth(n, rng, **PRIORS[sample])
        passed = (rng.random(n) < efficiency(truth)).astype(int)
        reco = detector(truth, rng)
        frames.append(_frame(sample, truth, reco, np.ones(n, int), passed, TOY_OBSERVABLES))
        n_fake = rng.binomial(n, FAKE_FRACTION)
        fk = fakes(n_fake, rng)
        frames.append(_frame(sample, fk, fk, np.zeros(n_fake, int), np.ones(n_fake, int), TOY_OBSERVABLES))
    df = pd.concat(frames, ignore_index=True)
    attrs = {"observables": list(TOY_OBSERVABLES), "integer": list(TOY_INTEGER), "labels": TOY_LABELS,
             "log": ["mass", "mult", "width"], "bounds": {"zg": [0.1, 0.5]},
             "source": "toy", "seed": seed, "priors": PRIORS, "fake_fraction": FAKE_FRACTION}
    return df, attrs


# ---------------------------------------------------------------- NanoAOD

NANO_OBSERVABLES = ("pt", "mass")
NANO_LABELS = {"pt": r"jet $p_T$ [GeV]", "mass": r"jet mass $m$ [GeV]"}


def nanoaod_pairs(paths: list[str], min_pt: float = 20.0, prior_slope: float = 0.02,
                  entry_stop: int | None = None) -> tuple[pd.DataFrame, dict]:
    """GenJet/Jet pairs of NanoAOD files through ``Jet_genJetIdx``.

    Matched jets are pairs, reco jets without a partner are fakes, GenJets
    nobody points to are lost. A pair is kept if either side has
    pT > ``min_pt``. Events with even index (in file order, counted over all
    files) form the simulation ``sim_a``; ``sim_b`` is the same jets with a
    different truth prior, weight ``exp(-prior_slope * gen_pt)`` (normalised;
    fakes keep their weight); odd events are the ``data``.
    """
    import awkward as ak

    from ...data.nanoaod import read_nanoaod

    frames, offset = [], 0
    for path in paths:
        ev = read_nanoaod(path, ["Jet", "GenJet"], entry_stop=entry_stop)
        jet, gen = ev["Jet"], ev["GenJet"]
        n_gen = ak.num(gen, axis=1)
        idx = jet.genJetIdx
        ev_id = offset + ak.local_index(n_gen, axis=0)
        offset += len(n_gen)
        # NanoAOD stores GenJets above a pT threshold only: an index beyond
        # nGenJet points to an unstored soft GenJet and counts as no partner.
        matched = (idx >= 0) & (idx < n_gen)
        gj = gen[ak.mask(idx, matched)]  # GenJet partner of every reco jet (None for fakes)
        mj = {o: ak.flatten(ak.fill_none(gj[o], 0.0)) for o in NANO_OBSERVABLES}
        rj = {o: ak.flatten(jet[o]) for o in NANO_OBSERVABLES}
        jet_ev = ak.flatten(ak.broadcast_arrays(ev_id, jet.pt)[0])
        m = ak.to_numpy(ak.flatten(matched)).astype(int)
        # GenJets with no reco partner: not in any Jet_genJetIdx of their event
        gi = ak.local_index(gen, axis=1)
        used = ak.any(gi[:, :, None] == ak.where(matched, idx, -1)[:, None, :], axis=2)
        lost = gen[~used]
        lost_ev = ak.flatten(ak.broadcast_arrays(ev_id, lost.pt)[0])
        gen_cols = {o: np.concatenate([ak.to_numpy(mj[o]), ak.to_numpy(ak.flatten(lost[o]))]) for o in NANO_OBSERVABLES}
        reco_cols = {o: np.concatenate([ak.to_numpy(rj[o]), np.zeros(len(lost_ev))]) for o in NANO_OBSERVABLES}
        gen_pass = np.concatenate([m, np.ones(len(lost_ev), int)])
        reco_pass = np.concatenate([np.ones(len(m), int), np.zeros(len(lost_ev), int)])
        evn = np.concatenate([ak.to_numpy(jet_ev), ak.to_numpy(lost_ev)])
        f = _frame("", gen_cols, reco_cols, gen_pass, reco_pass, NANO_OBSERVABLES)
        f["event"] = evn
        frames.append(f)
    df = pd.concat(frames, ignore_index=True)
    keep = (df.gen_pt > min_pt) | (df.reco_pt > min_pt)
    df = df[keep].reset_index(drop=True)
    even = df.pop("event").to_numpy() % 2 == 0
    sim_a = df[even].assign(sample="sim_a")
    w_b = np.where(sim_a.gen_pass == 1, np.exp(-prior_slope * sim_a.gen_pt), 1.0)
    w_b[sim_a.gen_pass.to_numpy() == 1] /= w_b[sim_a.gen_pass.to_numpy() == 1].mean()
    sim_b = sim_a.assign(sample="sim_b", weight=w_b)
    data = df[~even].assign(sample="data")
    out = pd.concat([sim_a, sim_b, data], ignore_index=True)
    attrs = {"observables": list(NANO_OBSERVABLES), "integer": [], "labels": NANO_LABELS, "log": ["pt", "mass"],
             "source": "nanoaod",
             "files": [str(p) for p in paths], "min_pt": min_pt, "prior_slope": prior_slope}
    return out, attrs


# ---------------------------------------------------------------- reading, binning, chi2

def load_pairs(path: str | Path) -> tuple[pd.DataFrame, dict]:
    """Read a pair table; returns ``(df, attrs)`` after checking its columns."""
    from ...io import read_table

    df, attrs = read_table(path)
    if "observables" not in attrs:
        raise InputError(path, "observables", "attribute missing: not a pair table")
    need = [f"{lvl}_{o}" for o in attrs["observables"] for lvl in ("gen", "reco")]
    need += ["gen_pass", "reco_pass", "weight", "sample"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InputError(path, missing[0], "column missing")
    for s in SAMPLES:
        if not (df["sample"] == s).any():
            raise InputError(path, "sample", f"no rows of sample '{s}'")
    return df, attrs


def arrays(df: pd.DataFrame, sample: str, observables: Sequence[str]) -> dict:
    """numpy arrays of one sample: gen, reco (n, d), gen_pass, reco_pass, weight."""
    s = df[df["sample"] == sample]
    return {"gen": s[[f"gen_{o}" for o in observables]].to_numpy(float),
            "reco": s[[f"reco_{o}" for o in observables]].to_numpy(float),
            "gen_pass": s["gen_pass"].to_numpy() == 1, "reco_pass": s["reco_pass"].to_numpy() == 1,
            "weight": s["weight"].to_numpy(float)}


def binning(df: pd.DataFrame, observables: Sequence[str], integer: Sequence[str], nbins: int) -> list[np.ndarray]:
    """Bin edges per observable, shared by every method: from the 0.5 % and
    99.5 % quantiles of both simulations' particle level; integer
    observables get half-integer edges."""
    sim = df[df["sample"].isin(["sim_a", "sim_b"]) & (df["gen_pass"] == 1)]
    edges = []
    for o in observables:
        lo, hi = np.quantile(sim[f"gen_{o}"], [0.005, 0.995])
        if o in integer:
            step = max(1, int(np.ceil((hi - lo) / nbins)))
            edges.append(np.arange(np.floor(lo) - 0.5, np.ceil(hi) + step, step))
        else:
            edges.append(np.linspace(lo, hi, nbins + 1))
    return edges


def histogram(x: ArrayLike, edges: ArrayLike, weights: ArrayLike | None = None) -> np.ndarray:
    """Counts with under/overflow folded into the first/last bin."""
    x = np.clip(x, edges[0], np.nextafter(edges[-1], -np.inf))
    return np.histogram(x, edges, weights=weights)[0].astype(float)


def chi2_ndf(h: ArrayLike, h_ref: ArrayLike, n_eff: float, n_ref: float, extra_var: ArrayLike | None = None) -> float:
    """chi2/ndf between two histograms normalised to unit sum, with Poisson
    variances of ``n_eff`` and ``n_ref`` events (plus ``extra_var``, e.g. an
    ensemble spread) per bin; ndf = number of bins with content."""
    p, q = h / h.sum(), h_ref / h_ref.sum()
    var = p / n_eff + q / n_ref + (0 if extra_var is None else extra_var)
    ok = var > 0
    return float(np.sum((p[ok] - q[ok]) ** 2 / var[ok]) / max(ok.sum(), 1))


def n_effective(w: ArrayLike) -> float:
    w = np.asarray(w, float)
    return float(w.sum() ** 2 / max((w**2).sum(), 1e-300))
