"""A toy of QCD jet radiation in Z + jets with staircase scaling.

Every event is a Z boson (the azimuthal reference, phi_Z = 0) plus a variable
number of extra jets, emitted one after the other:

* **multiplicity**: after each emission the shower goes on with the constant
  probability ``ratio`` R, so the exclusive rates follow staircase scaling,
  sigma(n+1)/sigma(n) = R for every n (capped at ``n_max`` jets, where the
  remaining probability is negligible for the studied multiplicities). The
  truth rate of any multiplicity is therefore known.
* **kinematics**: a Markov splitting kernel, the same for every emission.
  The first jet has pT - pT_min exponential with mean ``pt_scale``; each next
  jet takes a Beta(``z_a``, ``z_b``) fraction of the previous jet's excess over
  the threshold (so jets come out pT-ordered, all above ``pt_min``), its
  pseudorapidity random-walks from the previous jet's with step ``eta_step``
  (first jet: N(0, ``eta_width``)), and it recoils roughly back-to-back
  against the previous object: phi_k = phi_{k-1} + pi + N(0, ``phi_width``)
  (the first jet against the Z). Softer jets are therefore more forward and
  the k-th jet's spectrum for any k follows from the kernel.

On-disk format (HDF5): ``jets`` (N, n_slots, 3) float32 = (pT [GeV], eta,
phi), zero-padded beyond ``n_jets`` (N,) int; the generator settings in the
file attributes. :func:`read_events` reads toy and generated samples alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

FEATURES = ("pt", "eta", "phi")


@dataclass
class RadiationToy:
    ratio: float = 0.4          # staircase ratio R = sigma(n+1)/sigma(n)
    pt_min: float = 30.0        # jet threshold (GeV)
    pt_scale: float = 40.0      # mean of pT - pt_min of the first jet (GeV)
    z_a: float = 2.0            # Beta(z_a, z_b) momentum fraction of each next emission
    z_b: float = 2.0
    eta_width: float = 1.0      # first-jet pseudorapidity width
    eta_step: float = 0.8       # pseudorapidity random-walk step per emission
    phi_width: float = 0.6      # acoplanarity width (rad)
    n_max: int = 6              # hard cap on the multiplicity

    def check(self, source: str | Path | None = None) -> "RadiationToy":
        for name in ("ratio", "pt_min", "pt_scale", "z_a", "z_b", "eta_width", "eta_step", "phi_width"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (np.isfinite(v) and v > 0):
                raise InputError(source, name, f"must be a finite positive number, got {v!r}")
        if not self.ratio < 1.0:
            raise InputError(source, "ratio", f"staircase ratio must be in (0, 1), got {self.ratio}")
        if isinstance(self.n_max, bool) or not isinstance(self.n_max, int) or self.n_max < 1:
            raise InputError(source, "n_max", f"must be an integer >= 1, got {self.n_max!r}")
        return self


def truth_fractions(ratio: float, n_max: int) -> np.ndarray:
    """Exclusive multiplicity probabilities P(n), n = 0..n_max, of the toy."""
    p = ratio ** np.arange(n_max + 1) * (1 - ratio)
    p[-1] = ratio**n_max  # the cap collects the rest
    return p


def wrap(phi: np.ndarray) -> np.ndarray:
    """Angle wrapped into [-pi, pi)."""
    return (np.asarray(phi) + np.pi) % (2 * np.pi) - np.pi


def generate(n_events: int, toy: RadiationToy | None = None, seed: int = 0) -> dict:
    """Truth events: ``{"jets": (N, n_max, 3), "n_jets": (N,)}``."""
    toy = (toy or RadiationToy()).check()
    if int(n_events) < 1:
        raise InputError(None, "n_events", f"need at least one event, got {n_events}")
    rng = np.random.default_rng(seed)
    n = int(n_events)
    # geometric multiplicity: continue with probability R after every emission
    n_jets = np.minimum(rng.geometric(1 - toy.ratio, n) - 1, toy.n_max)
    jets = np.zeros((n, toy.n_max, 3))
    excess = rng.exponential(toy.pt_scale, n)
    eta = rng.normal(0.0, toy.eta_width, n)
    phi = wrap(np.pi + rng.normal(0.0, toy.phi_width, n))
    for k in range(toy.n_max):
        on = n_jets > k
        jets[on, k] = np.stack([toy.pt_min + excess, eta, phi], -1)[on]
        excess = excess * rng.beta(toy.z_a, toy.z_b, n)
        eta = eta + rng.normal(0.0, toy.eta_step, n)
        phi = wrap(phi + np.pi + rng.normal(0.0, toy.phi_width, n))
    return {"jets": jets.astype(np.float32), "n_jets": n_jets.astype(np.int64)}


def write_events(path: str | Path, jets: np.ndarray, n_jets: np.ndarray, attrs: dict | None = None) -> None:
    """Write events in the format above, atomically; ``attrs`` (scalars or
    strings) go to the file attributes."""
    import h5py

    from ..io import atomic_path

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("jets", data=np.asarray(jets, dtype=np.float32))
            f.create_dataset("n_jets", data=np.asarray(n_jets, dtype=np.int64))
            f["jets"].attrs["features"] = ",".join(FEATURES)
            for k, v in (attrs or {}).items():
                f.attrs[k] = v


def read_events(path: str | Path, pt_min: float | None = None) -> dict:
    """Events from :func:`write_events`: ``jets``, ``n_jets`` and ``attrs``.

    Raises :class:`InputError` naming the file and field for a missing file or
    dataset, wrong shapes, NaN/inf, multiplicities outside the stored slots,
    non-zero padding, or (with ``pt_min``) a jet below the threshold.
    """
    from ..io import open_hdf5

    path = Path(path)
    with open_hdf5(path, ("jets", "n_jets")) as f:
        jets = np.asarray(f["jets"][:], dtype=np.float64)
        n_jets = np.asarray(f["n_jets"][:])
        attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()}
    if jets.ndim != 3 or jets.shape[2] != len(FEATURES):
        raise InputError(path, "jets", f"expected shape (N, n_slots, {len(FEATURES)}), got {jets.shape}")
    if n_jets.shape != (len(jets),):
        raise InputError(path, "n_jets", f"shape {n_jets.shape} does not match {len(jets)} events")
    if not np.issubdtype(n_jets.dtype, np.integer):
        raise InputError(path, "n_jets", f"must hold integers, got {n_jets.dtype}")
    bad = ~np.isfinite(jets).all(axis=(1, 2))
    if bad.any():
        raise InputError(path, "jets", f"{int(bad.sum())} event(s) hold NaN or inf")
    if len(n_jets) and (n_jets.min() < 0 or n_jets.max() > jets.shape[1]):
        raise InputError(path, "n_jets", f"multiplicities must lie in [0, {jets.shape[1]}]")
    slot = np.arange(jets.shape[1])[None, :]
    real = slot < n_jets[:, None]
    if np.any(jets[~real] != 0):
        raise InputError(path, "jets", "padding slots beyond n_jets must be zero")
    if pt_min is not None and np.any(jets[..., 0][real] < pt_min * (1 - 1e-6)):
        raise InputError(path, "jets", f"jet pT below the threshold {pt_min} GeV")
    return {"jets": jets, "n_jets": n_jets.astype(np.int64), "attrs": attrs}


def multiplicity_counts(n_jets: np.ndarray, n_max: int) -> np.ndarray:
    """Exclusive event counts for n = 0..n_max (higher multiplicities in the last bin)."""
    return np.bincount(np.minimum(np.asarray(n_jets), n_max), minlength=n_max + 1)[: n_max + 1]


def toy_attrs(toy: RadiationToy, seed: int) -> dict:
    return {**{k: v for k, v in asdict(toy).items()}, "seed": seed, "source": "toy"}


def make_toy(out: str | Path, settings: dict, n_events: int, seed: int) -> dict:
    """Generate the truth sample with the toy ``settings`` and write it."""
    unknown = set(settings) - set(RadiationToy.__dataclass_fields__)
    if unknown:
        raise InputError(None, sorted(unknown)[0], "unknown toy setting")
    cfg = RadiationToy(**settings).check()
    events = generate(n_events, cfg, seed=seed)
    write_events(out, events["jets"], events["n_jets"], toy_attrs(cfg, seed))
    return events


def from_lhe(lhe_path: str | Path, out: str | Path, pt_min: float, k: int) -> dict:
    """Real truth events from a Les Houches Event file (:func:`colliderflow.data.lhe.read_partons`):
    the outgoing partons as the jets, phi measured from the vector boson (as the toy's Z), written in
    this module's format. ``ratio`` (the truth the study compares with) is the file's measured
    sigma(k)/sigma(k - 1) of unweighted events, ``k`` the first multiplicity the model never sees;
    a parton below ``pt_min`` or weighted events stop with the file and field named."""
    from .lhe import read_partons

    ev = read_partons(lhe_path)
    n, jets = ev["n_partons"], ev["partons"]
    real = np.arange(jets.shape[1])[None, :] < n[:, None]
    if np.any(jets[..., 0][real] <= pt_min):
        raise InputError(lhe_path, "parton pT", f"a parton at or below pt_min = {pt_min} GeV (set lhe.pt_min below "
                                                "the generator's cut)")
    w = ev["weights"]
    if np.ptp(np.abs(w)) > 1e-6 * np.abs(w).max() or np.any(w < 0):
        raise InputError(lhe_path, "weights", "weighted or negative-weight events: the multiplicity rates need "
                                              "unweighted events")
    counts = np.bincount(n, minlength=k + 1)
    if counts[k - 1] == 0 or counts[k] == 0:
        raise InputError(lhe_path, "partons", f"needs events with {k - 1} and {k} partons, has {counts.tolist()}")
    attrs = {"source": f"lhe:{Path(lhe_path).name}", "ratio": float(counts[k] / counts[k - 1]),
             "ratio_from": f"measured sigma({k})/sigma({k - 1}) of the file's {int(len(n))} events",
             "pt_min": float(pt_min), "n_max": int(n.max())}
    write_events(out, jets, n, attrs)
    return {"jets": jets, "n_jets": n, "attrs": attrs}
