"""LHCO R&D: the toy writes the official format, one reader serves toy and real files."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from colliderflow.data import lhco
from colliderflow.errors import InputError
from colliderflow.io import read_table

from ..conftest import REPO


@pytest.fixture(scope="module")
def toy_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("lhco") / "events_anomalydetection_v2.features.h5"
    lhco.write_toy_features(path, lhco.generate_toy_features(40000, 4000, seed=7))
    return path


def test_toy_has_the_official_layout(toy_file):
    raw = pd.read_hdf(toy_file)  # how every LHCO analysis opens the official file
    assert list(raw.columns) == lhco.FEATURE_COLUMNS
    assert raw["label"].sum() == 4000 and len(raw) == 44000
    pt1 = np.hypot(raw.pxj1, raw.pyj1)
    pt2 = np.hypot(raw.pxj2, raw.pyj2)
    assert (np.maximum(pt1, pt2) > 1200).all(), "R&D trigger cut: leading jet pT > 1.2 TeV"
    assert (pt1 >= pt2).all(), "j1 is the leading-pT jet"


def test_toy_is_deterministic_in_seed():
    a = lhco.generate_toy_features(500, 50, seed=3)
    b = lhco.generate_toy_features(500, 50, seed=3)
    c = lhco.generate_toy_features(500, 50, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_toy_physics(toy_file):
    ad = lhco.read_features(toy_file)
    assert list(ad.columns) == lhco.AD_COLUMNS
    sig, bkg = ad[ad.label == 1], ad[ad.label == 0]
    # the W' resonance at 3.5 TeV with X(500 GeV) and Y(100 GeV) jets
    assert abs(np.median(sig.mjj) - 3.5) < 0.1
    assert abs(np.median(sig.mj1) - 0.1) < 0.02
    assert abs(np.median(sig.delta_mj) - 0.4) < 0.05
    # two-pronged signal jets have lower tau21 than QCD jets
    assert np.median(sig.tau21_j1) < np.median(bkg.tau21_j1) - 0.15
    # falling QCD dijet spectrum above the trigger turn-on
    counts, _ = np.histogram(bkg.mjj, bins=np.arange(3.0, 6.0, 0.5))
    assert (np.diff(counts) < 0).all()
    # mass-correlated substructure: heavier QCD jets at higher mjj
    lo, hi = bkg[bkg.mjj < 3.0], bkg[bkg.mjj > 4.0]
    assert np.median(hi.mj1) > np.median(lo.mj1)
    assert (ad.mj1 >= 0).all() and (ad.delta_mj >= 0).all()


def test_reclustered_excerpt(shared_data):
    files = sorted((shared_data / "lhco2020_rnd_reclustered_100k").glob("scalars_*.h5"))
    assert len(files) == 20
    ad = lhco.read_ad_table("reclustered", files)
    # 90,941 + 9,059 events; 12 rows with tau1 = tau2 = 0 have no tau21 (dropped, counted)
    assert 100000 - 25 < len(ad) < 100000
    assert abs(ad.label.sum() - 9059) <= 2
    raw = pd.read_hdf(files[0])
    # the stored tau21 is tau3/tau2 upstream; ours is recomputed as tau2/tau1
    assert np.allclose(raw["tau21_1"], raw["tau32_1"], equal_nan=True)
    sig = ad[ad.label == 1]
    assert abs(np.median(sig.mjj) - 3.5) < 0.1
    assert abs(np.median(sig.mj1) - 0.11) < 0.03 and abs(np.median(sig.mj1 + sig.delta_mj) - 0.5) < 0.05
    assert np.median(sig.tau21_j2) < 0.4 < np.median(ad[ad.label == 0].tau21_j2)


def test_cathode_npy_excerpt(shared_data):
    f = shared_data / "lhco2020_rnd_cathode_preprocessed" / "separated_data" / "innerdata_train.npy"
    ad = lhco.read_ad_table("cathode_npy", [f])
    assert len(ad) == 60000 and int(ad.label.sum()) == 395
    assert lhco.signal_region_mask(ad.mjj, 3.3, 3.7).all()


def test_missing_column_names_file_and_column(tmp_path):
    df = lhco.generate_toy_features(100, 10, seed=1).drop(columns=["tau2j1"])
    path = tmp_path / "bad.h5"
    df.to_hdf(path, key="df")
    with pytest.raises(InputError, match=r"bad\.h5.*tau2j1"):
        lhco.read_features(path)


def test_nan_rows_name_the_column(tmp_path):
    df = lhco.generate_toy_features(100, 10, seed=1)
    df.loc[5, "mj2"] = np.nan
    path = tmp_path / "nan.h5"
    df.to_hdf(path, key="df")
    with pytest.raises(InputError, match=r"nan\.h5.*mj2.*NaN"):
        lhco.read_features(path)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        lhco.read_features(tmp_path / "absent.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(InputError, match=r"junk\.h5.*cannot be read"):
        lhco.read_features(junk)


def test_prepare_step_fails_cleanly_and_leaves_nothing(tmp_path):
    """The lhco_prepare step, rerun by hand from a job record, on a file that lacks a column."""
    import json

    df = lhco.generate_toy_features(100, 10, seed=1).drop(columns=["mj1"])
    src = tmp_path / "bad.h5"
    df.to_hdf(src, key="df")
    out = tmp_path / "events.h5"
    section = {"source": "file", "format": "features", "key": "df", "files": [str(src)],
               "toy": {"n_background": 1, "n_signal": 1, "m_wprime": 3500.0, "m_x": 500.0, "m_y": 100.0},
               "download": {"url": "", "sha256": "", "checksum": ""}}
    job = {"step": "data.lhco_prepare", "cfg": section, "seed": 0, "tier": "test", "params": {}, "threads": 1,
           "wildcards": {}, "input": {"all": [str(src)], "named": {}},
           "output": {"all": [str(out)], "named": {}}, "log": None}
    record = tmp_path / "job.json"
    record.write_text(json.dumps(job))
    proc = subprocess.run([sys.executable, "-m", "colliderflow", "step", str(record)], capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO / "src")})
    assert proc.returncode == 2
    err = [line for line in proc.stderr.strip().splitlines() if not line[:2].isdigit()]  # drop the log lines
    assert len(err) == 1 and "bad.h5" in err[0] and "mj1" in err[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.h5", "job.json"], "no temporary file left behind"


def test_prepared_table_roundtrip(tmp_path, toy_file):
    from colliderflow.io import write_table

    ad = lhco.read_features(toy_file)
    write_table(tmp_path / "events.h5", ad, attrs={"units": "TeV"})
    back, attrs = read_table(tmp_path / "events.h5", lhco.AD_COLUMNS)
    pd.testing.assert_frame_equal(back, ad)
    assert attrs["units"] == "TeV"
    with pytest.raises(InputError, match="tau99"):
        read_table(tmp_path / "events.h5", ["mjj", "tau99"])
