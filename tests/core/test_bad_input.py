"""Hostile and careless input (issue 21): nothing from config or data reaches a
shell or an unpickler, non-finite values stop the run naming file and field,
and every input or config error is one line with no traceback and no output
left behind.

The workflow-level cases run Snakemake on one dataset rule in a temporary
working directory with a tiny config; the reader-level cases call the readers.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd
import pytest
import yaml

from colliderflow.data import calorimeter_toy, jet_constituents, lhco, nanoaod, part_jets
from colliderflow.errors import InputError
from colliderflow.io import read_table, write_table

from ..conftest import REPO, snakemake

MARKER = "pwned"  # what every injected command would create


class Payload:
    """Unpickling this runs a shell command (what a hostile data file carries)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _toy_features(path: Path, n: int = 300) -> Path:
    lhco.write_toy_features(path, lhco.generate_toy_features(n, n // 10, seed=3))
    return path


def _error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error:")]


def _error_line(text: str) -> list[str]:
    """The one distinct error line of a run (Snakemake may echo the job's line)."""
    return sorted(set(_error_lines(text)))


def _no_traceback_in_logs(wd: Path) -> None:
    for log in (wd / "logs").rglob("*.log") if (wd / "logs").is_dir() else ():
        assert "Traceback" not in log.read_text(), log
        assert "HDF5-DIAG" not in log.read_text(), log


def _files(wd: Path, under: str) -> list[str]:
    root = wd / under
    return sorted(str(p.relative_to(wd)) for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def _run(wd: Path, target: str, cfg: dict, **kw) -> subprocess.CompletedProcess:
    """Snakemake on one target with the config ``cfg`` (the tests that call it are marked ``workflow``)."""
    wd.mkdir(parents=True, exist_ok=True)
    (wd / "tiny.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return snakemake(wd, target, configfiles=[wd / "tiny.yaml"], check=False, timeout=600, **kw)


# --------------------------------------------------------------------------- config: injection strings, schema


INJECTED_URLS = ["https://host/f.root;touch pwned", "https://host/$(touch pwned)", "https://host/f.root || touch pwned"]


@pytest.mark.parametrize("url", INJECTED_URLS)
@pytest.mark.workflow
def test_injected_url_is_refused_by_the_schema(tmp_path, url):
    wd = tmp_path / "wd"
    proc = _run(wd, "resources/lhco/download/events.h5",
                {"data": {"lhco": {"source": "download", "download": {"url": url, "sha256": "a" * 64}}}})
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.startswith("config ")]
    assert lines == [f"config {wd / 'tiny.yaml'}: data.lhco.download.url: {url!r} is not valid (official download "
                     "URL (http, https or ftp; only the characters RFC 3986 allows: percent-encode spaces and "
                     "others))"], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (wd / MARKER).exists() and not (tmp_path / MARKER).exists()
    assert _files(wd, "resources") == [] and _files(wd, "logs") == [], "no job ran"


@pytest.mark.workflow
@pytest.mark.parametrize("dataset, target, sha", [
    ("lhco", "resources/lhco/download/events.h5", "abc'; touch pwned; echo '"),  # quote-breaking
    ("dimuon", "resources/dimuon/download/Run2012BC_DoubleMuParked_Muons.root", "g" * 64),  # not hex
])
def test_bad_sha256_is_refused_by_the_schema_before_the_download(tmp_path, dataset, target, sha):
    wd = tmp_path / "wd"
    proc = _run(wd, target, {"data": {dataset: {"source": "download",
                                                "download": {"url": "https://host/f", "sha256": sha}}}})
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.startswith("config ")]
    assert lines == [f"config {wd / 'tiny.yaml'}: data.{dataset}.download.sha256: {sha!r} is not valid (expected "
                     "sha256 of the file, 64 hex digits; required before the download source can be used (unless "
                     "checksum is set))"]
    assert not (wd / MARKER).exists()
    assert _files(wd, "resources") == [] and _files(wd, "logs") == []


@pytest.mark.workflow
def test_download_source_without_sha256_is_refused(tmp_path):
    wd = tmp_path / "wd"
    proc = _run(wd, "resources/lhco/download/events.h5", {"data": {"lhco": {"source": "download"}}})
    lines = [line for line in proc.stderr.splitlines() if line.startswith("config ")]
    assert lines == [f"{'config ' + str(REPO / 'config' / 'config.yaml')}: data.lhco.download.sha256: '' is too "
                     "short (0 characters, 64 needed) (`source: download` needs the sha256 of the file, or its "
                     "checksum as the publisher gives it)"] or lines == [
        "config config/config.yaml: data.lhco.download.sha256: '' is too short (0 characters, 64 needed) "
        "(`source: download` needs the sha256 of the file, or its checksum as the publisher gives it)"], proc.stderr
    assert proc.returncode != 0 and _files(wd, "logs") == []


@pytest.mark.workflow
def test_empty_file_list_is_refused_by_the_schema(tmp_path):
    wd = tmp_path / "wd"
    proc = _run(wd, "resources/lhco/file/events.h5", {"data": {"lhco": {"source": "file", "files": []}}})
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.startswith("config ")]
    assert lines == [f"config {wd / 'tiny.yaml'}: data.lhco.files: is empty (`source: file` needs at least one "
                     "file)"], proc.stderr
    assert "usage:" not in proc.stderr and _files(wd, "logs") == []


@pytest.mark.parametrize("name", ["a.root;touch pwned.h5", "with spaces and ümlaut ß.h5", "$(touch pwned) `x`.h5"])
@pytest.mark.workflow
def test_file_names_with_shell_characters_spaces_and_non_ascii_work(tmp_path, name):
    """The five-injection set's file name, and a path with spaces and non-ASCII
    characters, through the workflow: the dataset is prepared, nothing runs."""
    src = _toy_features(tmp_path / "data dir ñ" / name)
    wd = tmp_path / "wd"
    proc = _run(wd, "resources/lhco/file/events.h5",
                {"data": {"lhco": {"source": "file", "format": "features", "files": [str(src)]}}})
    assert proc.returncode == 0, proc.stderr[-3000:]
    df, attrs = read_table(wd / "resources" / "lhco" / "file" / "events.h5", lhco.AD_COLUMNS)
    assert len(df) == 330 and attrs["sources"] == [str(src)]
    assert not any(p.name.startswith(MARKER) for p in tmp_path.rglob("*")), "an injected command ran"
    _no_traceback_in_logs(wd)


@pytest.fixture
def http_server(tmp_path):
    """A local HTTP server for the download rule (no network): yields (folder, base URL)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


@pytest.mark.workflow
def test_download_url_with_shell_characters_downloads_and_runs_nothing(tmp_path, http_server):
    """`;`, `$(...)` are legal URL characters: the URL is fetched as is, no shell sees it."""
    from colliderflow.data.download import sha256sum

    root, base = http_server
    name = f"f.h5;touch$({MARKER})"
    _toy_features(root / name)
    wd = tmp_path / "wd"
    proc = _run(wd, "resources/lhco/download/events.h5",
                {"data": {"lhco": {"source": "download",
                                   "download": {"url": f"{base}/{name}", "sha256": sha256sum(root / name)}}}},
                env={"no_proxy": "*", "NO_PROXY": "*"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(read_table(wd / "resources" / "lhco" / "download" / "events.h5")[0]) == 330
    assert not any(p.name == MARKER for p in tmp_path.rglob("*"))
    _no_traceback_in_logs(wd)


@pytest.mark.workflow
def test_download_checksum_mismatch_leaves_nothing(tmp_path, http_server):
    root, base = http_server
    _toy_features(root / "f.h5")
    wd = tmp_path / "wd"
    proc = _run(wd, "resources/lhco/download/events.h5",
                {"data": {"lhco": {"source": "download", "download": {"url": f"{base}/f.h5", "sha256": "0" * 64}}}},
                env={"no_proxy": "*", "NO_PROXY": "*"})
    assert proc.returncode != 0
    from colliderflow.data.download import sha256sum

    got = sha256sum(root / "f.h5")
    assert _error_line(proc.stderr) == [f"error: {base}/f.h5: field 'checksum': sha256 mismatch: expected "
                                         f"{'0' * 64}, got {got}"]
    assert _files(wd, "resources") == []
    _no_traceback_in_logs(wd)


# --------------------------------------------------------------------------- data: workflow level


@pytest.mark.workflow
def test_too_small_dimuon_dataset_stops_with_the_count(tmp_path, shared_data):
    """The real 2018 dimuon NanoAOD (40 events) is too small for the Z fit."""
    f = shared_data / "cms_nanoaod_samples_coffea" / "nano_dimuon.root"
    wd = tmp_path / "wd"
    proc = _run(wd, "results/dimuon/metrics.json", {"data": {"dimuon": {"source": "file", "files": [str(f)]}}})
    assert proc.returncode != 0
    line = (f"error: {f}: field 'Muon': only 6 opposite-charge dimuon pair(s) in 70-110 GeV, the Z fit needs 50 "
            "(too few events: 22 pairs in all)")
    assert _error_line(proc.stderr) == [line], proc.stderr[-3000:]
    log = (wd / "logs" / "dimuon" / "spectrum.log").read_text()
    assert _error_lines(log) == [line] and "Traceback" not in log
    # the per-file ingestion and the merge succeeded (their benchmark files stay); the study wrote nothing
    assert [p for p in _files(wd, "results") if not p.startswith("results/data/benchmarks/")] == []


@pytest.mark.workflow
def test_pickled_lhco_file_is_refused_in_the_workflow(tmp_path):
    marker = tmp_path / MARKER
    src = tmp_path / "evil.h5"
    df = lhco.generate_toy_features(50, 5, seed=1).astype(object)
    df.loc[0, "mj1"] = Payload(marker)
    df.to_hdf(src, key="df")
    wd = tmp_path / "wd"
    proc = _run(wd, "resources/lhco/file/events.h5",
                {"data": {"lhco": {"source": "file", "format": "features", "files": [str(src)]}}})
    assert proc.returncode != 0
    assert _error_line(proc.stderr) == [f"error: {src}: field '/df/block0_values': holds pickled Python objects "
                                         "(refused: unpickling can run code from the file; numeric columns "
                                         "expected)"], proc.stderr[-3000:]
    assert not marker.exists()
    assert _files(wd, "resources") == []
    _no_traceback_in_logs(wd)


@pytest.mark.workflow
def test_corrupt_hdf5_is_one_line_without_the_hdf5_back_trace(tmp_path):
    src = _toy_features(tmp_path / "events.h5")
    raw = bytearray(src.read_bytes())
    raw[0:8] = b"\0" * 8  # the HDF5 signature
    src.write_bytes(bytes(raw))
    wd = tmp_path / "wd"
    proc = _run(wd, "resources/lhco/file/events.h5",
                {"data": {"lhco": {"source": "file", "format": "features", "files": [str(src)]}}})
    assert proc.returncode != 0
    lines = _error_line(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith(f"error: {src}: cannot be read as HDF5 ("), proc.stderr[-3000:]
    assert "HDF5-DIAG" not in proc.stderr and "Traceback" not in proc.stderr
    assert _files(wd, "resources") == []
    _no_traceback_in_logs(wd)


# --------------------------------------------------------------------------- readers: pickles


def test_pickled_object_column_is_refused_by_every_hdf5_table_reader(tmp_path):
    from colliderflow.studies.l2lflows.core import reference_tables

    marker = tmp_path / MARKER
    path = tmp_path / "evil.h5"
    df = pd.DataFrame({"a": [1.0, 2.0], "o": [Payload(marker), 1]})
    df.to_hdf(path, key="df")
    with pytest.raises(InputError) as exc:
        lhco.read_features(path)
    assert str(exc.value) == (f"{path}: field '/df/block1_values': holds pickled Python objects (refused: "
                              "unpickling can run code from the file; numeric columns expected)")
    with pytest.raises(InputError) as exc:  # the l2lflows tables: numpy arrays only, a payload is refused
        reference_tables([path])
    assert str(exc.value) == (f"{path}: field '/df/block1_values': pickled object refused: it calls posix.system "
                              "(only numpy arrays are read)")
    df.to_hdf(tmp_path / "t.h5", key="events")
    with pytest.raises(InputError, match="pickled object refused: it calls posix.system"):
        read_table(tmp_path / "t.h5")
    assert not marker.exists(), "the payload ran"


def test_reference_tables_still_read_without_pandas_unpickling(shared_data):
    from colliderflow.studies.l2lflows.core import reference_tables

    ref = shared_data / "calochallenge_reference"
    via_h5py = reference_tables(sorted(ref.glob("CaloChallenge_results_*.hdf")))
    for f in sorted(ref.glob("CaloChallenge_results_*.hdf")):
        theirs = pd.read_hdf(f)  # trusted file: compare with pandas' own reader
        ours = via_h5py[f.stem.replace("CaloChallenge_results_", "")]
        assert [r["name"] for r in ours] == list(theirs["submission name"])
        assert np.allclose([r["auc_low"] for r in ours], theirs["binary cls low"], equal_nan=True)


def test_reference_tables_are_read_without_any_unpickler(shared_data, monkeypatch):
    """Every pickled node of the CaloChallenge tables is read by walking its opcodes: the same
    objects as pickle.loads (trusted file), with pickle's unpickler made unusable meanwhile."""
    import pickle

    import h5py

    from colliderflow.hdf5 import read_frame, read_numpy_pickle

    def same(a, b):
        if isinstance(a, np.ndarray):
            return (isinstance(b, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype
                    and all(same(x, y) for x, y in zip(a.ravel(), b.ravel(), strict=True)))
        if isinstance(a, (list, tuple)):
            return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
        if isinstance(a, (float, np.floating)) and np.isnan(a):
            return type(a) is type(b) and np.isnan(b)
        return type(a) is type(b) and a == b

    files = sorted((shared_data / "calochallenge_reference").glob("CaloChallenge_results_*.hdf"))
    expected = {}
    for f in files:
        with h5py.File(f) as h:
            for name in ("block1_values", "axis0", "axis1", "block0_items", "block1_items"):
                node = f"{next(iter(h))}/{name}"
                if node in h and h[node].attrs.get("CLASS", b"") == b"VLARRAY":
                    raw = np.asarray(h[node][0], dtype=np.uint8).tobytes()
                    expected[(f, node)] = (raw, pickle.loads(raw))
    assert len(expected) >= 4
    monkeypatch.setattr(pickle, "Unpickler", None)
    monkeypatch.setattr(pickle, "loads", None)
    for (f, node), (raw, obj) in expected.items():
        assert same(obj, read_numpy_pickle(raw, (f, node))), (f, node)
    for f in files:
        read_frame(f, objects="numpy")


@pytest.mark.parametrize("obj, why", [
    (Payload(Path("x")), "it calls posix.system"),
    (pd.Timestamp(0), "it calls pandas"),
    ({1, 2}, "opcode EMPTY_SET is not part of a numpy array pickle"),
])
def test_static_pickle_reader_refuses_anything_but_numpy(tmp_path, obj, why):
    import pickle

    from colliderflow.hdf5 import read_numpy_pickle

    with pytest.raises(InputError, match="pickled object refused: " + why):
        read_numpy_pickle(pickle.dumps(obj, protocol=4), (tmp_path / "f.h5", "/df/x"))
    raw = pickle.dumps(np.array(["a", [1.0, 2.0]], dtype=object), protocol=5)
    with pytest.raises(InputError) as exc:  # truncated: one line, no traceback of the walker
        read_numpy_pickle(raw[:-7], (tmp_path / "f.h5", "/df/x"))
    assert str(exc.value).startswith(f"{tmp_path / 'f.h5'}: field '/df/x': pickled object refused: ")
    assert "\n" not in str(exc.value)


def test_table_format_and_wrong_key_are_one_line(tmp_path):
    path = tmp_path / "t.h5"
    lhco.generate_toy_features(20, 2, seed=1).to_hdf(path, key="df", format="table")
    with pytest.raises(InputError) as exc:
        lhco.read_features(path)
    assert str(exc.value) == (f"{path}: field '/df': pandas 'frame_table' object; only the fixed-format frame is "
                              "read (write it with df.to_hdf(..., format='fixed'))")
    _toy_features(path)
    with pytest.raises(InputError) as exc:
        lhco.read_features(path, key="events")
    assert str(exc.value) == f"{path}: field '/events': no pandas table under key 'events' (found ['df'])"


def test_empty_hdf5_file_is_one_line(tmp_path):
    path = tmp_path / "empty.h5"
    path.write_bytes(b"")
    for read in (lhco.read_features, calorimeter_toy.read_showers, jet_constituents.read_jets, read_table):
        with pytest.raises(InputError) as exc:
            read(path)
        assert str(exc.value) == f"{path}: file is empty"


# --------------------------------------------------------------------------- readers: NaN / inf


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nanoaod_non_finite_muon_pt_is_refused(tmp_path, bad):
    muons = ak.zip({"pt": ak.Array([[30.0, 25.0], [40.0, bad]]), "eta": ak.Array([[0.1, 0.2], [0.3, 0.4]]),
                    "phi": ak.Array([[0.0, 3.0], [1.0, -2.0]]), "mass": ak.Array([[0.1, 0.1], [0.1, 0.1]]),
                    "charge": ak.Array([[1, -1], [1, -1]])})
    path = tmp_path / "nan.root"
    nanoaod.write_nanoaod(path, {"Muon": muons})
    with pytest.raises(InputError) as exc:
        nanoaod.read_nanoaod(path)
    assert str(exc.value) == f"{path}: field 'Muon_pt': 1 value(s) are NaN or inf"
    with pytest.raises(InputError, match="Muon_pt"):
        nanoaod.event_table(path, {"Muon": 2})


@pytest.mark.parametrize(("column", "bad"), [("mj1", np.nan), ("tau1j2", -np.inf), ("pxj1", np.inf)])
def test_lhco_features_non_finite_is_refused(tmp_path, column, bad):
    df = lhco.generate_toy_features(100, 10, seed=1)
    df.loc[7, column] = bad
    path = tmp_path / "f.h5"
    df.to_hdf(path, key="df")
    with pytest.raises(InputError) as exc:
        lhco.read_features(path)
    assert str(exc.value) == f"{path}: field '{column}': 1 row(s) hold NaN or inf"


def _reclustered(path: Path, key: str, n: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({c: rng.uniform(0.1, 1.0, n) for c in lhco.RECLUSTERED_COLUMNS})
    df["mjj"] *= 4000.0
    df.to_hdf(path, key=key)
    return df


@pytest.mark.parametrize(("column", "bad", "message"), [
    ("tau1_1", -np.inf, "field 'tau1_1': 1 row(s) hold NaN or inf"),
    ("mass_1", np.nan, "field 'mass_1': 1 row(s) hold NaN or inf"),
    ("tau1_2", 0.0, "field 'tau1_2': 1 row(s) with tau1 = 0 but tau2 > 0 (tau21 infinite)"),
])
def test_reclustered_non_finite_other_than_the_known_defect_is_refused(tmp_path, column, bad, message):
    path = tmp_path / "scalars_x.h5"
    df = _reclustered(path, "bkg")
    df.loc[3, column] = bad
    df.to_hdf(path, key="bkg")
    with pytest.raises(InputError) as exc:
        lhco.read_reclustered([path])
    assert str(exc.value) == f"{path}: {message}"


def test_reclustered_known_defect_is_counted_and_label_comes_from_the_key(tmp_path):
    sig = tmp_path / "scalars_bkg99.h5"  # a misleading name: the key says signal
    df = _reclustered(sig, "sig")
    df.loc[[4, 9], ["tau1_1", "tau2_1"]] = 0.0
    df.to_hdf(sig, key="sig")
    counts: dict = {}
    ad = lhco.read_ad_table("reclustered", [sig], counts)
    assert len(ad) == 48 and (ad.label == 1).all()
    assert counts == {"tau1_zero_j1": 2, "tau1_zero_j2": 0, "dropped_tau1_zero": 2} == ad.attrs["dropped"]
    other = tmp_path / "scalars_sig01.h5"
    _reclustered(other, "data")
    with pytest.raises(InputError) as exc:
        lhco.read_reclustered([other])
    assert str(exc.value) == f"{other}: field 'key': expected one of ['bkg', 'sig'], found ['data']"


def test_reclustered_real_excerpt_drops_exactly_its_known_defect(shared_data):
    files = sorted((shared_data / "lhco2020_rnd_reclustered_100k").glob("scalars_*.h5"))
    counts: dict = {}
    ad = lhco.read_ad_table("reclustered", files, counts)
    undefined = {"bkg": 0, "sig": 0}  # jets with tau1 = tau2 = 0, counted with pandas on these trusted files
    for f in files:
        raw = pd.read_hdf(f)
        n = int((((raw.tau1_1 == 0) & (raw.tau2_1 == 0)) | ((raw.tau1_2 == 0) & (raw.tau2_2 == 0))).sum())
        undefined["sig" if "sig" in f.name else "bkg"] += n
    assert counts["dropped_tau1_zero"] == sum(undefined.values()) > 0, counts
    assert len(ad) == 100000 - sum(undefined.values()) and int(ad.label.sum()) == 9059 - undefined["sig"]


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_cathode_npy_non_finite_is_refused(tmp_path, bad):
    arr = np.random.default_rng(1).uniform(0.1, 1, (40, 6))
    arr[5, 3] = bad
    path = tmp_path / "innerdata.npy"
    np.save(path, arr)
    with pytest.raises(InputError) as exc:
        lhco.read_cathode_npy([path])
    assert str(exc.value) == f"{path}: field 'tau21_j1': 1 row(s) hold NaN or inf"
    np.save(path, np.array([[object()] * 6], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match=r"cannot be read as \.npy \(ValueError: Object arrays cannot be loaded"):
        lhco.read_cathode_npy([path])


def test_jet_readers_non_finite_is_refused(tmp_path):
    arrays = part_jets.generate_toy(20, seed=1, max_particles=16)
    arrays["pf_points"][2, 0, 0] = np.nan
    part_jets.write_jets(tmp_path / "tl", arrays)
    with pytest.raises(InputError) as exc:
        part_jets.read_jets(tmp_path / "tl")
    assert str(exc.value) == f"{tmp_path / 'tl_pf_points.npy'}: field 'pf_points': 1 row(s) hold NaN or inf"
    jets = jet_constituents.generate_toy(10, 8, seed=1)
    jets["constituents"][1, 0, 2] = np.inf
    jet_constituents.write_jets(tmp_path / "jets.h5", jets, "toy")
    with pytest.raises(InputError) as exc:
        jet_constituents.read_jets(tmp_path / "jets.h5")
    assert str(exc.value) == f"{tmp_path / 'jets.h5'}: field 'constituents': 1 jet(s) hold NaN or inf"


@pytest.mark.parametrize("field", ["incident_energies", "showers"])
def test_calorimeter_non_finite_is_refused(tmp_path, field):
    inc = np.full((5, 1), 1000.0)
    showers = np.ones((5, 12))
    {"incident_energies": inc, "showers": showers}[field][2, 0] = np.nan
    path = tmp_path / "showers.h5"
    calorimeter_toy.write_showers(path, inc, showers)
    with pytest.raises(InputError) as exc:
        calorimeter_toy.read_showers(path)
    assert str(exc.value) == f"{path}: field '{field}': 1 row(s) hold NaN or inf"


def test_prepared_table_non_finite_is_refused(tmp_path):
    df = pd.DataFrame({"x": [1.0, np.nan, 3.0], "y": [1.0, 2.0, 3.0]})
    write_table(tmp_path / "t.h5", df)
    with pytest.raises(InputError) as exc:
        read_table(tmp_path / "t.h5")
    assert str(exc.value) == f"{tmp_path / 't.h5'}: field 'x': 1 row(s) hold NaN or inf"


def test_corrupt_hdf5_in_a_step_prints_one_line_and_no_hdf5_diagnostics(tmp_path):
    """A step run by hand on a truncated file: exit 2, one line, nothing from the HDF5 library."""
    src = _toy_features(tmp_path / "events.h5")
    src.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    out = tmp_path / "out.h5"
    section = {"source": "file", "format": "features", "key": "df", "files": [str(src)],
               "toy": {"n_background": 1, "n_signal": 1, "m_wprime": 3500.0, "m_x": 500.0, "m_y": 100.0},
               "download": {"url": "https://host/f.h5", "sha256": "", "checksum": ""}}
    job = {"step": "data.lhco_prepare", "cfg": section, "seed": 0, "tier": "test", "params": {}, "threads": 1,
           "wildcards": {}, "input": {"all": [str(src)], "named": {}}, "output": {"all": [str(out)], "named": {}},
           "log": None}
    (tmp_path / "job.json").write_text(json.dumps(job))
    proc = subprocess.run([sys.executable, "-m", "colliderflow", "step", str(tmp_path / "job.json")],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert proc.returncode == 2, proc.stderr
    assert len(_error_lines(proc.stderr)) == 1 and str(src) in _error_lines(proc.stderr)[0]
    assert "HDF5-DIAG" not in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
