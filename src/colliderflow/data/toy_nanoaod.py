"""Toy generators that write CMS NanoAOD-format ROOT files.

:func:`generate_dimuon` mimics the 2012 DoubleMu open-data spectrum: a
falling Drell-Yan continuum plus the J/psi, psi(2S), Upsilon(1S,2S,3S) and Z
resonances (PDG masses and widths), each decayed to two muons, boosted,
smeared with a pT-dependent resolution and cut to the muon acceptance.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from .kinematics import breit_wigner, p4, produce, two_body_decay
from .nanoaod import write_nanoaod

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


def _muon_resolution(pt):
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


def write_dimuon(path, n_events: int, seed: int = 0, **kw) -> None:
    """Generate :func:`generate_dimuon` events and write a NanoAOD file."""
    events = generate_dimuon(n_events, seed, **kw)
    n = len(events["Muon"])
    write_nanoaod(path, events, extra={"run": np.full(n, 1, np.uint32),
                                       "luminosityBlock": (np.arange(n) // 1000 + 1).astype(np.uint32),
                                       "event": np.arange(1, n + 1, dtype=np.uint64)})
