"""Iterative Bayesian unfolding (D'Agostini), one observable at a time.

The response is built from the simulation: ``R[i, j] = P(reco bin i,
reconstructed | truth bin j)``, whose column sums are the efficiencies. Fakes
are a second component of the reco spectrum with the simulated fake shape
and the simulated number of fakes per particle-level jet, scaled by the
current estimate of the number of particle-level jets (a per-bin fake
fraction taken from the simulation would carry the simulation's prior).
Each iteration applies Bayes' theorem with the previous estimate as prior.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .data import histogram


def response(gen: ArrayLike, reco: ArrayLike, gen_pass: ArrayLike, reco_pass: ArrayLike, weight: ArrayLike,
             edges: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(R, fakes_per_jet, truth)`` of one observable from simulated pairs:
    ``fakes_per_jet[i]`` = fakes in reco bin i per particle-level jet."""
    nb = len(edges) - 1
    matched = gen_pass & reco_pass
    truth = histogram(gen[gen_pass], edges, weight[gen_pass])
    ti = np.clip(np.digitize(gen[matched], edges) - 1, 0, nb - 1)
    ri = np.clip(np.digitize(reco[matched], edges) - 1, 0, nb - 1)
    joint = np.zeros((nb, nb))
    np.add.at(joint, (ri, ti), weight[matched])
    R = joint / np.maximum(truth, 1e-300)[None, :]
    fake = histogram(reco[reco_pass & ~gen_pass], edges, weight[reco_pass & ~gen_pass])
    return R, fake / max(truth.sum(), 1e-300), truth


def ibu(data_counts: ArrayLike, R: ArrayLike, prior: ArrayLike, fakes_per_jet: ArrayLike,
        iterations: int) -> np.ndarray:
    """Unfolded truth histograms after 1..``iterations`` iterations, shape
    (iterations, bins); ``prior`` is the simulated truth histogram."""
    eff = R.sum(axis=0)
    t = prior * data_counts.sum() / max((R @ prior).sum(), 1e-300)
    out = []
    for _ in range(iterations):
        folded = R @ t                                       # expected reco counts of real jets
        share = folded / np.maximum(folded + fakes_per_jet * t.sum(), 1e-300)
        d = data_counts * share                              # fakes removed
        post = R * t[None, :] / np.maximum(folded, 1e-300)[:, None]  # P(truth j | reco i)
        t = np.where(eff > 0, (post * d[:, None]).sum(axis=0) / np.maximum(eff, 1e-300), 0.0)
        out.append(t.copy())
    return np.array(out)


def unfold(sim: dict, data: dict, edges_list: list[np.ndarray], iterations: int) -> list[np.ndarray]:
    """IBU of every observable; a list (per observable) of (iterations, bins)."""
    out = []
    for k, edges in enumerate(edges_list):
        R, fake, truth = response(sim["gen"][:, k], sim["reco"][:, k], sim["gen_pass"], sim["reco_pass"],
                                  sim["weight"], edges)
        sel = data["reco_pass"]
        d = histogram(data["reco"][sel, k], edges, data["weight"][sel])
        out.append(ibu(d, R, truth, fake, iterations))
    return out
