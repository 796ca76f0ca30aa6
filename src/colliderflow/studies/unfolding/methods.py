"""Running one method on one simulation prior, and the histograms it leaves.

Every method ends in truth-level histograms in the shared binning
(:func:`.data.binning`): IBU and OmniFold one per iteration, SPINUP one per
ensemble member. They are stored in one ``.npz`` per (method, prior).
"""

from __future__ import annotations

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
        omnifold_iterations: int,
        net: NetConfig | None = None, spinup_cfg: SpinupConfig | None = None, max_events: int = 0) -> dict:
    """Unfold the data of ``table`` with simulation ``prior`` by ``method``;
    returns ``{"hists": [per observable (steps, bins)], "edges": [...], ...}``."""
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
        hists = ibu.unfold(sim, data, edges, ibu_iterations)
    elif method == "omnifold":
        w = omnifold.unfold(sim, data, feats, omnifold_iterations, net)
        g = sim["gen"][sim["gen_pass"]]
        hists = [np.array([histogram(g[:, k], e, wi) for wi in w]) for k, e in enumerate(edges)]
    else:
        members = spinup.unfold(sim, data, feats, spinup_cfg, net)
        hists = [np.array([histogram(s[:, k], e, w) for s, w in members]) for k, e in enumerate(edges)]
    return {"hists": hists, "edges": edges, "observables": obs, "method": method, "prior": prior,
            "cpu_seconds": time.process_time() - c0, "wall_seconds": time.perf_counter() - t0}


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
        return {"observables": obs, "method": str(f["method"]), "prior": str(f["prior"]),
                "cpu_seconds": float(f["cpu_seconds"]), "wall_seconds": float(f["wall_seconds"]),
                "hists": [f[f"hist_{o}"] for o in obs], "edges": [f[f"edges_{o}"] for o in obs]}
