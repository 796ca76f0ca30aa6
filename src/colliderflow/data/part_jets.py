"""Jet-constituent arrays in the ParT / weaver ``.npy`` layout (the one reader of that format), and a toy
top-vs-QCD generator writing exactly that layout.

A dataset is a file prefix ``P`` with ``P_pf_vectors.npy`` (N, 4, M) float32
particle (px, py, pz, E) in GeV zero-padded, ``P_pf_points.npy`` (N, 2, M)
(delta eta, delta phi) to the jet axis, ``P_pf_mask.npy`` (N, 1, M) 1 for a
real particle, and ``P_labels.npy`` (N,) int (1 = top / signal), as in
../shared/data/jets_part_samples/toplandscape/tl_*.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError, require_finite

PARTS = ("pf_vectors", "pf_points", "pf_mask", "labels")


def _files(prefix: str | Path) -> dict[str, Path]:
    prefix = str(prefix)
    return {k: Path(f"{prefix}_{k}.npy") for k in PARTS}


def read_jets(prefix: str | Path) -> dict[str, np.ndarray]:
    """Read a dataset prefix; checks shapes agree and values are finite."""
    out = {}
    for k, path in _files(prefix).items():
        if not path.exists():
            raise InputError(path, k, "file does not exist")
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception as exc:  # corrupt / not .npy
            raise InputError(path, k, f"cannot be read as .npy ({type(exc).__name__})") from None
        require_finite(arr, path, k)
        out[k] = arr
    n = len(out["labels"])
    want = {"pf_vectors": 4, "pf_points": 2, "pf_mask": 1}
    for k, rows in want.items():
        a = out[k]
        if a.ndim != 3 or a.shape[0] != n or a.shape[1] != rows:
            raise InputError(_files(prefix)[k], k, f"shape {a.shape}, expected ({n}, {rows}, M)")
    labels = out["labels"]
    if labels.ndim == 2:  # one-hot
        labels = labels.argmax(1)
    out["labels"] = labels.astype(int)
    return out


def write_jets(prefix: str | Path, arrays: dict[str, np.ndarray]) -> None:
    from ..io import atomic_path

    for k, path in _files(prefix).items():
        with atomic_path(path) as tmp:
            np.save(tmp, arrays[k])


def _prongs(rng: np.random.Generator, n_prong: int, m_jet: np.ndarray, pt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prong axes (d_eta, d_phi) and pT fractions for ``n_prong`` subjets with an
    opening angle that scales like 2 m / pT."""
    n = len(pt)
    frac = rng.dirichlet(np.full(n_prong, 2.0 if n_prong > 1 else 1.0), n)
    theta = np.clip(2.0 * m_jet / pt, 0.05, 0.8)
    ang = rng.uniform(0, 2 * np.pi, (n, n_prong))
    r = theta[:, None] * rng.uniform(0.45, 0.8, (n, n_prong))
    axes = np.stack([r * np.cos(ang), r * np.sin(ang)], axis=-1)
    axes -= (frac[..., None] * axes).sum(1, keepdims=True)  # pT-weighted centroid on the jet axis
    return frac, axes


def generate_toy(n_jets: int, seed: int = 0, signal_fraction: float = 0.5, max_particles: int = 128,
                 pt_range: tuple[float, float] = (550.0, 650.0)) -> dict[str, np.ndarray]:
    """Toy top (3 prongs, m ~ 175 GeV) vs QCD (1 hard prong + soft radiation,
    falling mass) jets in the ParT layout."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n_jets) < signal_fraction).astype(np.int64)
    pt = rng.uniform(*pt_range, n_jets)
    m_target = np.where(labels == 1, rng.normal(172.0, 15.0, n_jets), 20.0 + rng.exponential(55.0, n_jets))
    vectors = np.zeros((n_jets, 4, max_particles), np.float32)
    points = np.zeros((n_jets, 2, max_particles), np.float32)
    mask = np.zeros((n_jets, 1, max_particles), np.float32)
    for sig in (0, 1):
        idx = np.where(labels == sig)[0]
        n_prong = 3 if sig else 1
        frac, axes = _prongs(rng, n_prong, m_target[idx], pt[idx])
        n_part = np.clip(rng.poisson(55 if sig else 38, len(idx)), 8, max_particles)
        for j, i in enumerate(idx):
            k = n_part[j]
            which = rng.choice(n_prong, k, p=frac[j])
            z = rng.dirichlet(np.full(k, 0.6))
            # angular spread around the prong axis; QCD spread set by its mass
            width = 0.02 + (0.9 * m_target[i] / pt[i] if not sig else 0.03)
            d = axes[j, which] + rng.normal(0, width, (k, 2)) * np.sqrt(1.0 / (0.3 + 30 * z))[:, None]
            ppt = z * pt[i]
            eta, phi = d[:, 0], d[:, 1]
            px, py, pz = ppt * np.cos(phi), ppt * np.sin(phi), ppt * np.sinh(eta)
            e = ppt * np.cosh(eta)
            order = np.argsort(-ppt)
            vectors[i, :, :k] = np.stack([px, py, pz, e])[:, order]
            points[i, :, :k] = d[order].T
            mask[i, 0, :k] = 1.0
    return {"pf_vectors": vectors, "pf_points": points, "pf_mask": mask, "labels": labels}


def particle_features(arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-particle inputs (N, M, 4): log pT, log E, d_eta, d_phi (zero where
    padded), and the mask (N, M)."""
    v, p, m = arrays["pf_vectors"], arrays["pf_points"], arrays["pf_mask"][:, 0]
    ppt = np.hypot(v[:, 0], v[:, 1])
    feats = np.stack([np.log(np.clip(ppt, 1e-3, None)), np.log(np.clip(v[:, 3], 1e-3, None)), p[:, 0], p[:, 1]],
                     axis=-1)
    return (feats * m[..., None]).astype(np.float32), m.astype(np.float32)


def jet_features(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Public high-level jet features: pT, mass (GeV), constituent multiplicity,
    girth (pT-weighted mean angular distance)."""
    v, p, m = arrays["pf_vectors"], arrays["pf_points"], arrays["pf_mask"][:, 0]
    j = (v * m[:, None]).sum(-1)
    pt = np.hypot(j[:, 0], j[:, 1])
    mass = np.sqrt(np.clip(j[:, 3] ** 2 - (j[:, :3] ** 2).sum(1), 0, None))
    ppt = np.hypot(v[:, 0], v[:, 1]) * m
    girth = (ppt * np.hypot(p[:, 0], p[:, 1])).sum(1) / np.clip(ppt.sum(1), 1e-9, None)
    return {"pt": pt, "mass": mass, "n_constituents": m.sum(1), "girth": girth}
