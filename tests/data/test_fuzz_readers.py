"""Property-based fuzzing of the readers (issue 21): truncated, corrupted
(random bytes at random offsets) and NaN-filled toy and real files give a
clean InputError or a correct read, never another exception or a hang."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from colliderflow.data import calorimeter_toy, jet_constituents, lhco, nanoaod, part_jets
from colliderflow.errors import InputError
from colliderflow.io import read_table, write_table

from ..conftest import SHARED_DATA

FUZZ = settings(max_examples=12, deadline=10000, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _toy_lhco(path: Path) -> None:
    lhco.write_toy_features(path, lhco.generate_toy_features(200, 20, seed=1))


def _toy_showers(path: Path) -> None:
    rng = np.random.default_rng(0)
    calorimeter_toy.write_showers(path, rng.uniform(1e3, 1e4, (30, 1)), rng.uniform(0, 50, (30, 24)))


def _toy_jets(path: Path) -> None:
    jet_constituents.write_jets(path, jet_constituents.generate_toy(20, 8, seed=1), "toy")


def _toy_nanoaod(path: Path) -> None:
    from colliderflow.data.toy_nanoaod import write_dimuon

    write_dimuon(path, 200, seed=1)


def _toy_table(path: Path) -> None:
    import pandas as pd

    write_table(path, pd.DataFrame({"x": np.arange(50.0), "y": np.ones(50)}), attrs={"u": "GeV"})


READERS = {
    "lhco": (_toy_lhco, "f.h5", lhco.read_features),
    "showers": (_toy_showers, "s.h5", calorimeter_toy.read_showers),
    "jets": (_toy_jets, "j.h5", jet_constituents.read_jets),
    "nanoaod": (_toy_nanoaod, "n.root", lambda p: nanoaod.dimuon_mass(nanoaod.read_nanoaod(p)["Muon"])),
    "table": (_toy_table, "t.h5", read_table),
}
REAL = {
    "reclustered": ("lhco2020_rnd_reclustered_100k/scalars_sig01.h5", lambda p: lhco.read_reclustered([p])),
    "cathode": ("lhco2020_rnd_cathode_preprocessed/separated_data/innerdata_extrasig_val.npy",
                lambda p: lhco.read_cathode_npy([p])),
    "nanoaod_real": ("cms_nanoaod_samples_coffea/nano_dimuon.root", lambda p: nanoaod.read_nanoaod(p)),
    "calo_reference": ("calochallenge_reference/CaloChallenge_results_ds2.hdf",
                       lambda p: __import__("colliderflow.studies.l2lflows.core", fromlist=["x"])
                       .reference_tables([p])),
}


def _check(read, path: Path, good: object) -> None:
    """A clean InputError, or a read; a read of a damaged file must still be finite."""
    try:
        out = read(path)
    except InputError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    values = out[0] if isinstance(out, tuple) else out
    if hasattr(values, "select_dtypes"):
        values = values.select_dtypes("number").to_numpy(dtype=float)
    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        assert np.isfinite(values).all(), "a damaged file read as non-finite numbers"


def _mutate(data: bytes, mode: str, offset: float, junk: bytes) -> bytes:
    pos = int(offset * len(data))
    if mode == "truncate":
        return data[:pos]
    return data[:pos] + junk + data[pos + len(junk):]


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    out = {}
    for name, (make, fname, _) in READERS.items():
        make(root / fname)
        out[name] = root / fname  # paths, not bytes: a failing example prints its arguments
    return out


@pytest.mark.parametrize("name", sorted(READERS))
@FUZZ
@given(mode=st.sampled_from(["truncate", "corrupt"]), offset=st.floats(0, 1),
       junk=st.binary(min_size=1, max_size=64))
def test_toy_files_damaged(tmp_path, originals, name, mode, offset, junk):
    _, fname, read = READERS[name]
    path = tmp_path / fname
    path.write_bytes(_mutate(originals[name].read_bytes(), mode, offset, junk))
    _check(read, path, None)


@pytest.mark.parametrize("name", sorted(REAL))
@FUZZ
@given(mode=st.sampled_from(["truncate", "corrupt"]), offset=st.floats(0, 1),
       junk=st.binary(min_size=1, max_size=64))
def test_real_files_damaged(tmp_path, name, mode, offset, junk):
    rel, read = REAL[name]
    src = SHARED_DATA / rel
    if not src.exists():
        pytest.skip(f"{src} not found")
    path = tmp_path / src.name
    path.write_bytes(_mutate(src.read_bytes(), mode, offset, junk))
    _check(read, path, None)


@FUZZ
@given(row=st.integers(0, 219), column=st.sampled_from(lhco.FEATURE_COLUMNS[:-1]),
       bad=st.sampled_from([np.nan, np.inf, -np.inf]))
def test_lhco_nan_filled_is_refused(tmp_path, row, column, bad):
    df = lhco.generate_toy_features(200, 20, seed=1)
    df.loc[row, column] = bad
    df.to_hdf(tmp_path / "f.h5", key="df")
    with pytest.raises(InputError, match=f"field '{column}': 1 row"):
        lhco.read_features(tmp_path / "f.h5")


@FUZZ
@given(row=st.integers(0, 999), col=st.integers(0, 5), bad=st.sampled_from([np.nan, np.inf, -np.inf]))
def test_real_cathode_nan_filled_is_refused(tmp_path, row, col, bad):
    src = SHARED_DATA / "lhco2020_rnd_cathode_preprocessed" / "separated_data" / "innerdata_val.npy"
    if not src.exists():
        pytest.skip(f"{src} not found")
    arr = np.load(src)[:1000]
    arr[row, col] = bad
    np.save(tmp_path / "x.npy", arr)
    with pytest.raises(InputError, match=f"field '{lhco.AD_COLUMNS[col]}': 1 row"):
        lhco.read_cathode_npy([tmp_path / "x.npy"])


@FUZZ
@given(jet=st.integers(0, 19), part=st.integers(0, 7), bad=st.sampled_from([np.nan, np.inf]))
def test_real_part_jets_nan_filled_is_refused(tmp_path, jet, part, bad):
    folder = SHARED_DATA / "jets_part_samples" / "toplandscape"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    for f in folder.glob("tl_*.npy"):
        np.save(tmp_path / f.name, np.load(f)[:20])
    vec = np.load(tmp_path / "tl_pf_vectors.npy")
    vec[jet, 0, part] = bad
    np.save(tmp_path / "tl_pf_vectors.npy", vec)
    with pytest.raises(InputError, match="field 'pf_vectors': 1 row"):
        part_jets.read_jets(tmp_path / "tl")
    shutil.rmtree(tmp_path, ignore_errors=True)
    tmp_path.mkdir()
