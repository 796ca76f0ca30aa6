"""Vectorised relativistic kinematics for the toy generators, on top of the
scikit-hep ``vector`` package (numpy backend)."""

from __future__ import annotations

import numpy as np
import vector


def p4(pt, eta, phi, mass):
    """A numpy ``vector`` Lorentz-vector array from (pt, eta, phi, mass)."""
    return vector.array({"pt": np.asarray(pt, float), "eta": np.asarray(eta, float),
                         "phi": np.asarray(phi, float), "mass": np.asarray(mass, float)})


def two_body_decay(rng: np.random.Generator, parent, m1, m2):
    """Isotropic two-body decay of ``parent`` (vector array) into daughters of
    masses ``m1``, ``m2`` (scalars or arrays); returns the two daughters in the
    lab frame as vector arrays. Parents below threshold give zero momentum."""
    n = len(parent)
    M = np.asarray(parent.mass, float)
    m1 = np.broadcast_to(np.asarray(m1, float), (n,))
    m2 = np.broadcast_to(np.asarray(m2, float), (n,))
    arg = (M**2 - (m1 + m2) ** 2) * (M**2 - (m1 - m2) ** 2)
    p = np.sqrt(np.clip(arg, 0, None)) / (2 * np.maximum(M, 1e-9))
    cos = rng.uniform(-1, 1, n)
    sin = np.sqrt(1 - cos**2)
    phi = rng.uniform(-np.pi, np.pi, n)
    px, py, pz = p * sin * np.cos(phi), p * sin * np.sin(phi), p * cos
    d1 = vector.array({"px": px, "py": py, "pz": pz, "E": np.sqrt(p**2 + m1**2)})
    d2 = vector.array({"px": -px, "py": -py, "pz": -pz, "E": np.sqrt(p**2 + m2**2)})
    return d1.boost_p4(parent), d2.boost_p4(parent)


def breit_wigner(rng: np.random.Generator, mass: float, width: float, n: int, lo: float | None = None,
                 hi: float | None = None):
    """Relativistic-ish Breit-Wigner (Cauchy) masses, truncated to [lo, hi]."""
    lo = mass - 20 * width if lo is None else lo
    hi = mass + 20 * width if hi is None else hi
    out = np.empty(0)
    while len(out) < n:
        m = mass + 0.5 * width * rng.standard_cauchy(2 * n)
        out = np.concatenate([out, m[(m > lo) & (m < hi)]])
    return out[:n]


def produce(rng: np.random.Generator, mass, pt_scale: float, y_sigma: float):
    """Lab-frame parents of the given masses with an exponential pT spectrum
    (mean ``pt_scale``) and Gaussian rapidity (``y_sigma``)."""
    mass = np.asarray(mass, float)
    n = len(mass)
    pt = rng.exponential(pt_scale, n)
    y = rng.normal(0, y_sigma, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    mt = np.sqrt(mass**2 + pt**2)
    return vector.array({"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": mt * np.sinh(y),
                         "E": mt * np.cosh(y)})
