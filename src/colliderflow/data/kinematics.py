"""Vectorised relativistic kinematics for the toy generators, on top of the
scikit-hep ``vector`` package (numpy backend)."""

from __future__ import annotations

import numpy as np
import vector


def p4(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, mass: np.ndarray) -> vector.MomentumNumpy4D:
    """A numpy ``vector`` Lorentz-vector array from (pt, eta, phi, mass)."""
    return vector.array({"pt": np.asarray(pt, float), "eta": np.asarray(eta, float),
                         "phi": np.asarray(phi, float), "mass": np.asarray(mass, float)})


def two_body_decay(rng: np.random.Generator, parent: vector.MomentumNumpy4D, m1: float | np.ndarray,
                   m2: float | np.ndarray) -> tuple[vector.MomentumNumpy4D, vector.MomentumNumpy4D]:
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
                 hi: float | None = None) -> np.ndarray:
    """Relativistic-ish Breit-Wigner (Cauchy) masses, truncated to [lo, hi]."""
    lo = mass - 20 * width if lo is None else lo
    hi = mass + 20 * width if hi is None else hi
    out = np.empty(0)
    while len(out) < n:
        m = mass + 0.5 * width * rng.standard_cauchy(2 * n)
        out = np.concatenate([out, m[(m > lo) & (m < hi)]])
    return out[:n]


def produce(rng: np.random.Generator, mass: np.ndarray, pt_scale: float, y_sigma: float) -> vector.MomentumNumpy4D:
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


# ----------------------------------------------------------- Lorentz transforms
# 4x4 matrices acting on (E, px, py, pz) with the metric diag(+1, -1, -1, -1);
# used to test Lorentz invariance (the L-GATr study). Batched: leading axes
# of the parameters become leading axes of the matrices.
MINKOWSKI = np.diag([1.0, -1.0, -1.0, -1.0])


def boost_matrix(rapidity: float | np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Pure boosts (..., 4, 4) with rapidity ``rapidity`` (...,) along the
    unit 3-vectors ``direction`` (..., 3) (normalised here): a particle at
    rest gets velocity beta = tanh(rapidity) along ``direction``."""
    w = np.asarray(rapidity, float)
    n = np.asarray(direction, float)
    n = n / np.linalg.norm(n, axis=-1, keepdims=True)
    out = np.zeros(np.broadcast_shapes(w.shape, n.shape[:-1]) + (4, 4))
    out[..., 0, 0] = np.cosh(w)
    out[..., 0, 1:] = out[..., 1:, 0] = np.sinh(w)[..., None] * n
    out[..., 1:, 1:] = np.eye(3) + (np.cosh(w) - 1)[..., None, None] * n[..., :, None] * n[..., None, :]
    return out


def rotation_matrix(axis: np.ndarray, angle: float | np.ndarray) -> np.ndarray:
    """Rotations (..., 4, 4) by ``angle`` (...,) about the unit 3-vectors
    ``axis`` (..., 3) (Rodrigues); the energy row/column is the identity."""
    a = np.asarray(axis, float)
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    t = np.asarray(angle, float)[..., None, None]
    k = np.zeros(a.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -a[..., 2], a[..., 1], -a[..., 0]
    k = k - np.swapaxes(k, -1, -2)
    r3 = np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * (k @ k)
    out = np.zeros(r3.shape[:-2] + (4, 4))
    out[..., 0, 0] = 1.0
    out[..., 1:, 1:] = r3
    return out


def random_lorentz(rng: np.random.Generator, n: int, rapidity: float) -> np.ndarray:
    """``n`` proper orthochronous Lorentz transformations (n, 4, 4): a
    uniformly random rotation (random axis, angle in [0, 2 pi)) followed by a
    boost of the given rapidity along a random direction."""
    def unit(k: int) -> np.ndarray:
        v = rng.normal(size=(k, 3))
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    rot = rotation_matrix(unit(n), rng.uniform(0, 2 * np.pi, n))
    return boost_matrix(np.full(n, float(rapidity)), unit(n)) @ rot


def apply_lorentz(matrices: np.ndarray, p4: np.ndarray) -> np.ndarray:
    """Transform four-vectors ``p4`` (n, ..., 4) with one matrix per leading
    entry (n, 4, 4): every constituent of a jet gets its jet's transform."""
    p = np.asarray(p4, float)
    flat = p.reshape(len(p), -1, 4)
    return np.einsum("nij,nkj->nki", matrices, flat).reshape(p.shape)
