"""Calorimeter showers in the CaloChallenge layout (colliderflow.data.calochallenge,
read by the l2lflows study): geometry XML, toy physics, the toy files, and bad input."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from colliderflow.data import calochallenge, calorimeter_toy
from colliderflow.errors import InputError

GEOM = calochallenge.uniform_geometry(4, [0, 4, 8, 14, 22], 6)


def _showers(energies_gev, seed=0, geometry=GEOM):
    return calochallenge.generate(np.asarray(energies_gev, dtype=float), geometry, seed=seed)


# ----------------------------------------------------------------------------- geometry


def test_geometry_xml_round_trip(tmp_path):
    mixed = calochallenge.Geometry((calochallenge.Layer(0, (0.0, 5.0, 10.0, 30.0), 1),
                                    calochallenge.Layer(1, (0.0, 2.0, 4.5, 8.0), 10),
                                    calochallenge.Layer(2, (0.0,), 1)), "photon", 22, {"etaMin": "0", "etaMax": "130"})
    for g in (GEOM, mixed):
        calochallenge.write_geometry(tmp_path / "b.xml", g)
        back = calochallenge.read_geometry(tmp_path / "b.xml")
        assert back == g and back.attrs == g.attrs
    assert mixed.n_voxels == 3 + 30 and mixed.active == [0, 1]
    assert list(mixed.offsets()) == [0, 3, 33, 33]


def test_real_binning_xmls(shared_data, tmp_path):
    ref = shared_data / "calochallenge_reference"
    # voxel counts of the CaloChallenge datasets 1 (photons, pions), 2 and 3
    expected = {"binning_dataset_1_photons.xml": (368, 5), "binning_dataset_1_pions.xml": (533, 7),
                "binning_dataset_2.xml": (6480, 45), "binning_dataset_3.xml": (40500, 45)}
    for name, (n_vox, n_active) in expected.items():
        g = calochallenge.read_geometry(ref / name)
        assert g.n_voxels == n_vox and len(g.active) == n_active, name
        calochallenge.write_geometry(tmp_path / name, g)
        assert calochallenge.read_geometry(tmp_path / name) == g


def _tier_toy(tier: str) -> dict:
    """data.calo.toy of a tier: config.yaml's, with the tier file's keys over it."""
    import yaml

    repo = Path(__file__).resolve().parents[2]
    toy = yaml.safe_load((repo / "config" / "config.yaml").read_text())["data"]["calo"]["toy"]
    if tier != "default":
        tier_cfg = yaml.safe_load((repo / "config" / "tiers" / f"{tier}.yaml").read_text())
        toy = {**toy, **tier_cfg.get("data", {}).get("calo", {}).get("toy", {})}
    return toy


def test_toy_geometry_is_calochallenge_dataset_2(shared_data, tmp_path):
    """The official dataset-2 binning (45 x 16 x 9) is the toy's geometry: its own XML in the real tier, read out
    coarser (its edges, its angular bins merged, its layers in equal groups) in the default and smoke tiers."""
    ref = shared_data / "calochallenge_reference"
    ds2 = calochallenge.read_geometry(ref / "binning_dataset_2.xml")
    assert ds2 == calochallenge.dataset2_geometry() and ds2.n_voxels == 6480
    for tier in ("default", "smoke"):
        t = _tier_toy(tier)
        g = calochallenge.uniform_geometry(t["n_layers"], t["r_edges"], t["n_alpha"])
        assert calochallenge.coarsening_of(g, ds2) == [], tier
        assert not t.get("binning"), tier
    real = _tier_toy("real")
    assert Path(real["binning"]).name == "binning_dataset_2.xml"
    g = calochallenge.write_toy(tmp_path / "tr.h5", tmp_path / "te.h5", tmp_path / "b.xml", n_train=4, n_test=4,
                                n_layers=2, r_edges=[0, 1], n_alpha=1, e_min=1.0, e_max=1000.0, seed=0,
                                binning=ref / "binning_dataset_2.xml")
    assert g == ds2 and calochallenge.read_geometry(tmp_path / "b.xml") == ds2
    inc, sh = calochallenge.read_showers(tmp_path / "tr.h5", ds2)
    assert sh.shape == (4, 6480) and sh.sum() > 0


def test_coarsening_names_what_breaks_it():
    ds2 = calochallenge.dataset2_geometry()
    ok = calochallenge.uniform_geometry(5, [0, 4.65, 9.3, 13.95, 23.25, 41.85], 8)
    assert calochallenge.coarsening_of(ok, ds2) == []
    assert "layers" in calochallenge.coarsening_of(calochallenge.uniform_geometry(4, ok.layers[0].r_edges, 8), ds2)[0]
    bad = calochallenge.coarsening_of(calochallenge.uniform_geometry(5, [0, 4, 8, 14, 22, 35], 6), ds2)
    assert any("not among" in w for w in bad) and any("outer edge" in w for w in bad)
    assert any("angular" in w for w in bad)


# ----------------------------------------------------------------------------- toy physics


def test_toy_longitudinal_maximum_moves_deeper_with_log_energy():
    depth = []
    for e in (2.0, 10.0, 80.0):
        el = GEOM.layer_energies(_showers(np.full(600, e), seed=1))
        w = el / el.sum(1, keepdims=True)
        d = (w * np.arange(el.shape[1])).sum(1)  # energy-weighted layer index
        depth.append((d.mean(), d.std() / np.sqrt(len(d))))
    for (m1, s1), (m2, s2) in zip(depth, depth[1:]):
        assert m2 - m1 > 5 * np.hypot(s1, s2)
    # roughly linear in log E (shower maximum ~ ln(E/E_c)): the two steps in ln E are 1.6 and 2.1
    step1, step2 = depth[1][0] - depth[0][0], depth[2][0] - depth[1][0]
    assert 0.3 < step2 / step1 < 3.0


def test_toy_sparsity_and_threshold():
    frac_zero = []
    for e in (1.5, 10.0, 90.0):
        sh = _showers(np.full(400, e), seed=2)
        nz = sh[sh > 0]
        assert nz.min() >= 2.0  # readout threshold
        frac_zero.append((sh == 0).mean())
    assert frac_zero[0] > 0.6 and frac_zero[0] > frac_zero[1] + 0.1 > frac_zero[2] + 0.2
    # energy response: most of the energy is contained (leakage small), resolution improves with E
    e = np.array([5.0] * 500 + [50.0] * 500)
    r = _showers(e, seed=3).sum(1) / (1000 * e)
    lo, hi = r[:500], r[500:]
    assert 0.6 < lo.mean() < 1.0 and 0.6 < hi.mean() < 1.0
    assert hi.std() < 0.6 * lo.std()


def test_toy_lateral_spread_core_and_halo():
    sh = _showers(np.full(800, 30.0), seed=4)
    g = GEOM
    per_r = np.stack([g.layer_voxels(sh, i).reshape(len(sh), 6, 4).sum(1) for i in g.active]).sum(0).mean(0)
    density = per_r / np.diff(np.square(g.layers[0].r_edges))  # energy per area
    assert np.all(np.diff(density) < 0)  # falls with radius
    w = np.hypot(*(calochallenge.high_level(sh, g)[k] for k in ("width_x", "width_y")))
    assert w[:, 2].mean() > w[:, 0].mean()  # widens with depth


def test_toy_file_round_trip(tmp_path):
    g = calochallenge.write_toy(tmp_path / "tr.h5", tmp_path / "te.h5", tmp_path / "b.xml", n_train=50, n_test=40,
                                n_layers=3, r_edges=[0, 5, 10], n_alpha=4, e_min=1.0, e_max=10.0, seed=3)
    inc, sh = calochallenge.read_showers(tmp_path / "tr.h5", calochallenge.read_geometry(tmp_path / "b.xml"))
    assert inc.shape == (50,) and sh.shape == (50, g.n_voxels) and 1e3 <= inc.min() and inc.max() <= 1e4
    with h5py.File(tmp_path / "te.h5") as f:
        assert f["incident_energies"].shape == (40, 1) and f["showers"].shape == (40, 24)


def test_calorimeter_toy_kept_backward_compatible():
    e = calorimeter_toy.sample_prior(200, "falling", 1.0, 100.0, seed=0)
    sh = calorimeter_toy.generate(e, seed=4)
    assert sh.shape == (200, 5) and np.all(sh > 0)
    rng = np.random.default_rng(4)
    frac = calorimeter_toy.layer_fractions(e, 5, 20.0, 0.15, rng)
    assert np.all(frac.sum(1) < 1) and np.all(frac >= 0)


# ----------------------------------------------------------------------------- bad input


def test_bad_input(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        calochallenge.read_showers(tmp_path / "missing.h5")
    calochallenge.write_showers(tmp_path / "s.h5", np.full(5, 1000.0), np.ones((5, 10)))
    with pytest.raises(InputError, match="geometry has 96"):
        calochallenge.read_showers(tmp_path / "s.h5", GEOM)
    calochallenge.write_showers(tmp_path / "neg.h5", np.full(5, 1000.0), -np.ones((5, 96)))
    with pytest.raises(InputError, match="negative"):
        calochallenge.read_showers(tmp_path / "neg.h5", GEOM)
    bad = np.ones((5, 96))
    bad[2, 3] = np.nan
    calochallenge.write_showers(tmp_path / "nan.h5", np.full(5, 1000.0), bad)
    with pytest.raises(InputError, match="showers"):
        calochallenge.read_showers(tmp_path / "nan.h5", GEOM)
    with h5py.File(tmp_path / "nokey.h5", "w") as f:
        f["showers"] = np.ones((3, 96))
    with pytest.raises(InputError, match="incident_energies"):
        calochallenge.read_showers(tmp_path / "nokey.h5")
    (tmp_path / "x.xml").write_text("<Bins><Bin pid='11' name='e'><Layer id='0' n_bin_alpha='4'/></Bin></Bins>")
    with pytest.raises(InputError, match="r_edges"):
        calochallenge.read_geometry(tmp_path / "x.xml")
    (tmp_path / "y.xml").write_text("<Bins><Bin pid='11' name='e'><Layer id='0' r_edges='0,5,3' n_bin_alpha='4'/>")
    with pytest.raises(InputError, match="not valid XML"):
        calochallenge.read_geometry(tmp_path / "y.xml")
    (tmp_path / "z.xml").write_text("<Bins><Bin pid='11' name='e'><Layer id='0' r_edges='0,5,3' n_bin_alpha='4'/>"
                                    "</Bin></Bins>")
    with pytest.raises(InputError, match="increase"):
        calochallenge.read_geometry(tmp_path / "z.xml")
    with pytest.raises(InputError, match="energies"):
        calochallenge.generate([1.0, -1.0], GEOM)
