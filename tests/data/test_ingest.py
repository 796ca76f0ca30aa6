"""Per-file NanoAOD ingestion: one job per file in the DAG, and the merged
muons identical (same dimuon masses, same order) to reading the files
directly, on the toy and on the real CMS excerpt."""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml

from colliderflow.data import ingest, nanoaod, remote
from colliderflow.errors import InputError

from ..conftest import REPO


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from colliderflow.data.toy_nanoaod import write_dimuon

    path = tmp_path_factory.mktemp("toy") / "toy.root"
    write_dimuon(path, 4000, 11)
    return path


def _masses(path) -> np.ndarray:
    return nanoaod.dimuon_mass(nanoaod.read_nanoaod(path)["Muon"])


def _ingest_all(files, tmp_path):
    parts, reports = [], []
    for i, f in enumerate(files):
        parts.append(str(tmp_path / "parts" / f"{i}.root"))
        reports.append(str(tmp_path / "parts" / f"{i}.json"))
        ingest.ingest(str(f), parts[-1], reports[-1], source="file")
    return ingest.merge(parts, reports, tmp_path / "muons.root", tmp_path / "muons.json")


def test_merged_parts_equal_the_files_read_directly(toy, tmp_path):
    from colliderflow.data.toy_nanoaod import write_dimuon

    other = tmp_path / "other.root"
    write_dimuon(other, 3000, 12)
    out = _ingest_all([toy, other, toy], tmp_path)
    assert out["events"] == 11000 and out["skipped"] == []
    direct = np.concatenate([_masses(toy), _masses(other), _masses(toy)])
    np.testing.assert_array_equal(_masses(tmp_path / "muons.root"), direct)


def test_real_excerpt_through_ingestion_gives_the_same_z(shared_data, tmp_path):
    from colliderflow.studies.dimuon import analysis

    excerpt = shared_data / "cms_opendata" / "Run2012BC_DoubleMuParked_Muons_first100k.root"
    _ingest_all([excerpt], tmp_path)
    merged, direct = _masses(tmp_path / "muons.root"), _masses(excerpt)
    np.testing.assert_array_equal(merged, direct)
    assert analysis.fit_z(merged)["mass"] == analysis.fit_z(direct)["mass"]


def test_local_file_checksum_is_verified(toy, tmp_path):
    good = remote.Checksum("adler32", remote.file_checksum(toy, "adler32"))
    ingest.ingest(str(toy), tmp_path / "0.root", tmp_path / "0.json", source="file", checksum=good)
    with pytest.raises(InputError, match=rf"^{re.escape(str(toy))}: field 'checksum': adler32 mismatch"):
        ingest.ingest(str(toy), tmp_path / "1.root", tmp_path / "1.json", source="file",
                      checksum=remote.Checksum("adler32", "00000000"))
    assert not (tmp_path / "1.root").exists()


def test_all_files_skipped_is_an_error(tmp_path):
    info = ingest.ingest(str(tmp_path / "absent.root"), tmp_path / "0.root", tmp_path / "0.json", source="file",
                         on_unreachable="skip")
    assert info["skipped"] and info["events"] == 0
    with pytest.raises(InputError, match="absent.root: no input file could be read"):
        ingest.merge([str(tmp_path / "0.root")], [str(tmp_path / "0.json")], tmp_path / "m.root",
                     tmp_path / "m.json")
    assert not (tmp_path / "m.root").exists()


def _job_counts(out: str) -> dict[str, int]:
    stats = out[out.index("Job stats"):]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)}


def test_dry_run_has_one_ingestion_job_per_file(run_snakemake, tmp_path):
    files = [str(tmp_path / f"f{i}.root") for i in range(5)]
    for f in files:
        open(f, "wb").close()
    cfg = tmp_path / "five.yaml"
    cfg.write_text(yaml.safe_dump({"data": {"dimuon": {"source": "file", "files": files}}}))
    proc = run_snakemake(tmp_path / "wd", "-n", "results/dimuon/metrics.json",
                         configfiles=[REPO / "config" / "tiers" / "smoke.yaml", cfg])
    counts = _job_counts(proc.stdout + proc.stderr)
    assert counts["dimuon_ingest"] == 5 and counts["dimuon_merge"] == 1 and counts["dimuon_spectrum"] == 1
    # http: the URL list decides the jobs too (no request is made by a dry-run with a URL list)
    urls = [f"https://opendata.example/rec/{i}.root" for i in range(3)]
    cfg.write_text(yaml.safe_dump({"data": {"dimuon": {"source": "http", "remote": {"urls": urls}}}}))
    proc = run_snakemake(tmp_path / "wd", "-n", "results/dimuon/metrics.json",
                         configfiles=[REPO / "config" / "tiers" / "smoke.yaml", cfg])
    assert _job_counts(proc.stdout + proc.stderr)["dimuon_ingest"] == 3
