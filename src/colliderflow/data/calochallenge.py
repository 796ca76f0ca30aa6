"""Calorimeter showers in the CaloChallenge layout: voxel geometry (binning
XML), a toy shower generator resolved in (radial x angular) cells, one reader
for toy and real files, and the challenge's high-level features.

On-disk format (CaloChallenge datasets 1-3): HDF5 with ``incident_energies``
(N, 1) and ``showers`` (N, n_voxels), energies in MeV. The voxels of a layer
are ordered angular bin first, ``index = alpha_bin * n_r + r_bin`` (dataset 2
reshapes a shower to (45 layers, 16 alpha, 9 r)); layers follow each other.

Geometry: the ``binning_dataset_*.xml`` schema of the challenge::

    <Bins>
      <Bin pid="11" name="electron">
        <Layer id="0" r_edges="0,4.65,9.3" n_bin_alpha="16" />
        ...

A layer with ``r_edges="0"`` has no voxels (dataset 1 leaves some GEANT4
layers out that way). Angular bins split [-pi, pi) evenly.

The toy: the longitudinal profile of :mod:`colliderflow.data.calorimeter_toy`
(Gamma profile with its maximum at ``ln(E/E_c) - 0.5`` X0, shape and start
fluctuations, leakage); in each layer the deposit is a Poisson number of
energy "hits" (exponential hit energies: sampling fluctuations), placed around
a shower axis that is displaced and tilted event by event with a core + halo
exponential radial profile that widens with depth; hits outside the last
radial edge leak; cells below a readout threshold are zero (sparsity).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from . import calorimeter_toy

MEV_PER_GEV = 1000.0


@dataclass(frozen=True)
class Layer:
    """One calorimeter layer: radial bin edges (mm) and angular bins."""

    id: int
    r_edges: tuple[float, ...]
    n_alpha: int

    @property
    def n_r(self) -> int:
        return len(self.r_edges) - 1

    @property
    def n_voxels(self) -> int:
        return self.n_r * self.n_alpha

    @property
    def shape(self) -> tuple[int, int]:
        """(n_alpha, n_r): the image shape of this layer's voxels."""
        return self.n_alpha, self.n_r

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Cartesian centres (x, y) of the voxels in file order, each (n_voxels,)."""
        r = np.asarray(self.r_edges, dtype=float)
        r_mid = 0.5 * (r[1:] + r[:-1])
        a_edges = np.linspace(-np.pi, np.pi, self.n_alpha + 1)
        a_mid = 0.5 * (a_edges[1:] + a_edges[:-1]) if self.n_alpha > 1 else np.zeros(1)
        aa, rr = np.meshgrid(a_mid, r_mid, indexing="ij")
        return (rr * np.cos(aa)).reshape(-1), (rr * np.sin(aa)).reshape(-1)


@dataclass(frozen=True)
class Geometry:
    """The voxel geometry of one particle type, as in a CaloChallenge binning XML."""

    layers: tuple[Layer, ...]
    particle: str = "electron"
    pid: int = 11
    attrs: dict = field(default_factory=dict, compare=False)

    @property
    def n_voxels(self) -> int:
        return sum(layer.n_voxels for layer in self.layers)

    @property
    def active(self) -> list[int]:
        """Positions (in ``layers``) of the layers that have voxels."""
        return [i for i, layer in enumerate(self.layers) if layer.n_voxels > 0]

    def offsets(self) -> np.ndarray:
        """First voxel index of each layer, plus the total at the end."""
        return np.concatenate([[0], np.cumsum([layer.n_voxels for layer in self.layers])])

    def layer_voxels(self, showers: np.ndarray, i: int) -> np.ndarray:
        """Voxels (N, n_voxels of layer i) of layer position ``i``."""
        o = self.offsets()
        return np.asarray(showers)[:, o[i]:o[i + 1]]

    def layer_energies(self, showers: np.ndarray) -> np.ndarray:
        """Energy (N, n_active) of each layer that has voxels."""
        return np.stack([self.layer_voxels(showers, i).sum(1) for i in self.active], axis=1)


def uniform_geometry(n_layers: int, r_edges: Iterable[float], n_alpha: int, particle: str = "electron",
                     pid: int = 11) -> Geometry:
    """``n_layers`` identical layers (the dataset-2/3 style)."""
    edges = tuple(float(r) for r in r_edges)
    _check_layer(None, 0, edges, n_alpha)
    return Geometry(tuple(Layer(i, edges, int(n_alpha)) for i in range(n_layers)), particle, pid)


#: The official CaloChallenge dataset 2 (electrons, Zenodo 6366270; ``code/binning_dataset_2.xml`` of
#: CaloChallenge/homepage): 45 identical layers of 9 radial bins of 4.65 mm (to 41.85 mm) and 16 angular bins,
#: 6480 voxels. Dataset 3 has the same layers and extent with 18 radial x 50 angular bins (40500 voxels).
DATASET2 = {"n_layers": 45, "r_edges": tuple(round(4.65 * i, 4) for i in range(10)), "n_alpha": 16}


def dataset2_geometry() -> Geometry:
    """Dataset 2's geometry (:data:`DATASET2`), without its XML at hand."""
    return uniform_geometry(**DATASET2)


def coarsening_of(coarse: Geometry, fine: Geometry) -> list[str]:
    """Why ``coarse`` is not ``fine`` with its bins merged (empty: it is): equal groups of consecutive
    layers, radial edges a subset of the fine edges with the same outer edge, angular bins merged in equal
    groups. Every coarse voxel is then a union of fine voxels (the same calorimeter, read out coarser)."""
    why = []
    c, f = [coarse.layers[i] for i in coarse.active], [fine.layers[i] for i in fine.active]
    if not c or len(f) % len(c):
        why.append(f"{len(c)} layers do not group the {len(f)} layers evenly")
        return why
    group = len(f) // len(c)
    for k, layer in enumerate(c):
        for fl in f[k * group:(k + 1) * group]:
            fine_edges = {round(r, 6) for r in fl.r_edges}
            if not {round(r, 6) for r in layer.r_edges} <= fine_edges:
                why.append(f"layer {layer.id}: radial edges {list(layer.r_edges)} are not among {list(fl.r_edges)}")
            if round(layer.r_edges[-1], 6) != round(fl.r_edges[-1], 6):
                why.append(f"layer {layer.id}: outer edge {layer.r_edges[-1]} is not {fl.r_edges[-1]}")
            if fl.n_alpha % layer.n_alpha:
                why.append(f"layer {layer.id}: {layer.n_alpha} angular bins do not merge {fl.n_alpha} evenly")
    return sorted(set(why))


def _check_layer(source: str | Path | None, lid: int, edges: tuple[float, ...], n_alpha: int) -> None:
    where = f"Layer {lid}"
    if len(edges) < 1 or edges[0] != 0:
        raise InputError(source, f"{where} r_edges", f"must start at 0, got {list(edges)}")
    if np.any(np.diff(edges) <= 0):
        raise InputError(source, f"{where} r_edges", f"must increase strictly, got {list(edges)}")
    if not all(np.isfinite(edges)):
        raise InputError(source, f"{where} r_edges", "holds NaN or inf")
    if n_alpha < 1:
        raise InputError(source, f"{where} n_bin_alpha", f"must be >= 1, got {n_alpha}")


def read_geometry(path: str | Path, particle: str | None = None) -> Geometry:
    """Parse a CaloChallenge binning XML (the first ``Bin``, or the one named
    ``particle``)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, None, "geometry file does not exist")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InputError(path, None, f"not valid XML ({exc})") from None
    bins = root.findall("Bin") if root.tag == "Bins" else []
    if not bins:
        raise InputError(path, "Bin", "no <Bins><Bin> element")
    if particle is not None:
        bins = [b for b in bins if b.get("name") == particle]
        if not bins:
            raise InputError(path, "Bin name", f"no Bin named '{particle}'")
    b = bins[0]
    layers = []
    for el in b.findall("Layer"):
        lid = el.get("id")
        for key in ("id", "r_edges", "n_bin_alpha"):
            if el.get(key) is None:
                raise InputError(path, f"Layer {lid} {key}", "attribute missing")
        try:
            lid = int(lid)
            edges = tuple(float(v) for v in el.get("r_edges").split(","))
            n_alpha = int(el.get("n_bin_alpha"))
        except ValueError as exc:
            raise InputError(path, f"Layer {lid}", f"bad number ({exc})") from None
        _check_layer(path, lid, edges, n_alpha)
        layers.append(Layer(lid, edges, n_alpha))
    if not layers:
        raise InputError(path, "Layer", "the Bin has no layers")
    ids = [layer.id for layer in layers]
    if ids != sorted(set(ids)):
        raise InputError(path, "Layer id", f"layer ids must increase, got {ids}")
    attrs = {k: v for k, v in b.attrib.items() if k not in ("pid", "name")}
    try:
        pid = int(b.get("pid", 0))
    except ValueError:
        raise InputError(path, "Bin pid", f"not an integer: {b.get('pid')!r}") from None
    return Geometry(tuple(layers), b.get("name", ""), pid, attrs)


def _fmt(x: float) -> str:
    return f"{x:g}"


def write_geometry(path: str | Path, geometry: Geometry) -> None:
    """Write ``geometry`` in the binning-XML schema, atomically."""
    from ..io import atomic_path

    root = ET.Element("Bins")
    b = ET.SubElement(root, "Bin", {"pid": str(geometry.pid), **{k: str(v) for k, v in geometry.attrs.items()},
                                    "name": geometry.particle})
    for layer in geometry.layers:
        ET.SubElement(b, "Layer", {"id": str(layer.id), "r_edges": ",".join(_fmt(r) for r in layer.r_edges),
                                   "n_bin_alpha": str(layer.n_alpha)})
    ET.indent(root, space="   ")
    with atomic_path(path) as tmp:
        ET.ElementTree(root).write(tmp, encoding="unicode", xml_declaration=False)


def generate(energies_gev: np.ndarray, geometry: Geometry, depth: float = 20.0, profile_spread: float = 0.15,
             hits_per_gev: float = 20.0, r_core: float = 3.0, r_halo: float = 12.0, core_fraction: float = 0.75,
             widening: float = 0.06, axis_spread: float = 2.0, tilt_spread: float = 0.15,
             threshold_mev: float = 2.0, seed: int = 0) -> np.ndarray:
    """Toy showers (N, geometry.n_voxels) in MeV for incident energies (N,) in GeV.

    The active layers split ``depth`` X0 evenly (profile of
    :func:`calorimeter_toy.layer_fractions`). Lateral: each hit lies at radius
    ~ Gamma(2, R) around the shower axis (a 2-d exponential), R = ``r_core``
    (fraction ``core_fraction``) or ``r_halo`` (mm), both growing by a factor
    (1 + ``widening`` * t/X0) with depth t; the axis is displaced by
    N(0, ``axis_spread``) mm and tilted by N(0, ``tilt_spread``) mm/X0.
    Hit energies are exponential with mean 1/``hits_per_gev`` GeV; cells with
    less than ``threshold_mev`` read zero.
    """
    e = np.asarray(energies_gev, dtype=float).reshape(-1)
    if not np.all(np.isfinite(e)) or np.any(e <= 0):
        raise InputError(None, "energies", "incident energies must be finite and positive")
    active = geometry.active
    if len(active) < 2:
        raise InputError(None, "layers", f"need at least 2 layers with voxels, got {len(active)}")
    for name, v in dict(depth=depth, hits_per_gev=hits_per_gev, r_core=r_core, r_halo=r_halo).items():
        if not v > 0:
            raise InputError(None, name, f"must be positive, got {v}")
    if not 0 <= core_fraction <= 1:
        raise InputError(None, "core_fraction", f"must be in [0, 1], got {core_fraction}")
    rng = np.random.default_rng(seed)
    n = len(e)
    frac = calorimeter_toy.layer_fractions(e, len(active), depth, profile_spread, rng)
    axis = rng.normal(0.0, axis_spread, (n, 2))
    tilt = rng.normal(0.0, tilt_spread, (n, 2))
    t_mid = (np.arange(len(active)) + 0.5) * depth / len(active)
    out = np.zeros((n, geometry.n_voxels))
    offsets = geometry.offsets()
    for k, li in enumerate(active):
        layer = geometry.layers[li]
        counts = rng.poisson(np.clip(frac[:, k], 0, None) * e * hits_per_gev)
        ev = np.repeat(np.arange(n), counts)
        m = len(ev)
        energy = rng.exponential(MEV_PER_GEV / hits_per_gev, m)
        scale = 1.0 + widening * t_mid[k]
        radius = np.where(rng.random(m) < core_fraction, r_core, r_halo) * scale
        r = rng.gamma(2.0, radius)
        phi = rng.uniform(-np.pi, np.pi, m)
        cx = axis[ev, 0] + tilt[ev, 0] * t_mid[k] + r * np.cos(phi)
        cy = axis[ev, 1] + tilt[ev, 1] * t_mid[k] + r * np.sin(phi)
        rad = np.hypot(cx, cy)
        rbin = np.searchsorted(np.asarray(layer.r_edges), rad, side="right") - 1
        inside = rbin < layer.n_r
        abin = np.clip(((np.arctan2(cy, cx) + np.pi) / (2 * np.pi) * layer.n_alpha).astype(int), 0, layer.n_alpha - 1)
        flat = ev[inside] * layer.n_voxels + abin[inside] * layer.n_r + rbin[inside]
        cells = np.bincount(flat, weights=energy[inside], minlength=n * layer.n_voxels)
        out[:, offsets[li]:offsets[li + 1]] = cells.reshape(n, layer.n_voxels)
    out[out < threshold_mev] = 0.0
    return out


def write_showers(path: str | Path, incident_mev: np.ndarray, showers_mev: np.ndarray,
                  attrs: dict | None = None) -> None:
    """The CaloChallenge HDF5 layout (MeV), atomically."""
    calorimeter_toy.write_showers(path, incident_mev, showers_mev, attrs)


def read_showers(path: str | Path, geometry: Geometry | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(incident energies (N,), showers (N, n_voxels)) in MeV from a toy or a
    real CaloChallenge file; checks the voxel count against ``geometry``,
    finite values, positive incident and non-negative voxel energies."""
    inc, sh = calorimeter_toy.read_showers(path)
    if sh.ndim != 2:
        raise InputError(path, "showers", f"expected a 2-d (N, n_voxels) array, got shape {sh.shape}")
    if len(inc) == 0:
        raise InputError(path, "incident_energies", "no showers in the file")
    if geometry is not None and sh.shape[1] != geometry.n_voxels:
        raise InputError(path, "showers", f"{sh.shape[1]} voxels per shower, the geometry has {geometry.n_voxels}")
    if np.any(inc <= 0):
        raise InputError(path, "incident_energies", f"{int((inc <= 0).sum())} non-positive value(s)")
    if np.any(sh < 0):
        raise InputError(path, "showers", f"{int((sh < 0).any(axis=1).sum())} shower(s) with negative voxel energy")
    return inc, sh


def high_level(showers: np.ndarray, geometry: Geometry) -> dict[str, np.ndarray]:
    """The challenge's high-level features per active layer, each (N, n_active):
    ``energy`` (MeV), centres of energy ``ec_x``, ``ec_y`` and widths
    ``width_x``, ``width_y`` (mm; 0 for an empty layer), ``sparsity`` (fraction
    of cells without energy)."""
    feats = {k: [] for k in ("energy", "ec_x", "ec_y", "width_x", "width_y", "sparsity")}
    for i in geometry.active:
        v = geometry.layer_voxels(showers, i)
        x, y = geometry.layers[i].centres()
        s = v.sum(1)
        safe = np.where(s > 0, s, 1.0)
        feats["energy"].append(s)
        for name, c in (("x", x), ("y", y)):
            m1 = v @ c / safe
            m2 = v @ c**2 / safe
            feats[f"ec_{name}"].append(m1)
            feats[f"width_{name}"].append(np.sqrt(np.clip(m2 - m1**2, 0, None)))
        feats["sparsity"].append((v <= 0).mean(1))
    return {k: np.stack(v, axis=1) for k, v in feats.items()}


def write_toy(train_path: str | Path, test_path: str | Path, geometry_path: str | Path, *, n_train: int, n_test: int,
              n_layers: int, r_edges: Iterable[float],
              n_alpha: int, e_min: float, e_max: float, seed: int = 0, binning: str | Path | None = None,
              **shower_kw) -> Geometry:
    """A toy dataset as the challenge ships one: training and evaluation files
    (incident energies log-uniform in [``e_min``, ``e_max``] GeV, written in
    MeV) and the binning XML; ``shower_kw`` go to :func:`generate`. With
    ``binning`` (a CaloChallenge binning XML, e.g. dataset 2's) the showers
    use that geometry and ``n_layers``, ``r_edges``, ``n_alpha`` are not used."""
    if not 0 < e_min < e_max:
        raise InputError(None, "e_min", f"need 0 < e_min < e_max, got {e_min}, {e_max}")
    geometry = read_geometry(binning) if binning else uniform_geometry(n_layers, r_edges, n_alpha)
    for k, (path, n) in enumerate(((train_path, n_train), (test_path, n_test))):
        e = calorimeter_toy.sample_prior(n, "log_uniform", e_min, e_max, seed=seed + 2 * k)
        showers = generate(e, geometry, seed=seed + 2 * k + 1, **shower_kw)
        attrs = {"generator": "colliderflow.data.calochallenge toy", "seed": seed, "units": "MeV",
                 "split": "train" if k == 0 else "test"}
        write_showers(path, e * MEV_PER_GEV, showers, attrs)
    write_geometry(geometry_path, geometry)
    return geometry
