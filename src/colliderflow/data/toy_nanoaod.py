"""Toy generators that write CMS NanoAOD-format ROOT files.

:func:`generate_dimuon` mimics the 2012 DoubleMu open-data spectrum: a
falling Drell-Yan continuum plus the J/psi, psi(2S), Upsilon(1S,2S,3S) and Z
resonances (PDG masses and widths), each decayed to two muons, boosted,
smeared with a pT-dependent resolution and cut to the muon acceptance.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import awkward as ak
import numpy as np

from .kinematics import breit_wigner, p4, produce, two_body_decay
from .nanoaod import write_nanoaod

if TYPE_CHECKING:
    import vector

MUON_MASS = 0.1056584
#: name: (mass GeV, width GeV, fraction of dimuon decays, production pT scale GeV)
DIMUON_RESONANCES = {
    "J/psi": (3.0969, 9.3e-5, 0.20, 9.0),
    "psi(2S)": (3.6861, 2.9e-4, 0.012, 9.0),
    "Upsilon(1S)": (9.4603, 5.4e-5, 0.045, 10.0),
    "Upsilon(2S)": (10.0233, 3.2e-5, 0.014, 10.0),
    "Upsilon(3S)": (10.3552, 2.0e-5, 0.009, 10.0),
    "Z": (91.1876, 2.4952, 0.07, 8.0),
}


def _muon_resolution(pt: np.ndarray) -> np.ndarray:
    """Relative pT resolution of a CMS-like tracker + muon system."""
    return 0.008 + 1.0e-4 * pt


def generate_dimuon(n_events: int, seed: int = 0, continuum_fraction: float = 0.62,
                    pt_min: float = 3.0, eta_max: float = 2.4, extra_muon_rate: float = 0.1,
                    same_sign_fraction: float = 0.05) -> dict:
    """Dimuon events as NanoAOD collections: ``{"Muon": ak.Array}`` plus
    ``run``/``luminosityBlock``/``event`` numbers. Deterministic in ``seed``.

    The yields are fractions of ``n_events`` produced before acceptance cuts,
    so events with fewer than two muons appear as in real triggered data.
    """
    rng = np.random.default_rng(seed)
    fracs = {k: v[2] for k, v in DIMUON_RESONANCES.items()}
    fracs["continuum"] = continuum_fraction
    total = sum(fracs.values())
    counts = rng.multinomial(n_events, [f / total for f in fracs.values()])
    masses, pt_scales = [], []
    for (name, n) in zip(fracs, counts):
        if name == "continuum":
            # falling Drell-Yan-like continuum ~ m^-2.5 between 1 and 150 GeV
            u = rng.uniform(size=n)
            a, lo, hi = 1.5, 1.0, 150.0
            m = (lo ** -a - u * (lo ** -a - hi ** -a)) ** (-1 / a)
            masses.append(m)
            pt_scales.append(np.full(n, 9.0))
        else:
            mass, width, _, pts = DIMUON_RESONANCES[name]
            masses.append(breit_wigner(rng, mass, max(width, 1e-6), n, lo=mass - 30 * width - 0.01,
                                       hi=mass + 30 * width + 0.01) if n else np.empty(0))
            pt_scales.append(np.full(n, pts))
    mass = np.concatenate(masses)
    scale = np.concatenate(pt_scales)
    order = rng.permutation(len(mass))
    mass, scale = mass[order], scale[order]
    parent = produce(rng, mass, 1.0, 1.6)
    # rescale the transverse momentum per source
    ptp = rng.exponential(scale) + 0.5
    mt = np.sqrt(mass**2 + ptp**2)
    y = rng.normal(0, 1.6, len(mass))
    phi = np.arctan2(parent.py, parent.px)
    parent = p4(ptp, np.arcsinh(mt * np.sinh(y) / ptp), phi, mass)
    mu1, mu2 = two_body_decay(rng, parent, MUON_MASS, MUON_MASS)
    q1 = rng.choice([-1, 1], len(mass))
    q2 = np.where(rng.uniform(size=len(mass)) < same_sign_fraction, q1, -q1)

    pts, etas, phis, charges = [], [], [], []
    for mu, q in ((mu1, q1), (mu2, q2)):
        pt = np.asarray(mu.pt) * rng.normal(1.0, _muon_resolution(np.asarray(mu.pt)))
        pts.append(pt)
        etas.append(np.asarray(mu.eta))
        phis.append(np.asarray(mu.phi))
        charges.append(q)
    # an extra soft muon (e.g. from heavy-flavour decays) in some events
    n = len(mass)
    extra = rng.uniform(size=n) < extra_muon_rate
    pts.append(np.where(extra, pt_min + rng.exponential(4.0, n), 0.0))
    etas.append(rng.uniform(-eta_max, eta_max, n))
    phis.append(rng.uniform(-np.pi, np.pi, n))
    charges.append(rng.choice([-1, 1], n))

    pt = np.stack(pts, 1)
    eta = np.stack(etas, 1)
    phi_ = np.stack(phis, 1)
    q = np.stack(charges, 1)
    ok = (pt > pt_min) & (np.abs(eta) < eta_max)
    srt = np.argsort(-np.where(ok, pt, -1), axis=1)
    take = lambda a: np.take_along_axis(a, srt, 1)  # noqa: E731
    pt, eta, phi_, q, ok = map(take, (pt, eta, phi_, q, ok))
    counts = ok.sum(1)
    muons = ak.zip({
        "pt": ak.unflatten(pt[ok].astype(np.float32), counts),
        "eta": ak.unflatten(eta[ok].astype(np.float32), counts),
        "phi": ak.unflatten(phi_[ok].astype(np.float32), counts),
        "mass": ak.unflatten(np.full(ok.sum(), MUON_MASS, np.float32), counts),
        "charge": ak.unflatten(q[ok].astype(np.int32), counts),
    })
    return {"Muon": muons}


def write_dimuon(path: str | Path, n_events: int, seed: int = 0, **kw) -> None:
    """Generate :func:`generate_dimuon` events and write a NanoAOD file."""
    events = generate_dimuon(n_events, seed, **kw)
    n = len(events["Muon"])
    write_nanoaod(path, events, extra={"run": np.full(n, 1, np.uint32),
                                       "luminosityBlock": (np.arange(n) // 1000 + 1).astype(np.uint32),
                                       "event": np.arange(1, n + 1, dtype=np.uint64)})


# ---------------------------------------------------------------------------
# Multi-process NanoAOD toy with generator truth (GenPart + genPartIdx)
# ---------------------------------------------------------------------------
# Each process is a chain of two-body decays of resonances (PDG masses,
# Breit-Wigner widths) whose system recoils against ISR jets. The final-state
# partons become jets and the charged leptons muons/electrons after a
# CMS-like smearing and acceptance; neutrinos and jet mismeasurement make the
# MET. Every reconstructed object points to its generator particle
# (``Jet_genPartIdx``, ``Muon_genPartIdx``, ``Electron_genPartIdx``) and every
# GenPart to its mother (``GenPart_genPartIdxMother``), so "which objects
# share a parent" is derivable from the file alone.

TOP_MASS, TOP_WIDTH = 172.5, 1.42
W_MASS, W_WIDTH = 80.377, 2.085
B_MASS, ELECTRON_MASS = 4.18, 0.000511
Y_PDG = 9000005  # the intermediate scalar of the X -> YY -> 4j models

#: Process catalogue. ``kind`` picks the decay chain; the rest are its
#: parameters. ``x4j_scalar`` and ``x4j_pseudoscalar`` differ only in the
#: PDG id of X (35 vs 36): with isotropic decays their reconstructed events
#: are identically distributed, i.e. indistinguishable by construction.
PROCESSES = {
    "ttbar": {"kind": "ttbar", "mtt_tail": 180.0, "isr_mean": 1.0, "label": r"$t\bar{t}$ (SM)"},
    "wjets": {"kind": "wjets", "isr_mean": 2.2, "label": r"$W(\ell\nu)$+jets"},
    "qcd": {"kind": "qcd", "mjj_min": 120.0, "mjj_power": 3.5, "isr_mean": 2.0, "fake_lepton_rate": 0.05,
            "label": "QCD multijet"},
    "zprime_tt": {"kind": "ttbar", "mass": 750.0, "width_frac": 0.03, "pdg": 32, "isr_mean": 1.0,
                  "label": r"$Z'\to t\bar{t}$"},
    "x4j_scalar": {"kind": "x4j", "mass": 1000.0, "width_frac": 0.02, "m_y": 300.0, "pdg": 35, "isr_mean": 1.0,
                   "label": r"$H\to YY\to 4j$"},
    "x4j_pseudoscalar": {"kind": "x4j", "mass": 1000.0, "width_frac": 0.02, "m_y": 300.0, "pdg": 36,
                         "isr_mean": 1.0, "label": r"$A\to YY\to 4j$"},
    "x4j_heavy": {"kind": "x4j", "mass": 1600.0, "width_frac": 0.02, "m_y": 500.0, "pdg": 35, "isr_mean": 1.0,
                  "label": r"$H(1.6)\to YY\to 4j$"},
}
#: Pairs of processes that are identical at detector level by construction.
INDISTINGUISHABLE = [("x4j_scalar", "x4j_pseudoscalar")]


class _GenRecord:
    """Column-wise generator record: column k holds particle k of every event
    (``valid`` marks the events in which it exists)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.cols = []

    def add(self, vec: vector.MomentumNumpy4D, pdg: int | np.ndarray, mother: int = -1,
            valid: np.ndarray | None = None) -> int:
        self.cols.append({"vec": vec, "pdg": np.broadcast_to(np.asarray(pdg, np.int32), (self.n,)),
                          "mother": mother, "valid": np.ones(self.n, bool) if valid is None else valid})
        return len(self.cols) - 1

    def arrays(self) -> dict[str, np.ndarray]:
        """(n, K) arrays pt, eta, phi, mass, pdgId, mother, valid; invalid
        columns must come after every valid one they could shift."""
        get = lambda q: np.stack([np.asarray(getattr(c["vec"], q), float) for c in self.cols], 1)  # noqa: E731
        out = {q: get(q) for q in ("pt", "eta", "phi", "mass")}
        out["pdgId"] = np.stack([c["pdg"] for c in self.cols], 1)
        out["mother"] = np.stack([np.full(self.n, c["mother"], np.int32) for c in self.cols], 1)
        out["valid"] = np.stack([c["valid"] for c in self.cols], 1)
        return out


def _isr(rng: np.random.Generator, n: int, mean: float, eta_sigma: float = 1.6, pt_min: float = 20.0,
         pt_scale: float = 35.0, max_jets: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Extra (ISR) partons: Poisson multiplicity, exponential pT above pt_min."""
    k = np.minimum(rng.poisson(mean, n), max_jets)
    pt = pt_min + rng.exponential(pt_scale, (n, max_jets))
    eta = rng.normal(0, eta_sigma, (n, max_jets))
    phi = rng.uniform(-np.pi, np.pi, (n, max_jets))
    valid = np.arange(max_jets)[None, :] < k[:, None]
    pt = np.where(valid, pt, 0.0)
    return pt, eta, phi, valid


def _recoiling(rng: np.random.Generator, mass: np.ndarray, isr_pt: np.ndarray, isr_phi: np.ndarray, y_sigma: float,
               kt: float = 8.0) -> vector.MomentumNumpy4D:
    """Lab-frame parents of ``mass`` whose transverse momentum balances the
    ISR partons (plus a Gaussian intrinsic kT)."""
    n = len(mass)
    px = -(isr_pt * np.cos(isr_phi)).sum(1) + rng.normal(0, kt, n)
    py = -(isr_pt * np.sin(isr_phi)).sum(1) + rng.normal(0, kt, n)
    pt = np.hypot(px, py)
    y = rng.normal(0, y_sigma, n)
    mt = np.sqrt(mass**2 + pt**2)
    return p4(pt, np.arcsinh(mt * np.sinh(y) / np.maximum(pt, 1e-6)), np.arctan2(py, px), mass)


def _falling(rng: np.random.Generator, n: int, lo: float, tail: float) -> np.ndarray:
    """Masses above threshold ``lo`` with an exponential-like falling tail."""
    return lo + rng.gamma(1.6, tail / 1.6, n)


def _w_decay(g: _GenRecord, rng: np.random.Generator, w: vector.MomentumNumpy4D, w_idx: int, sign: np.ndarray,
             leptonic: bool) -> tuple[int, int]:
    """W -> q q' (hadronic) or l nu (leptonic, e or mu 50/50); ``sign`` is the
    W charge per event. Returns the two daughters' column indices."""
    n = g.n
    d1, d2 = two_body_decay(rng, w, 0.0, 0.0)
    if leptonic:
        is_mu = rng.uniform(size=n) < 0.5
        lep_pdg = np.where(is_mu, 13, 11) * -sign  # W+ -> l+ (pdg -11/-13)
        nu_pdg = (np.abs(lep_pdg) + 1) * sign
        return g.add(d1, lep_pdg, w_idx), g.add(d2, nu_pdg, w_idx)
    up = rng.choice([2, 4], n)
    return g.add(d1, up * sign, w_idx), g.add(d2, -(up - 1) * sign, w_idx)


def _gen_ttbar(rng: np.random.Generator, n: int, p: dict) -> _GenRecord:
    g = _GenRecord(n)
    isr_pt, isr_eta, isr_phi, isr_valid = _isr(rng, n, p["isr_mean"])
    if "mass" in p:
        lo = 2 * TOP_MASS + 10
        mtt = breit_wigner(rng, p["mass"], p["width_frac"] * p["mass"], n, lo=max(lo, p["mass"] * 0.6),
                           hi=p["mass"] * 1.4)
    else:
        mtt = _falling(rng, n, 2 * TOP_MASS + 5, p["mtt_tail"])
    system = _recoiling(rng, mtt, isr_pt, isr_phi, 0.9)
    parent = g.add(system, p["pdg"]) if "pdg" in p else -1
    mt1 = breit_wigner(rng, TOP_MASS, TOP_WIDTH, n, lo=TOP_MASS - 15, hi=TOP_MASS + 15)
    mt2 = breit_wigner(rng, TOP_MASS, TOP_WIDTH, n, lo=TOP_MASS - 15, hi=TOP_MASS + 15)
    t, tbar = two_body_decay(rng, system, mt1, mt2)
    it, itb = g.add(t, 6, parent), g.add(tbar, -6, parent)
    lep_top_is_t = rng.uniform(size=n) < 0.5  # which top decays leptonically
    legs = []
    for top, itop, sign in ((t, it, 1), (tbar, itb, -1)):
        mw = breit_wigner(rng, W_MASS, W_WIDTH, n, lo=W_MASS - 20, hi=W_MASS + 20)
        mw = np.minimum(mw, np.asarray(top.mass) - B_MASS - 0.5)
        b, w = two_body_decay(rng, top, B_MASS, mw)
        g.add(b, 5 * sign, itop)
        legs.append((w, g.add(w, 24 * sign, itop), sign))
    # one top decays leptonically, the other hadronically: decay each W both
    # ways and pick per event
    for k, (w, iw, sign) in enumerate(legs):
        lep = lep_top_is_t if k == 0 else ~lep_top_is_t
        h1, h2 = two_body_decay(rng, w, 0.0, 0.0)
        l1, l2 = two_body_decay(rng, w, 0.0, 0.0)
        is_mu = rng.uniform(size=n) < 0.5
        lep_pdg = np.where(is_mu, 13, 11) * -sign
        up = rng.choice([2, 4], n)
        pick = lambda a, b_: _select(lep, a, b_)  # noqa: E731
        d1 = pick(l1, h1)
        d2 = pick(l2, h2)
        g.add(d1, np.where(lep, lep_pdg, up * sign), iw)
        g.add(d2, np.where(lep, (np.abs(lep_pdg) + 1) * sign, -(up - 1) * sign), iw)
    _add_isr(g, rng, isr_pt, isr_eta, isr_phi, isr_valid)
    return g


def _select(mask: np.ndarray, a: vector.MomentumNumpy4D, b: vector.MomentumNumpy4D) -> vector.MomentumNumpy4D:
    """Per-event choice between two vector arrays."""
    return p4(np.where(mask, a.pt, b.pt), np.where(mask, a.eta, b.eta), np.where(mask, a.phi, b.phi),
              np.where(mask, a.mass, b.mass))


def _add_isr(g: _GenRecord, rng: np.random.Generator, pt: np.ndarray, eta: np.ndarray, phi: np.ndarray,
             valid: np.ndarray) -> None:
    """ISR partons (75 % gluons, else light quarks), appended last."""
    pdg = np.where(rng.uniform(size=pt.shape) < 0.75, 21, rng.choice([1, 2, 3], pt.shape))
    for k in range(pt.shape[1]):
        g.add(p4(pt[:, k], eta[:, k], phi[:, k], np.zeros(g.n)), pdg[:, k], -1, valid[:, k])


def _gen_wjets(rng: np.random.Generator, n: int, p: dict) -> _GenRecord:
    g = _GenRecord(n)
    isr_pt, isr_eta, isr_phi, isr_valid = _isr(rng, n, p["isr_mean"])
    mw = breit_wigner(rng, W_MASS, W_WIDTH, n, lo=W_MASS - 30, hi=W_MASS + 30)
    w = _recoiling(rng, mw, isr_pt, isr_phi, 1.2)
    sign = np.where(rng.uniform(size=n) < 0.58, 1, -1)  # W+ / W- asymmetry at the LHC
    iw = g.add(w, 24 * sign)
    _w_decay(g, rng, w, iw, sign, leptonic=True)
    _add_isr(g, rng, isr_pt, isr_eta, isr_phi, isr_valid)
    return g


def _gen_qcd(rng: np.random.Generator, n: int, p: dict) -> _GenRecord:
    g = _GenRecord(n)
    isr_pt, isr_eta, isr_phi, isr_valid = _isr(rng, n, p["isr_mean"])
    u = rng.uniform(size=n)
    a = p["mjj_power"] - 1
    mjj = p["mjj_min"] * (1 - u) ** (-1 / a)
    mjj = np.minimum(mjj, 6000.0)
    system = _recoiling(rng, mjj, isr_pt, isr_phi, 0.7)
    heavy = rng.uniform(size=n) < 0.06  # g -> bb splitting / heavy-flavour pairs
    q1, q2 = two_body_decay(rng, system, 0.0, 0.0)
    pdg1 = np.where(heavy, 5, np.where(rng.uniform(size=n) < 0.6, 21, 1))
    g.add(q1, pdg1, -1)
    g.add(q2, np.where(heavy, -5, np.where(rng.uniform(size=n) < 0.6, 21, -1)), -1)
    _add_isr(g, rng, isr_pt, isr_eta, isr_phi, isr_valid)
    return g


def _gen_x4j(rng: np.random.Generator, n: int, p: dict) -> _GenRecord:
    g = _GenRecord(n)
    isr_pt, isr_eta, isr_phi, isr_valid = _isr(rng, n, p["isr_mean"])
    mx = breit_wigner(rng, p["mass"], p["width_frac"] * p["mass"], n, lo=0.7 * p["mass"], hi=1.3 * p["mass"])
    x = _recoiling(rng, mx, isr_pt, isr_phi, 0.8)
    ix = g.add(x, p["pdg"])
    my = np.full(n, p["m_y"])
    y1, y2 = two_body_decay(rng, x, my, my)
    for y in (y1, y2):
        iy = g.add(y, Y_PDG, ix)
        q1, q2 = two_body_decay(rng, y, 0.0, 0.0)
        flav = rng.choice([1, 2, 3, 4, 5], n)
        g.add(q1, flav, iy)
        g.add(q2, -flav, iy)
    _add_isr(g, rng, isr_pt, isr_eta, isr_phi, isr_valid)
    return g


_GENERATORS = {"ttbar": _gen_ttbar, "wjets": _gen_wjets, "qcd": _gen_qcd, "x4j": _gen_x4j}


def jet_resolution(pt: np.ndarray) -> np.ndarray:
    """Relative jet pT resolution (stochastic + constant terms)."""
    return np.sqrt(1.0**2 / np.maximum(pt, 1.0) + 0.05**2)


def _jagged(values: dict, keep: np.ndarray, order: np.ndarray) -> ak.Array:
    """Sort columns by ``order`` (descending), keep ``keep``; jagged record."""
    srt = np.argsort(-np.where(keep, order, -np.inf), axis=1, kind="stable")
    keep = np.take_along_axis(keep, srt, 1)
    counts = keep.sum(1)
    return ak.zip({k: ak.unflatten(np.take_along_axis(v, srt, 1)[keep], counts) for k, v in values.items()})


def generate_process(process: str, n_events: int, seed: int = 0, params: dict | None = None,
                     jet_pt_min: float = 25.0, jet_eta_max: float = 2.5, lep_pt_min: float = 20.0,
                     fake_lepton_rate: float | None = None) -> dict:
    """Events of one toy process as NanoAOD collections with generator truth.

    Returns ``{"Jet", "Muon", "Electron", "MET", "GenPart"}`` awkward arrays:
    Jet (pt, eta, phi, mass, btagDeepFlavB, genPartIdx, hadronFlavour),
    Muon/Electron (pt, eta, phi, mass, charge, genPartIdx), MET (pt, phi),
    GenPart (pt, eta, phi, mass, pdgId, genPartIdxMother). ``genPartIdx`` is
    -1 for objects without a generator match (fake leptons).
    """
    if process not in PROCESSES:
        raise KeyError(f"unknown toy process {process!r} (known: {sorted(PROCESSES)})")
    p = {**PROCESSES[process], **(params or {})}
    rng = np.random.default_rng([seed, sorted(PROCESSES).index(process)])
    g = _GENERATORS[p["kind"]](rng, n_events, p).arrays()
    n, K = g["pt"].shape
    apdg = np.abs(g["pdgId"])
    has_child = np.zeros((n, K), bool)
    for k in range(K):
        m = g["mother"][:, k]
        if (m >= 0).any():
            has_child[np.arange(n), np.maximum(m, 0)] |= (m >= 0) & g["valid"][:, k]
    final = g["valid"] & ~has_child
    is_parton = final & ((apdg <= 5) | (apdg == 21))
    is_mu, is_el = final & (apdg == 13), final & (apdg == 11)
    is_nu = final & np.isin(apdg, (12, 14, 16))
    col_idx = np.broadcast_to(np.arange(K, dtype=np.int32), (n, K))

    # jets: smeared partons with a jet mass and a b-tag discriminant
    pt = g["pt"] * rng.normal(1.0, jet_resolution(g["pt"]))
    pt = np.maximum(pt, 0.1)
    eta = g["eta"] + rng.normal(0, 0.02, (n, K))
    phi = np.mod(g["phi"] + rng.normal(0, 0.02, (n, K)) + np.pi, 2 * np.pi) - np.pi
    jmass = np.maximum(np.sqrt(g["mass"] ** 2 + (pt * rng.uniform(0.03, 0.12, (n, K))) ** 2), 0.5)
    isb = apdg == 5
    btag = np.where(isb, rng.beta(6.0, 1.2, (n, K)), np.where(apdg == 4, rng.beta(1.5, 3.0, (n, K)),
                                                               rng.beta(0.6, 12.0, (n, K))))
    jet_ok = is_parton & (pt > jet_pt_min) & (np.abs(eta) < jet_eta_max)
    jets = _jagged({"pt": pt.astype(np.float32), "eta": eta.astype(np.float32), "phi": phi.astype(np.float32),
                    "mass": jmass.astype(np.float32), "btagDeepFlavB": btag.astype(np.float32),
                    "hadronFlavour": np.where(isb, 5, np.where(apdg == 4, 4, 0)).astype(np.int32),
                    "genPartIdx": col_idx}, jet_ok, pt)

    # leptons: 1-2 % resolution, acceptance; charge from the PDG id
    lpt = g["pt"] * rng.normal(1.0, 0.01 + 5e-5 * g["pt"])
    charge = np.where(g["pdgId"] > 0, -1, 1).astype(np.int32)
    leptons = {}
    fake_rate = p.get("fake_lepton_rate", 0.0) if fake_lepton_rate is None else fake_lepton_rate
    for name, sel, mass, eta_max in (("Muon", is_mu, MUON_MASS, 2.4), ("Electron", is_el, ELECTRON_MASS, 2.5)):
        ok = sel & (lpt > lep_pt_min) & (np.abs(g["eta"]) < eta_max)
        vals = {"pt": lpt, "eta": g["eta"], "phi": g["phi"], "mass": np.full((n, K), mass), "charge": charge,
                "genPartIdx": col_idx}
        # non-prompt leptons from heavy-flavour decays (QCD): no generator match
        fake = rng.uniform(size=n) < fake_rate / 2
        fvals = {"pt": lep_pt_min + rng.exponential(8.0, n), "eta": rng.uniform(-eta_max, eta_max, n),
                 "phi": rng.uniform(-np.pi, np.pi, n), "mass": np.full(n, mass),
                 "charge": rng.choice([-1, 1], n).astype(np.int32), "genPartIdx": np.full(n, -1, np.int32)}
        vals = {k: np.concatenate([v, fvals[k][:, None]], 1) for k, v in vals.items()}
        ok = np.concatenate([ok, fake[:, None]], 1)
        vals = {k: (v.astype(np.float32) if v.dtype.kind == "f" else v) for k, v in vals.items()}
        leptons[name] = _jagged(vals, ok, vals["pt"])

    # MET: neutrinos + jet mismeasurement of every parton + soft-term noise
    def _vsum(w: np.ndarray, ptv: np.ndarray, phiv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (np.where(w, ptv * np.cos(phiv), 0).sum(1), np.where(w, ptv * np.sin(phiv), 0).sum(1))

    nux, nuy = _vsum(is_nu, g["pt"], g["phi"])
    tx, ty = _vsum(is_parton, g["pt"], g["phi"])
    rx, ry = _vsum(is_parton, pt, phi)
    soft = 6.0 + 0.02 * np.hypot(tx, ty)
    mx = nux + (tx - rx) + rng.normal(0, soft)
    my = nuy + (ty - ry) + rng.normal(0, soft)
    met = ak.zip({"pt": np.hypot(mx, my).astype(np.float32), "phi": np.arctan2(my, mx).astype(np.float32)},
                 depth_limit=1)

    valid = g["valid"]
    counts = valid.sum(1)
    gen = ak.zip({"pt": ak.unflatten(g["pt"][valid].astype(np.float32), counts),
                  "eta": ak.unflatten(np.where(g["pt"] > 0, g["eta"], 0)[valid].astype(np.float32), counts),
                  "phi": ak.unflatten(g["phi"][valid].astype(np.float32), counts),
                  "mass": ak.unflatten(g["mass"][valid].astype(np.float32), counts),
                  "pdgId": ak.unflatten(g["pdgId"][valid].astype(np.int32), counts),
                  "genPartIdxMother": ak.unflatten(g["mother"][valid].astype(np.int32), counts)})
    return {"Jet": jets, "Muon": leptons["Muon"], "Electron": leptons["Electron"], "MET": met, "GenPart": gen}


def event_ids(n: int, run: int = 1) -> dict:
    """NanoAOD ``run``/``luminosityBlock``/``event`` branches for ``n`` events."""
    return {"run": np.full(n, run, np.uint32),
            "luminosityBlock": (np.arange(n) // 1000 + 1).astype(np.uint32),
            "event": np.arange(1, n + 1, dtype=np.uint64)}


def write_process(path: str | Path, process: str, n_events: int, seed: int = 0, **kw) -> None:
    """Generate :func:`generate_process` events and write a NanoAOD file; the
    ``run`` number is the process' index in :data:`PROCESSES` (+1)."""
    events = generate_process(process, n_events, seed, **kw)
    write_nanoaod(path, events, extra=event_ids(n_events, run=sorted(PROCESSES).index(process) + 1))
