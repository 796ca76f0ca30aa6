"""Jet constituents as (pT, eta_rel, phi_rel): a 5-class toy generator, the
ParT-format real excerpts, and one on-disk format for both.

On-disk format (HDF5, written by :func:`write_jets`, read by :func:`read_jets`):

* ``constituents``: float32 (n_jets, n_max, 3), columns ``FEATURES`` =
  (pT [GeV], eta_rel, phi_rel) relative to the pT-weighted jet axis, sorted by
  decreasing pT, zero-padded (a padded slot has pT = 0).
* ``labels``: int64 (n_jets,), indices into the ``class_names`` attribute.
* attributes ``class_names`` (JSON list), ``source`` and ``provenance`` (JSON).

* ``mask``: bool (n_jets, n_max), True for a real constituent (the same as
  pT > 0; files written before the mask existed get it from pT).

Constituents are massless: :func:`four_vectors` gives (E, px, py, pz) in the
jet frame (jet axis at eta = phi = 0) and :func:`jet_observables` the jet pT,
mass and multiplicity.

The toy (:func:`generate_toy`) draws jets at pT ~ 1 TeV. The default classes
are the hls4ml LHC jet data set's (light quark, gluon, W, Z, top): one prong
for q/g (gluons with more, softer and wider radiation), two prongs for W/Z
split with the boson mass (80.4 / 91.2 GeV), three for top (173 GeV, one W
pair inside). ``FINE_CLASSES`` adds JetClass-like fine-grained resonances for
foundation-model studies: 2-prong X at 40, 125 (H) and 300 GeV, a heavy
3-prong X (400 GeV -> prong + 200 GeV pair) and 4-prong X -> YY at 125 GeV
(80 + 40 GeV pairs, like H -> WW* -> 4q) and 400 GeV (two 100 GeV pairs).
Each prong radiates constituents with Dirichlet pT fractions and
exponentially distributed angles. It is a stand-in with the right
structure (prong count, mass scale, multiplicity), not a shower.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import InputError

FEATURES = ("pt", "eta_rel", "phi_rel")
TOY_CLASSES = ("q", "g", "W", "Z", "t")
FINE_CLASSES = ("q", "g", "W", "Z", "X2p40", "H", "X2p300", "t", "X3p400", "X4p125", "X4p400")
INPUT_SCALE = 10.0  # network inputs are 10 x (pT fraction, eta_rel, phi_rel)
# name: resonance mass (0: one prong), masses of the pairs it decays into
# (none: 2 prongs; one: prong + pair = 3 prongs; two: pair + pair = 4 prongs),
# mean constituents per unit pT fraction, angular width, soft exponent
_TOY = {
    "q": dict(mass=0.0, mult=18.0, width=0.035, alpha=0.6),
    "g": dict(mass=0.0, mult=30.0, width=0.06, alpha=0.9),
    "W": dict(mass=80.4, mult=24.0, width=0.025, alpha=0.6),
    "Z": dict(mass=91.2, mult=24.0, width=0.025, alpha=0.6),
    "t": dict(mass=172.7, pairs=(80.4,), mult=34.0, width=0.025, alpha=0.6),
    "X2p40": dict(mass=40.0, mult=22.0, width=0.025, alpha=0.6),
    "H": dict(mass=125.0, mult=26.0, width=0.025, alpha=0.6),
    "X2p300": dict(mass=300.0, mult=30.0, width=0.025, alpha=0.6),
    "X3p400": dict(mass=400.0, pairs=(200.0,), mult=38.0, width=0.025, alpha=0.6),
    "X4p125": dict(mass=125.0, pairs=(80.4, 40.0), mult=36.0, width=0.025, alpha=0.6),
    "X4p400": dict(mass=400.0, pairs=(100.0, 100.0), mult=44.0, width=0.025, alpha=0.6),
    # a light 3-prong resonance (50 GeV -> prong + 25 GeV pair), in no default class list: the sophon
    # study's transfer target (a topology its pre-training never sees, at masses where QCD jets lie)
    "X3p50": dict(mass=50.0, pairs=(25.0,), mult=26.0, width=0.025, alpha=0.6),
}


def _prongs(cls: str, pt: float, rng: np.random.Generator) -> list[tuple[float, float, float]]:
    """(pT fraction, eta offset, phi offset) of the hard prongs of one jet."""
    m = _TOY[cls]["mass"]
    if m == 0.0:
        return [(1.0, 0.0, 0.0)]

    def split(z_min: float = 0.15) -> float:
        z = rng.uniform(z_min, 1 - z_min)
        return z

    def two(mass: float, pt_: float) -> list[tuple[float, float, float]]:
        z = split()
        # opening angle of a two-body decay: dR ~ m / (pT sqrt(z (1-z)))
        dr = mass / (pt_ * np.sqrt(z * (1 - z)))
        ang = rng.uniform(0, 2 * np.pi)
        c, s = np.cos(ang), np.sin(ang)
        return [(z, (1 - z) * dr * c, (1 - z) * dr * s), (1 - z, -z * dr * c, -z * dr * s)]

    pairs = _TOY[cls].get("pairs", ())
    if not pairs:
        return two(m, pt)
    # 3 prongs (t -> b W(qq)): split into prong + pair, then the pair -> qq;
    # 4 prongs (X -> YY -> 4q): split into two pairs, then each pair -> qq
    first, second = two(m, pt)
    halves = [(first, None), (second, pairs[0])] if len(pairs) == 1 else [(first, pairs[0]), (second, pairs[1])]
    out = []
    for (z, e0, p0), pair_mass in halves:
        if pair_mass is None:
            out.append((z, e0, p0))
        else:
            out += [(z * zq, e0 + e, p0 + p) for zq, e, p in two(pair_mass, z * pt)]
    return out


def generate_toy(n_jets: int, n_max: int = 32, seed: int = 0, pt_mean: float = 1000.0,
                 classes: Sequence[str] = TOY_CLASSES) -> dict:
    """Equal numbers of jets per class; returns ``{"constituents", "labels",
    "class_names"}`` in the on-disk layout. Deterministic in ``seed``."""
    if n_jets < len(classes):
        raise InputError("config", "n_jets", f"need at least {len(classes)} jets, got {n_jets}")
    unknown = [c for c in classes if c not in _TOY]
    if unknown:
        raise InputError("config", "classes", f"unknown toy class {unknown[0]} (known {list(_TOY)})")
    rng = np.random.default_rng(seed)
    labels = np.arange(n_jets) % len(classes)
    rng.shuffle(labels)
    out = np.zeros((n_jets, n_max, 3), dtype=np.float32)
    for j, lab in enumerate(labels):
        cls = classes[lab]
        par = _TOY[cls]
        pt = rng.normal(pt_mean, 0.1 * pt_mean)
        parts = []
        for z, de, dp in _prongs(cls, pt, rng):
            n = max(1, rng.poisson(par["mult"] * z ** 0.7))
            frac = rng.dirichlet(np.full(n, par["alpha"]))
            r = rng.exponential(par["width"] * (1 + 0.3 / np.sqrt(z)), size=n) * (1 - frac) ** 2
            ang = rng.uniform(0, 2 * np.pi, size=n)
            parts.append(np.stack([pt * z * frac, de + r * np.cos(ang), dp + r * np.sin(ang)], axis=1))
        c = np.concatenate(parts)
        c[:, 0] *= rng.normal(1.0, 0.05, size=len(c)).clip(0.5)  # detector smearing of pT
        c = c[c[:, 0] > 1.0]  # 1 GeV threshold
        out[j] = _axis_sort_pad(c, n_max)
    return {"constituents": out, "labels": labels.astype(np.int64), "class_names": list(classes)}


def _axis_sort_pad(c: np.ndarray, n_max: int) -> np.ndarray:
    """Recentre (eta, phi) on the pT-weighted axis, sort by pT, keep n_max."""
    res = np.zeros((n_max, 3), dtype=np.float32)
    if len(c) == 0:
        return res
    w = c[:, 0] / c[:, 0].sum()
    c = c.copy()
    c[:, 1] -= np.sum(w * c[:, 1])
    c[:, 2] -= np.sum(w * c[:, 2])
    c = c[np.argsort(-c[:, 0], kind="stable")][:n_max]
    res[:len(c)] = c
    return res


def from_part_arrays(vectors: np.ndarray, points: np.ndarray, mask: np.ndarray, n_max: int = 32) -> np.ndarray:
    """ParT/weaver arrays (px, py, pz, E), (deta, dphi), mask with shapes
    (n, 4, P), (n, 2, P), (n, 1, P) -> constituents (n, n_max, 3)."""
    vectors, points, mask = (np.asarray(a, dtype=np.float64) for a in (vectors, points, mask))
    pt = np.hypot(vectors[:, 0], vectors[:, 1]) * (mask[:, 0] > 0)
    out = np.zeros((len(pt), n_max, 3), dtype=np.float32)
    for j in range(len(pt)):
        keep = pt[j] > 0
        c = np.stack([pt[j][keep], points[j, 0][keep], points[j, 1][keep]], axis=1)
        out[j] = _axis_sort_pad(c, n_max)
    return out


def read_part_excerpt(folder: str | Path, n_max: int = 32,
                      class_names: Sequence[str] = ("background", "signal")) -> dict:
    """A ``../shared/data/jets_part_samples/<name>`` folder -> the on-disk layout.

    The ParT arrays are read by :func:`colliderflow.data.part_jets.read_jets`
    (the one reader of that format). Binary labels (QCD/top: 0/1;
    quark/gluon: 0 = gluon, 1 = quark).
    """
    from . import part_jets

    folder = Path(folder)
    hits = sorted(folder.glob("*_labels.npy"))
    if not hits:
        raise InputError(folder, "labels", "no *_labels.npy file in the folder")
    arrays = part_jets.read_jets(str(hits[0])[: -len("_labels.npy")])
    cons = from_part_arrays(arrays["pf_vectors"], arrays["pf_points"], arrays["pf_mask"], n_max)
    return {"constituents": cons, "labels": arrays["labels"].astype(np.int64), "class_names": list(class_names)}


def write_jets(path: str | Path, jets: dict, source: str, provenance: dict | None = None) -> None:
    """Write the on-disk format atomically."""
    import h5py

    from ..io import atomic_path

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("constituents", data=np.asarray(jets["constituents"], dtype=np.float32),
                             compression="gzip", compression_opts=4)
            f.create_dataset("labels", data=np.asarray(jets["labels"], dtype=np.int64))
            f.create_dataset("mask", data=constituent_mask(jets["constituents"]), compression="gzip")
            f.attrs["class_names"] = json.dumps(list(jets["class_names"]))
            f.attrs["features"] = json.dumps(list(FEATURES))
            f.attrs["units"] = json.dumps({"pt": "GeV", "eta_rel": "1", "phi_rel": "rad"})
            f.attrs["source"] = source
            f.attrs["provenance"] = json.dumps(provenance or {})


def read_jets(path: str | Path) -> dict:
    """Read and validate the on-disk format; raises InputError naming the field."""
    from ..hdf5 import read_dataset
    from ..io import open_hdf5

    path = Path(path)
    with open_hdf5(path, ("constituents", "labels")) as f:
        cons = read_dataset(f, path, "constituents")
        labels = read_dataset(f, path, "labels")
        mask = read_dataset(f, path, "mask") if "mask" in f else None
        try:
            names = json.loads(f.attrs.get("class_names", "[]"))
            source = str(f.attrs.get("source", ""))
        except Exception as exc:  # unreadable or non-JSON attribute
            raise InputError(path, "class_names", f"attribute unreadable or not JSON ({type(exc).__name__})") from None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InputError(path, "class_names", "expected a JSON list of names")
    if labels.dtype.kind not in "iu":
        raise InputError(path, "labels", f"expected integers, got {labels.dtype}")
    if cons.ndim != 3 or cons.shape[2] != 3:
        raise InputError(path, "constituents", f"shape {cons.shape}, expected (n_jets, n_max, 3)")
    if len(labels) != len(cons):
        raise InputError(path, "labels", f"{len(labels)} labels for {len(cons)} jets")
    if not np.isfinite(cons).all():
        raise InputError(path, "constituents",
                         f"{int((~np.isfinite(cons)).any(axis=(1, 2)).sum())} jet(s) hold NaN or inf")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(names)):
        raise InputError(path, "labels", f"label outside 0..{len(names) - 1}")
    if mask is None:
        mask = constituent_mask(cons)
    elif mask.shape != cons.shape[:2] or not np.array_equal(mask.astype(bool), constituent_mask(cons)):
        raise InputError(path, "mask", "does not match the non-zero constituent pT")
    return {"constituents": cons, "labels": labels, "class_names": names, "source": source,
            "mask": mask.astype(bool)}


def constituent_mask(constituents: np.ndarray) -> np.ndarray:
    """(n_jets, n_max) bool: True for a real constituent (pT > 0)."""
    return np.asarray(constituents)[..., 0] > 0


def select_classes(jets: dict, names: Sequence[str]) -> dict:
    """The jets of the named classes, relabelled 0..len(names)-1 in that order;
    an unknown name is an InputError naming the file's classes."""
    known = list(jets["class_names"])
    missing = [n for n in names if n not in known]
    if missing:
        raise InputError(jets.get("source") or None, "class_names", f"no class {missing[0]!r} (have {known})")
    old = np.array([known.index(n) for n in names])
    keep = np.isin(jets["labels"], old)
    remap = np.full(len(known), -1)
    remap[old] = np.arange(len(names))
    out = {k: (v[keep] if isinstance(v, np.ndarray) and len(v) == len(keep) else v) for k, v in jets.items()}
    out["labels"] = remap[jets["labels"][keep]]
    out["class_names"] = list(names)
    return out


def four_vectors(constituents: np.ndarray) -> np.ndarray:
    """Massless constituent four-momenta (n_jets, n_max, 4) = (E, px, py, pz)
    in GeV in the jet frame (axis at eta = phi = 0, so the jet points along
    x); zero for padded slots."""
    c = np.asarray(constituents, dtype=np.float64)
    pt, eta, phi = c[..., 0], c[..., 1], c[..., 2]
    p4 = np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=-1)
    return p4 * constituent_mask(c)[..., None]


def jet_observables(constituents: np.ndarray) -> dict[str, np.ndarray]:
    """Jet pT and mass (GeV) from the summed constituent four-momenta, and the
    constituent multiplicity."""
    j = four_vectors(constituents).sum(axis=1)
    mass = np.sqrt(np.clip(j[:, 0] ** 2 - (j[:, 1:] ** 2).sum(1), 0.0, None))
    return {"pt": np.hypot(j[:, 1], j[:, 2]), "mass": mass,
            "multiplicity": constituent_mask(constituents).sum(1)}


def model_inputs(constituents: np.ndarray, n: int) -> np.ndarray:
    """Network input (n_jets, 3, n): 10 x (pT / summed pT of the kept
    constituents, eta_rel, phi_rel) of the n leading constituents, so all
    three are O(1) for a shared fixed-point input format; channels first, so
    a 1x1 Conv1d acts per constituent."""
    c = np.asarray(constituents[:, :n, :], dtype=np.float32)
    if c.shape[1] < n:
        raise InputError(None, "n_constituents", f"asked for {n} constituents, the file keeps {c.shape[1]}")
    pt = c[:, :, 0]
    tot = pt.sum(axis=1, keepdims=True)
    x = INPUT_SCALE * np.stack([pt / np.where(tot > 0, tot, 1.0), c[:, :, 1], c[:, :, 2]], axis=1)
    return np.ascontiguousarray(x.astype(np.float32))
