"""Running one method on one simulation prior, and the histograms it leaves.

Every method ends in truth-level histograms in the shared binning
(:func:`.data.binning`), per observable an array (replicas, steps, bins):
the replicas are the method's own spread (IBU: Poisson bootstraps of the
data; OmniFold and SPINUP: ensemble members, each with its own seed and
Poisson(1) bootstrap weights of the data), the steps IBU's and OmniFold's
iterations (SPINUP: one). The bootstrap weights of replica r depend on
``(seed, r)`` only, so the replicas of the two simulation priors see the
same resampled data (paired). They are stored in one ``.npz`` per (method, prior).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...errors import InputError
from ...io import atomic_path
from . import METHODS, PRIORS, ibu
from .data import arrays, binning, histogram, load_pairs

if TYPE_CHECKING:  # the neural methods import torch; IBU and load() (the report) need none of it
    from .nets import NetConfig
    from .spinup import SpinupConfig


def run(table: str | Path | tuple, method: str, prior: str, *, nbins: int, ibu_iterations: int,
        omnifold_iterations: int, net: NetConfig | None = None, spinup_cfg: SpinupConfig | None = None,
        max_events: int = 0, ibu_bootstrap: int = 1, omnifold_ensemble: int = 1, seed: int = 0) -> dict:
    """Unfold the data of ``table`` with simulation ``prior`` by ``method``;
    returns ``{"hists": [per observable (replicas, steps, bins)], "edges": [...], ...}``
    (replicas: ``ibu_bootstrap`` / ``omnifold_ensemble`` / ``spinup_cfg.ensemble``)."""
    if method not in METHODS:
        raise InputError(None, "method", f"unknown method '{method}' (one of {METHODS})")
    if prior not in PRIORS:
        raise InputError(None, "prior", f"unknown prior '{prior}' (one of {PRIORS})")
    df, attrs = load_pairs(table) if isinstance(table, (str, Path)) else table
    obs = attrs["observables"]
    edges = binning(df, obs, attrs["integer"], nbins)
    sim, data = arrays(df, prior, obs), arrays(df, "data", obs)
    if max_events:
        sim = {k: v[:max_events] for k, v in sim.items()}
        data = {k: v[:max_events] for k, v in data.items()}
    if method != "ibu":  # the neural methods (torch)
        from . import omnifold, spinup
        from .nets import Features

        feats = Features(obs, attrs.get("log", ()), attrs["integer"], attrs.get("bounds"))
    t0, c0 = time.perf_counter(), time.process_time()
    if method == "ibu":
        reps = [ibu.unfold(sim, {**data, "weight": data["weight"] * bootstrap_weights(seed, r, len(data["weight"]),
                                                                                      ibu_bootstrap)},
                           edges, ibu_iterations) for r in range(ibu_bootstrap)]
        hists = [np.array([rep[k] for rep in reps]) for k in range(len(edges))]
    elif method == "omnifold":
        g = sim["gen"][sim["gen_pass"]]
        reps = []
        for r in range(omnifold_ensemble):
            dw = {**data, "weight": data["weight"] * bootstrap_weights(seed, r, len(data["weight"]), omnifold_ensemble)}
            w = omnifold.unfold(sim, dw, feats, omnifold_iterations, dataclasses.replace(net, seed=net.seed + 100 * r))
            reps.append([np.array([histogram(g[:, k], e, wi) for wi in w]) for k, e in enumerate(edges)])
        hists = [np.array([rep[k] for rep in reps]) for k in range(len(edges))]
    else:
        members = spinup.unfold(sim, data, feats, spinup_cfg, net)
        hists = [np.array([[histogram(s[:, k], e, w)] for s, w in members]) for k, e in enumerate(edges)]
    return {"hists": hists, "edges": edges, "observables": obs, "method": method, "prior": prior,
            "cpu_seconds": time.process_time() - c0, "wall_seconds": time.perf_counter() - t0}


def bootstrap_weights(seed: int, replica: int, n: int, replicas: int) -> np.ndarray:
    """Poisson(1) bootstrap weights of the data for one replica (ones when the
    method runs a single replica); a function of ``(seed, replica)`` only."""
    if replicas <= 1:
        return np.ones(n)
    return np.random.default_rng([seed, 7919, replica]).poisson(1.0, n).astype(float)


def save(result: dict, path: str | Path) -> None:
    arrs = {f"hist_{o}": h for o, h in zip(result["observables"], result["hists"])}
    arrs |= {f"edges_{o}": e for o, e in zip(result["observables"], result["edges"])}
    with atomic_path(path) as tmp:
        np.savez(tmp, observables=np.array(result["observables"]), method=result["method"], prior=result["prior"],
                 cpu_seconds=result["cpu_seconds"], wall_seconds=result["wall_seconds"], **arrs)


def load(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise InputError(path, None, "file does not exist")
    with np.load(path) as f:
        obs = [str(o) for o in f["observables"]]
        missing = [k for o in obs for k in (f"hist_{o}", f"edges_{o}") if k not in f]
        if missing:
            raise InputError(path, missing[0], "array missing")
        bad = [o for o in obs if f[f"hist_{o}"].ndim != 3]
        if bad:
            raise InputError(path, f"hist_{bad[0]}", "needs shape (replicas, steps, bins)")
        return {"observables": obs, "method": str(f["method"]), "prior": str(f["prior"]),
                "cpu_seconds": float(f["cpu_seconds"]), "wall_seconds": float(f["wall_seconds"]),
                "hists": [f[f"hist_{o}"] for o in obs], "edges": [f[f"edges_{o}"] for o in obs]}
