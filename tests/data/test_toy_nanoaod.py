"""Multi-process toy NanoAOD with generator truth, and the per-event table
reader on the toy and on every real NanoAOD/ROOT excerpt in ../shared/data."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import vector
from scipy import stats

from colliderflow.data import nanoaod
from colliderflow.data.toy_nanoaod import (
    INDISTINGUISHABLE,
    PROCESSES,
    TOP_MASS,
    W_MASS,
    generate_process,
    write_process,
)
from colliderflow.errors import InputError

N_OBJ = {"Jet": 6, "Muon": 2, "Electron": 2}


@pytest.fixture(scope="module")
def toy_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("nanoaod")
    n = {"ttbar": 8000, "wjets": 6000}
    out = {}
    for p in PROCESSES:
        out[p] = d / f"{p}.root"
        write_process(out[p], p, n.get(p, 1500), seed=3)
    return out


def _p4(c):
    vector.register_awkward()
    return ak.zip({"pt": c.pt, "eta": c.eta, "phi": c.phi, "mass": c.mass}, with_name="Momentum4D")


def test_roundtrip_all_processes(toy_files):
    for p, path in toy_files.items():
        gen = generate_process(p, 1500 if p not in ("ttbar", "wjets") else {"ttbar": 8000, "wjets": 6000}[p], 3)
        ev = nanoaod.read_nanoaod(path, {"Jet": ["pt", "genPartIdx"], "GenPart": ["pdgId", "genPartIdxMother"],
                                         "MET": ["pt", "phi"]})
        assert ak.all(ak.num(ev["Jet"]) == ak.num(gen["Jet"]))
        assert np.allclose(ak.to_numpy(ak.flatten(ev["Jet"].pt)), ak.to_numpy(ak.flatten(gen["Jet"].pt)))
        # every truth index points inside the event's GenPart list, mothers precede daughters
        ngen = ak.num(ev["GenPart"])
        assert ak.all(ev["Jet"].genPartIdx < ngen) and ak.all(ev["Jet"].genPartIdx >= 0)
        mom = ev["GenPart"].genPartIdxMother
        assert ak.all(mom < ak.local_index(mom))
        import uproot

        ids = uproot.open(path)["Events"].arrays(["run", "luminosityBlock", "event"], library="np")
        assert np.all(np.diff(ids["event"].astype(np.int64)) == 1)
        table, present = nanoaod.event_table(path, N_OBJ, truth=True)
        assert present == ["Jet", "Muon", "Electron", "MET"] and len(table) == len(gen["Jet"])


def test_deterministic_in_seed():
    a, b, c = (generate_process("zprime_tt", 300, s) for s in (5, 5, 6))
    assert ak.all(a["Jet"].pt == b["Jet"].pt)
    assert not np.allclose(ak.to_numpy(a["MET"].pt), ak.to_numpy(c["MET"].pt))
    with pytest.raises(KeyError):
        generate_process("nope", 10)


def test_same_events_same_bytes(tmp_path, monkeypatch):
    """Two writes of the same events, at different times and through
    different temporary names, give the same ROOT bytes (no uuid1, no clock,
    no temporary file name inside); the stamped time is ROOT's epoch, or
    SOURCE_DATE_EPOCH; the file still reads back."""
    import time

    import uproot

    paths = [tmp_path / d / "zprime_tt.root" for d in ("a", "b")]
    for path in paths:
        write_process(path, "zprime_tt", 200, seed=5)
        time.sleep(1.1)  # ROOT stamps seconds
    raw = paths[0].read_bytes()
    assert raw == paths[1].read_bytes()
    assert b"zprime_tt.root" in raw[:300] and b".zprime_tt." not in raw
    with uproot.open(paths[0]) as f:
        assert f["Events"].num_entries == 200
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    write_process(tmp_path / "c" / "zprime_tt.root", "zprime_tt", 200, seed=5)
    assert (tmp_path / "c" / "zprime_tt.root").read_bytes() != raw  # the epoch is what was pinned


def test_hadronic_top_and_w_mass(toy_files):
    """Truth-matched hadronic-top jets: m_bjj peaks at m_t and m_jj at m_W,
    within half the resolution (a jet-mass bias of a few GeV is expected)."""
    ev, _ = nanoaod.read_events(toy_files["ttbar"], truth=True)
    gen = nanoaod.read_nanoaod(toy_files["ttbar"], {"GenPart": ["pdgId"]})["GenPart"]
    leps = ak.concatenate([ev["Muon"], ev["Electron"]], axis=1)
    one = (ak.num(leps) == 1)
    lep_top = ak.fill_none(ak.firsts(leps.ancestor), -2)
    jets = ev["Jet"]
    had = jets[(jets.ancestor >= 0) & (jets.ancestor != lep_top)]
    sel = one & (ak.num(had) == 3)
    had = had[sel]
    assert ak.sum(sel) > 1000
    m_top = ak.to_numpy((_p4(had)[:, 0] + _p4(had)[:, 1] + _p4(had)[:, 2]).mass)
    width = np.subtract(*np.percentile(m_top, [84, 16])) / 2
    assert 8 < width < 30
    assert abs(np.median(m_top) - TOP_MASS) < 0.5 * width
    pdg = np.abs(gen.pdgId[sel][had.genPartIdx])
    wj = had[pdg != 5]
    wj = wj[ak.num(wj) == 2]
    m_w = ak.to_numpy((_p4(wj)[:, 0] + _p4(wj)[:, 1]).mass)
    w_width = np.subtract(*np.percentile(m_w, [84, 16])) / 2
    assert abs(np.median(m_w) - W_MASS) < 0.5 * w_width
    # the other objects with a parent share the leptonic top: b + lepton
    lep_side = jets[sel][(jets[sel].ancestor == lep_top[sel])]
    assert ak.mean(ak.num(lep_side)) > 0.6


def test_w_transverse_mass_edge(toy_files):
    ev, _ = nanoaod.read_events(toy_files["wjets"])
    leps = ak.concatenate([ev["Muon"], ev["Electron"]], axis=1)
    one = ak.num(leps) == 1
    lep = ak.firsts(leps[one])
    met = ev["MET"][one]
    mt = ak.to_numpy(np.sqrt(2 * lep.pt * met.pt * (1 - np.cos(lep.phi - met.phi))))
    counts, edges = np.histogram(mt, bins=np.arange(0, 150, 5))
    peak = edges[np.argmax(counts)] + 2.5
    assert 60 < peak < 85  # Jacobian edge just below m_W
    assert (mt > 100).mean() < 0.08
    assert (mt > 40).mean() > 0.6


def test_indistinguishable_pair_is_identical_and_distinct_models_differ(toy_files):
    a, b = INDISTINGUISHABLE[0]
    ta, _ = nanoaod.event_table(toy_files[a], N_OBJ)
    tb, _ = nanoaod.event_table(toy_files[b], N_OBJ)
    th, _ = nanoaod.event_table(toy_files["x4j_heavy"], N_OBJ)
    for col in ("Jet0_pt", "Jet3_pt", "MET_pt"):
        assert stats.ks_2samp(ta[col], tb[col]).pvalue > 1e-3
    assert stats.ks_2samp(ta["Jet0_pt"], th["Jet0_pt"]).pvalue < 1e-6
    ga = nanoaod.read_nanoaod(toy_files[a], {"GenPart": ["pdgId"]})["GenPart"].pdgId[:, 0]
    gb = nanoaod.read_nanoaod(toy_files[b], {"GenPart": ["pdgId"]})["GenPart"].pdgId[:, 0]
    assert ak.all(ga == 35) and ak.all(gb == 36)


def test_truth_ancestor_small():
    gen = ak.Array([{"pdgId": [6, 24, 5, 1, -2], "genPartIdxMother": [-1, 0, 0, 1, 1]}, {"pdgId": [21],
                                                                                          "genPartIdxMother": [-1]}])
    idx = ak.Array([[3, 2, -1, 4], [0]])
    assert nanoaod.truth_ancestor(gen, idx).tolist() == [[0, 0, -1, 0], [-1]]


def test_event_table_bad_input(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        nanoaod.event_table(tmp_path / "missing.root", N_OBJ)
    bad = tmp_path / "bad.root"
    bad.write_bytes(b"not a root file")
    with pytest.raises(InputError, match="bad.root"):
        nanoaod.event_table(bad, N_OBJ)


REAL = [("cms_opendata", "Run2012BC_DoubleMuParked_Muons_first100k.root", ["Muon"]),
        ("cms_opendata", "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root", ["Muon"]),
        ("cms_opendata", "nanoAOD_2015_CMS_Open_Data_ttbar.root", ["Jet", "Muon", "Electron", "MET"]),
        ("cms_opendata", "cmsopendata2015_ttbar_19980_NANOAOD_RNTupleImporter_rntuple_v1-0-0-1.root",
         ["Jet", "Muon", "Electron", "MET"]),
        ("cms_opendata", "uproot-HZZ.root", ["Jet", "Muon", "Electron", "MET"]),
        ("cms_opendata", "uproot-Zmumu.root", ["Muon"]),
        ("cms_nanoaod_samples_coffea", "nano_dy.root", ["Jet", "Muon", "Electron", "MET"]),
        ("cms_nanoaod_samples_coffea", "nano_dimuon.root", ["Jet", "Muon", "Electron", "MET"]),
        ("cms_nanoaod_samples_coffea", "nano_tt_v12.root", ["Jet", "Muon", "Electron", "MET"]),
        ("cms_nanoaod_samples_coffea", "nano_tt_v15.root", ["Jet", "Muon", "Electron", "MET"]),
        ("cms_nanoaod_samples_coffea", "pfnano.root", ["Jet", "Muon", "Electron", "MET"])]


@pytest.mark.parametrize("folder,name,expected", REAL, ids=[r[1] for r in REAL])
def test_real_files_into_flat_table(shared_data, toy_files, folder, name, expected):
    path = shared_data / folder / name
    table, present = nanoaod.event_table(path, N_OBJ, entry_stop=2000, truth=True)
    toy, _ = nanoaod.event_table(toy_files["ttbar"], N_OBJ, entry_stop=10, truth=True)
    assert list(table.columns) == list(toy.columns)  # one schema for real and toy
    assert present == expected and len(table) > 0
    if "Muon" in present:
        assert (table["Muon0_pt"][table["Muon0_mask"] > 0] > 0).all()
    if "Jet" in present:
        assert table["Jet0_mask"].mean() > 0.3 and table["Jet0_pt"].max() > 20
    if name.startswith("nano_tt"):  # real generator truth: muons from W bosons of tops
        assert (table["Muon0_ancestor"][table["Muon0_mask"] > 0] >= 0).mean() > 0.3
