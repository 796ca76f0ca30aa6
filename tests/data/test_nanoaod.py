"""NanoAOD: the toy writes the real format; one reader reads toy and every real excerpt."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from colliderflow.data import nanoaod, toy_nanoaod
from colliderflow.errors import InputError
from colliderflow.studies.dimuon import analysis as dimuon


@pytest.fixture(scope="module")
def toy_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("nano") / "dimuon.root"
    toy_nanoaod.write_dimuon(path, 60000, seed=11)
    return path


def test_toy_branches_follow_nanoaod(toy_file):
    tree = uproot.open(toy_file)["Events"]
    for b in ["nMuon", "Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass", "Muon_charge", "run", "luminosityBlock",
              "event"]:
        assert b in tree.keys()
    n = tree["nMuon"].array()
    assert ak.all(ak.num(tree["Muon_pt"].array()) == n)


def test_toy_reads_with_coffea_nanoevents(toy_file):
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    events = NanoEventsFactory.from_root({str(toy_file): "Events"}, schemaclass=NanoAODSchema, mode="eager").events()
    mine = nanoaod.read_nanoaod(toy_file)["Muon"]
    assert ak.all(ak.num(events.Muon) == ak.num(mine))
    assert np.allclose(ak.to_numpy(ak.flatten(events.Muon.pt)), ak.to_numpy(ak.flatten(mine.pt)))


def test_toy_is_deterministic(tmp_path):
    a = toy_nanoaod.generate_dimuon(2000, seed=5)["Muon"]
    b = toy_nanoaod.generate_dimuon(2000, seed=5)["Muon"]
    assert ak.all(ak.flatten(a.pt) == ak.flatten(b.pt))


def test_toy_resonances(toy_file):
    m = nanoaod.dimuon_mass(nanoaod.read_nanoaod(toy_file)["Muon"])
    fits = dimuon.analyse(m)
    z = fits["z"]
    assert abs(z["mass"] - dimuon.Z_MASS_PDG) < 3 * z["mass_err"] + 0.05
    assert abs(fits["jpsi"]["mass"] - dimuon.JPSI_MASS_PDG) < 0.01
    assert abs(fits["upsilon1s"]["mass"] - dimuon.UPSILON_MASS_PDG) < 0.03
    # the drawn models are the fitted ones: over its window each integrates to its yields,
    # and it follows the events in that window
    for key in ("z", "jpsi", "upsilon1s"):
        f = fits[key]
        x, density = dimuon.model_density(f)
        lo, hi = f["window"]
        total = f["n_signal"] + (f["n_background"] if key == "z" else f["params"][1])
        assert np.sum(density) * (hi - lo) / len(x) == pytest.approx(total, rel=1e-3)
        assert total == pytest.approx(np.sum((m > lo) & (m < hi)), rel=0.02)


def test_real_doublemu_z_peak(shared_data):
    """The Z peak in the real CMS 2012 DoubleMu excerpt within 1 GeV of 91.19."""
    f = shared_data / "cms_opendata" / "Run2012BC_DoubleMuParked_Muons_first100k.root"
    m = nanoaod.dimuon_mass(nanoaod.read_nanoaod(f)["Muon"])
    assert len(m) > 50000
    z = dimuon.fit_z(m)
    assert abs(z["mass"] - 91.19) < 1.0
    assert abs(dimuon.fit_peak(m, dimuon.JPSI_MASS_PDG, 0.3)["mass"] - 3.097) < 0.02


def test_real_rntuple_matches_ttree(shared_data):
    d = shared_data / "cms_opendata"
    rn = nanoaod.read_nanoaod(d / "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root")["Muon"]
    tt = nanoaod.read_nanoaod(d / "Run2012BC_DoubleMuParked_Muons_first100k.root", entry_stop=1000)["Muon"]
    assert ak.all(ak.num(rn) == ak.num(tt))
    assert np.allclose(ak.to_numpy(ak.flatten(rn.pt)), ak.to_numpy(ak.flatten(tt.pt)))


@pytest.mark.parametrize("name", [
    "cms_opendata/Run2012BC_DoubleMuParked_Muons_first100k.root",
    "cms_opendata/Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root",
    "cms_opendata/nanoAOD_2015_CMS_Open_Data_ttbar.root",
    "cms_opendata/cmsopendata2015_ttbar_19980_NANOAOD_RNTupleImporter_rntuple_v1-0-0-1.root",
    "cms_opendata/uproot-HZZ.root",
    "cms_opendata/uproot-Zmumu.root",
    "cms_nanoaod_samples_coffea/nano_dimuon.root",
    "cms_nanoaod_samples_coffea/nano_dy.root",
    "cms_nanoaod_samples_coffea/nano_tt_v12.root",
    "cms_nanoaod_samples_coffea/nano_tt_v15.root",
    "cms_nanoaod_samples_coffea/pfnano.root",
])
def test_reader_reads_every_real_file(shared_data, name):
    ev = nanoaod.read_nanoaod(shared_data / name)
    mu = ev["Muon"]
    assert len(mu) > 0
    assert set(mu.fields) == {"pt", "eta", "phi", "mass", "charge"}
    pts = ak.to_numpy(ak.flatten(mu.pt))
    assert np.isfinite(pts).all() and (pts >= 0).all()
    if "uproot-" not in name and "DoubleMu" not in name:
        full = nanoaod.read_nanoaod(shared_data / name,
                                    {c: nanoaod.DEFAULT_FIELDS[c] for c in ("Muon", "Electron", "Jet", "MET")})
        table = nanoaod.flat_table(full, {"Jet": 4, "Muon": 2, "Electron": 2})
        assert len(table) == len(mu)
        assert {"Jet0_pt", "Jet3_mask", "Muon1_charge", "MET_pt"} <= set(table.columns)
        njet = ak.to_numpy(ak.num(full["Jet"]))
        assert (table["Jet0_mask"].to_numpy() == (njet > 0)).all()
        assert np.isfinite(table.to_numpy()).all()


def test_zmumu_tutorial_layout(shared_data):
    m = nanoaod.dimuon_mass(nanoaod.read_nanoaod(shared_data / "cms_opendata" / "uproot-Zmumu.root")["Muon"])
    assert abs(np.median(m[(m > 70) & (m < 110)]) - 91) < 1.5


def test_missing_branch_names_it(tmp_path):
    path = tmp_path / "nocharge.root"
    ev = toy_nanoaod.generate_dimuon(500, seed=1)
    mu = ev["Muon"]
    nanoaod.write_nanoaod(path, {"Muon": ak.zip({f: mu[f] for f in ("pt", "eta", "phi", "mass")})})
    with pytest.raises(InputError, match=r"nocharge\.root.*Muon_charge.*missing"):
        nanoaod.read_nanoaod(path)


def test_truncated_file(tmp_path, toy_file):
    bad = tmp_path / "truncated.root"
    data = toy_file.read_bytes()
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match=r"truncated\.root"):
        nanoaod.read_nanoaod(bad)


def test_not_root_and_absent(tmp_path):
    junk = tmp_path / "junk.root"
    junk.write_text("hello")
    with pytest.raises(InputError, match="cannot be opened as ROOT"):
        nanoaod.read_nanoaod(junk)
    with pytest.raises(InputError, match="does not exist"):
        nanoaod.read_nanoaod(tmp_path / "absent.root")


def test_writer_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "out.root"

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(uproot, "recreate", boom)
    with pytest.raises(RuntimeError):
        nanoaod.write_nanoaod(path, toy_nanoaod.generate_dimuon(100, seed=1))
    assert list(tmp_path.iterdir()) == []
