"""A toy longitudinally segmented sampling calorimeter (electromagnetic showers).

The shower's mean longitudinal profile is a Gamma distribution in depth
(Longo-Sestili) whose shape grows with ``ln(E/E_c)``; every event has its own
profile parameters (shower-start and shape fluctuations, which make the layer
energies strongly correlated and non-Gaussian), the energy behind the last
layer leaks out, and each layer's visible energy fluctuates with a
Gamma-distributed sampling term (stochastic resolution ``a/sqrt(E)``) plus a
small positive noise floor. Layer energies are therefore strictly positive.

The on-disk format is CaloChallenge-like HDF5: ``incident_energies`` (N, 1)
and ``showers`` (N, n_layers), energies in GeV, with the generator settings in
the file attributes. A calorimeter-shower study can reuse :func:`generate` and
:func:`read_showers`; :mod:`colliderflow.data.calochallenge` reuses
:func:`layer_fractions` for showers resolved in (radial x angular) cells.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.special import gammainc

from ..errors import InputError, require_finite

CRITICAL_ENERGY = 0.02  # GeV (E_c of a lead-like absorber)


def _cdf_depth(t: np.ndarray, a: float | np.ndarray, b: float) -> np.ndarray:
    """Cumulative Gamma profile fraction deposited before depth ``t`` (X0)."""
    return gammainc(a, b * np.clip(t, 0.0, None))


def layer_fractions(e: np.ndarray, n_layers: int, depth: float, profile_spread: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Fraction (N, n_layers) of each shower's energy deposited in each of
    ``n_layers`` equal slices of ``depth`` X0 (rows sum to < 1: leakage).

    The longitudinal profile of :func:`generate`: a Gamma profile with its
    maximum at ``ln(E/E_c) - 0.5`` X0, a log-normal event-by-event shape
    fluctuation (``profile_spread``) and an exponential shower start; draws
    from ``rng`` (normal, then exponential).
    """
    n = len(e)
    b = 0.5
    t_max = np.log(e / CRITICAL_ENERGY) - 0.5  # shower maximum (X0) for photons/electrons
    a = 1.0 + b * t_max
    # event-by-event fluctuations: shape (log-normal) and shower start (exponential, in X0)
    a_ev = a * np.exp(profile_spread * rng.standard_normal(n))
    start = rng.exponential(9.0 / 7.0 * 0.5, n)
    edges = np.linspace(0.0, depth, n_layers + 1)
    cdf = _cdf_depth(edges[None, :] - start[:, None], a_ev[:, None], b)
    return np.diff(cdf, axis=1)


def generate(energies: np.ndarray, n_layers: int = 5, depth: float = 20.0, sampling: float = 0.3,
             profile_spread: float = 0.15, noise: float = 0.02, seed: int = 0) -> np.ndarray:
    """Layer energies (N, n_layers) in GeV for incident ``energies`` (N,) in GeV.

    ``depth`` total calorimeter depth in radiation lengths (leakage behind it),
    ``sampling`` stochastic term a in a/sqrt(E) per layer fluctuation,
    ``profile_spread`` relative event-by-event spread of the profile shape,
    ``noise`` mean of the exponential noise floor per layer (GeV).
    """
    e = np.asarray(energies, dtype=float).reshape(-1)
    if not np.all(np.isfinite(e)) or np.any(e <= 0):
        raise InputError(None, "energies", "incident energies must be finite and positive")
    if n_layers < 2:
        raise InputError(None, "n_layers", f"need at least 2 layers, got {n_layers}")
    rng = np.random.default_rng(seed)
    frac = layer_fractions(e, n_layers, depth, profile_spread, rng)
    mean_dep = e[:, None] * np.clip(frac, 1e-6, None)
    # sampling fluctuations: Gamma with relative variance sampling^2 / E_layer
    k = mean_dep / sampling**2
    vis = rng.gamma(k, mean_dep / k)
    return vis + rng.exponential(noise, vis.shape)


def sample_prior(n: int, prior: str, e_min: float, e_max: float, seed: int = 0) -> np.ndarray:
    """Incident energies from a training prior: ``uniform`` in E, ``log_uniform``,
    or ``falling`` (p(E) ~ E^-2, a steeply falling spectrum)."""
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    if prior == "uniform":
        return e_min + (e_max - e_min) * u
    if prior == "log_uniform":
        return e_min * (e_max / e_min) ** u
    if prior == "falling":
        return 1.0 / (1.0 / e_min - u * (1.0 / e_min - 1.0 / e_max))
    raise InputError(None, "prior", f"unknown prior '{prior}' (uniform, log_uniform, falling)")


def write_showers(path: str | Path, incident: np.ndarray, showers: np.ndarray, attrs: dict | None = None) -> None:
    """CaloChallenge-like HDF5 (``incident_energies``, ``showers``), atomically."""
    import h5py

    from ..io import atomic_path

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("incident_energies", data=np.asarray(incident, dtype=np.float32).reshape(-1, 1))
            f.create_dataset("showers", data=np.asarray(showers, dtype=np.float32))
            for k, v in (attrs or {}).items():
                f.attrs[k] = v


def read_showers(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(incident (N,), showers (N, L)) from a CaloChallenge-like HDF5 file."""
    from ..hdf5 import read_dataset
    from ..io import open_hdf5

    path = Path(path)
    with open_hdf5(path, ("incident_energies", "showers")) as f:
        arrays = {key: read_dataset(f, path, key) for key in ("incident_energies", "showers")}
    inc = require_finite(arrays["incident_energies"].reshape(-1), path, "incident_energies")
    sh = require_finite(arrays["showers"], path, "showers")
    if len(inc) != len(sh):
        raise InputError(path, "showers", f"{len(sh)} showers for {len(inc)} incident energies")
    return inc, sh
