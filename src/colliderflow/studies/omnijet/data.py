"""OmniJet-alpha jets: reading, splitting, constituent features and the
observables the generation is judged on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...data import jet_constituents as jc
from ...errors import InputError

FEATURE_NAMES = ("log_pt", "eta_rel", "phi_rel")
OBSERVABLES = ("multiplicity", "mass", "constituent_pt")


def load_jets(path: str | Path, classes: Sequence[str], n_constituents: int) -> dict:
    """Jets of ``classes`` (relabelled 0..) truncated to the n leading
    constituents; InputError for an unknown class or too few stored slots."""
    jets = jc.read_jets(path)
    if len(set(classes)) != len(classes) or not classes:
        raise InputError("config", "studies.omnijet.classes", f"need distinct classes, got {list(classes)}")
    jets = jc.select_classes(jets, list(classes))
    if n_constituents < 1 or n_constituents > jets["constituents"].shape[1]:
        raise InputError(path, "n_constituents", f"asked for {n_constituents} constituents, the file keeps "
                                                 f"{jets['constituents'].shape[1]}")
    cons = np.ascontiguousarray(jets["constituents"][:, :n_constituents])
    keep = jc.constituent_mask(cons).any(1)
    return {"constituents": cons[keep], "labels": jets["labels"][keep], "class_names": jets["class_names"]}


def split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random (train, test) index split; deterministic in ``seed``."""
    perm = np.random.default_rng(seed).permutation(n)
    n_test = max(1, int(round(test_fraction * n)))
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def to_features(constituents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n_jets, N, 3) constituents -> features (log pT, eta_rel, phi_rel),
    zero on padding, and the (n_jets, N) mask."""
    c = np.asarray(constituents, dtype=np.float64)
    mask = jc.constituent_mask(c)
    f = np.stack([np.log(np.where(mask, c[..., 0], 1.0)), c[..., 1], c[..., 2]], -1)
    return (f * mask[..., None]).astype(np.float32), mask


def to_constituents(features: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_features`: (pT, eta_rel, phi_rel), sorted by pT,
    zero-padded."""
    f = np.asarray(features, dtype=np.float64)
    mask = np.asarray(mask, bool)
    c = np.stack([np.exp(f[..., 0]), f[..., 1], f[..., 2]], -1) * mask[..., None]
    order = np.argsort(-c[..., 0], axis=1, kind="stable")
    return np.take_along_axis(c, order[..., None], axis=1).astype(np.float32)


def observables(constituents: np.ndarray) -> dict[str, np.ndarray]:
    """Multiplicity, jet mass (GeV) and the flat list of constituent pT (GeV)."""
    o = jc.jet_observables(constituents)
    pt = np.asarray(constituents)[..., 0]
    return {"multiplicity": o["multiplicity"].astype(float), "mass": o["mass"], "constituent_pt": pt[pt > 0]}


def w1(a: dict, b: dict) -> dict[str, float]:
    """Wasserstein-1 distance of each observable (scipy)."""
    from scipy.stats import wasserstein_distance

    return {k: float(wasserstein_distance(a[k], b[k])) for k in OBSERVABLES}
