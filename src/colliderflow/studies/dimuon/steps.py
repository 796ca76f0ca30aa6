"""Steps of the dimuon study (rule ``dimuon_<step>``)."""

from __future__ import annotations

import numpy as np

from ...data import nanoaod
from ...errors import InputError
from ...io import atomic_path
from ...study import Context
from . import Z_MASS_PDG, analysis


def spectrum(ctx: Context) -> None:
    """NanoAOD muons -> m(mumu) histogram, J/psi, Upsilon(1S) and Z fits, figure, metrics.json."""
    real = ctx.params["source"] != "toy"
    inputs = list(ctx.input)
    masses = np.concatenate([
        nanoaod.dimuon_mass(nanoaod.read_nanoaod(p, entry_stop=ctx.cfg.max_events or None)["Muon"]) for p in inputs
    ])
    n_z = analysis.z_window_count(masses)
    inputs = [s for p in inputs for s in nanoaod.sources(p)]  # a merged dataset: the files it came from
    if n_z < analysis.Z_MIN_PAIRS:
        lo, hi = analysis.Z_WINDOW
        raise InputError(", ".join(inputs), "Muon",
                         f"only {n_z} opposite-charge dimuon pair(s) in {lo:g}-{hi:g} GeV, the Z fit needs "
                         f"{analysis.Z_MIN_PAIRS} (too few events: {len(masses)} pairs in all)")
    fits = analysis.analyse(masses, n_bootstrap=ctx.cfg.bootstrap, seed=ctx.seed)
    with atomic_path(ctx.output.masses) as tmp:
        np.save(tmp, masses)
    analysis.plot(analysis.spectrum(masses), fits, ctx.output.png, data=real,
                  rlabel=f"{len(masses)} $\\mu\\mu$ pairs")
    z = fits["z"]
    pull = (z["mass"] - Z_MASS_PDG) / max(z["mass_err"], 1e-9)
    ctx.write_metrics({**fits, "z_pull_vs_pdg": pull, "inputs": inputs, "real_data": real})
