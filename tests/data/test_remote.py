"""Remote inputs over HTTP against servers on 127.0.0.1 started by the tests:
a good one, one that drops the connection mid-file, a slow one, a missing
file, a wrong checksum. Each failure is one line naming the URL and leaves
no file behind."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
import zlib

import numpy as np
import pytest

from colliderflow.data import ingest, nanoaod, remote
from colliderflow.errors import InputError

PAYLOAD = bytes(range(256)) * 8192  # 2 MiB


class Handler(http.server.BaseHTTPRequestHandler):
    """/ok/<name>: the file; /drop/<name>: half of it, then the connection
    closes; /slow/<name>: headers, then silence; /flaky/<name>: drops the
    first request, serves the next; anything else: 404."""

    files: dict[str, bytes] = {}
    hits: dict[str, int] = {}
    stall = 5.0

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        try:
            self._get()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the timeout test)

    def _get(self) -> None:
        mode, _, name = self.path.strip("/").partition("/")
        body = self.files.get(name)
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        if body is None or mode not in ("ok", "drop", "slow", "flaky"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "slow":
            time.sleep(self.stall)
        if mode == "drop" or (mode == "flaky" and self.hits[self.path] == 1):
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server(tmp_path):
    Handler.files = {"events.root": PAYLOAD}
    Handler.hits = {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _one_line_naming(exc: pytest.ExceptionInfo, url: str) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(url), msg
    return msg


@pytest.mark.parametrize("algo", ["adler32", "md5", "sha256"])
def test_fetch_verifies_the_publishers_checksum(server, tmp_path, algo):
    digest = (f"{zlib.adler32(PAYLOAD) & 0xFFFFFFFF:08x}" if algo == "adler32"
              else hashlib.new(algo, PAYLOAD).hexdigest())
    dest = tmp_path / "out" / "events.root"
    remote.fetch(f"{server}/ok/events.root", dest, remote.Checksum.parse(f"{algo}:{digest}", "t", "c"),
                 retries=0)
    assert dest.read_bytes() == PAYLOAD
    assert remote.file_checksum(dest, algo) == digest


def test_wrong_checksum(server, tmp_path):
    url = f"{server}/ok/events.root"
    dest = tmp_path / "out" / "events.root"
    with pytest.raises(InputError) as exc:
        remote.fetch(url, dest, remote.Checksum.parse("adler32:00000001", "t", "c"), retries=2, backoff=0)
    msg = _one_line_naming(exc, url)
    assert "field 'checksum'" in msg and "adler32 mismatch" in msg
    assert list(dest.parent.iterdir()) == []
    assert Handler.hits["/ok/events.root"] == 1  # a wrong checksum is not retried


def test_connection_dropped_mid_file(server, tmp_path):
    url = f"{server}/drop/events.root"
    dest = tmp_path / "out" / "events.root"
    with pytest.raises(InputError) as exc:
        remote.fetch(url, dest, retries=1, backoff=0)
    msg = _one_line_naming(exc, url)
    assert "after 2 attempts" in msg and "dropped mid-file" in msg
    assert list(dest.parent.iterdir()) == []
    assert Handler.hits["/drop/events.root"] == 2


def test_retry_recovers_a_dropped_connection(server, tmp_path):
    dest = tmp_path / "events.root"
    remote.fetch(f"{server}/flaky/events.root", dest, retries=2, backoff=0)
    assert dest.read_bytes() == PAYLOAD and Handler.hits["/flaky/events.root"] == 2


def test_slow_server_hits_the_timeout(server, tmp_path):
    url = f"{server}/slow/events.root"
    dest = tmp_path / "out" / "events.root"
    t0 = time.monotonic()
    with pytest.raises(InputError) as exc:
        remote.fetch(url, dest, timeout=0.5, retries=0)
    assert time.monotonic() - t0 < Handler.stall
    msg = _one_line_naming(exc, url)
    assert "timed out after 0.5 s" in msg
    assert list(dest.parent.iterdir()) == []


def test_missing_file_is_not_retried(server, tmp_path):
    url = f"{server}/ok/absent.root"
    dest = tmp_path / "out" / "absent.root"
    with pytest.raises(InputError) as exc:
        remote.fetch(url, dest, retries=3, backoff=0)
    assert "HTTP 404" in _one_line_naming(exc, url)
    assert Handler.hits["/ok/absent.root"] == 1
    assert not dest.exists()


def test_unreachable_host(tmp_path):
    url = "http://127.0.0.1:9/events.root"
    with pytest.raises(InputError) as exc:
        remote.fetch(url, tmp_path / "e.root", retries=0, timeout=2)
    assert "connection failed" in _one_line_naming(exc, url)


def test_file_list_from_a_url_and_from_a_file(server, tmp_path):
    listing = "# CERN Open Data file index\nroot://eospublic.cern.ch//eos/opendata/a.root\n\n" \
              "root://eospublic.cern.ch//eos/opendata/b.root\n"
    Handler.files["index.txt"] = listing.encode()
    got = remote.dataset_urls({"urls": [], "file_list": f"{server}/ok/index.txt", "retries": 0}, "xrootd")
    assert got == ["root://eospublic.cern.ch//eos/opendata/a.root", "root://eospublic.cern.ch//eos/opendata/b.root"]
    (tmp_path / "index.txt").write_text(listing)
    assert remote.dataset_urls({"file_list": str(tmp_path / "index.txt")}, "xrootd") == got


def test_file_list_errors_name_the_line(tmp_path):
    (tmp_path / "index.txt").write_text("https://example.org/a.root\nroot://host//b c.root\n")
    with pytest.raises(InputError, match=r"index.txt: field 'line 2'.*not a http/https URL"):
        remote.dataset_urls({"file_list": str(tmp_path / "index.txt")}, "http")
    with pytest.raises(InputError, match=r"config: field 'data.dimuon.remote.urls': source http needs"):
        remote.dataset_urls({"urls": [], "file_list": ""}, "http")


def test_checksum_spellings():
    assert str(remote.Checksum.parse("ADLER32:0A0B0C0D", "t", "c")) == "adler32:0a0b0c0d"
    for bad in ("crc32:00000000", "md5:123", "sha256", "adler32:zzzzzzzz"):
        with pytest.raises(InputError, match="field 'c': checksum"):
            remote.Checksum.parse(bad, "t", "c")
    table = {"a.root": "md5:" + "0" * 32, "https://h/x/b.root": "sha256:" + "1" * 64}
    assert remote.checksum_for(table, "https://h/y/a.root").algo == "md5"
    assert remote.checksum_for(table, "https://h/x/b.root").algo == "sha256"
    assert remote.checksum_for(table, "https://h/x/c.root") is None


@pytest.fixture
def toy_nanoaod(tmp_path):
    from colliderflow.data.toy_nanoaod import write_dimuon

    path = tmp_path / "toy.root"
    write_dimuon(path, 3000, 7)
    return path


def test_ingest_over_http_equals_the_local_file(server, tmp_path, toy_nanoaod):
    body = toy_nanoaod.read_bytes()
    Handler.files["toy.root"] = body
    url = f"{server}/ok/toy.root"
    info = ingest.ingest(url, tmp_path / "p" / "0.root", tmp_path / "p" / "0.json", source="http",
                         checksum=remote.Checksum("md5", hashlib.md5(body).hexdigest()), retries=0)
    assert info["events"] == 3000 and info["checksum"].startswith("md5:")
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["0.json", "0.root"]  # download deleted
    local = nanoaod.dimuon_mass(nanoaod.read_nanoaod(toy_nanoaod)["Muon"])
    remote_ = nanoaod.dimuon_mass(nanoaod.read_nanoaod(tmp_path / "p" / "0.root")["Muon"])
    np.testing.assert_array_equal(local, remote_)


def test_skip_policy_records_the_file_and_fail_policy_names_it(server, tmp_path, toy_nanoaod):
    Handler.files["toy.root"] = toy_nanoaod.read_bytes()
    good, dropped = f"{server}/ok/toy.root", f"{server}/drop/toy.root"
    p = tmp_path / "p"
    with pytest.raises(InputError) as exc:
        ingest.ingest(dropped, p / "1.root", p / "1.json", source="http", retries=0)
    _one_line_naming(exc, dropped)
    assert not (p / "1.root").exists() and not (p / "1.json").exists() and list(p.iterdir()) == []
    ingest.ingest(good, p / "0.root", p / "0.json", source="http", retries=0)
    info = ingest.ingest(dropped, p / "1.root", p / "1.json", source="http", retries=0, on_unreachable="skip")
    assert info["events"] == 0 and info["skipped"].startswith(dropped)
    out = ingest.merge([str(p / "0.root"), str(p / "1.root")], [str(p / "0.json"), str(p / "1.json")],
                       tmp_path / "muons.root", tmp_path / "muons.json")
    assert out["events"] == 3000 and [s["source"] for s in out["skipped"]] == [dropped]
    # a wrong checksum is never skipped: the file arrived, and it is not the publisher's
    with pytest.raises(InputError, match="field 'checksum'"):
        ingest.ingest(good, p / "2.root", p / "2.json", source="http", retries=0, on_unreachable="skip",
                      checksum=remote.Checksum("md5", "0" * 32))


def test_json_file_lists_carry_the_publishers_checksums(server, tmp_path):
    import json

    cern = [{"uri": "root://eospublic.cern.ch//eos/opendata/cms/a.root", "checksum": "adler32:0a0b0c0d", "size": 1},
            {"uri": "root://eospublic.cern.ch//eos/opendata/cms/b.root", "checksum": "adler32:01020304", "size": 2}]
    (tmp_path / "index.json").write_text(json.dumps(cern))
    got = remote.dataset_entries({"file_list": str(tmp_path / "index.json")}, "xrootd")
    assert got == [(e["uri"], e["checksum"]) for e in cern]
    # the configured checksum (by file name) wins over the listing's
    mine = {"file_list": str(tmp_path / "index.json"), "checksums": {"b.root": "md5:" + "f" * 32}}
    got = remote.dataset_entries(mine, "xrootd")
    assert got[1][1] == "md5:" + "f" * 32 and got[0][1] == "adler32:0a0b0c0d"
    # the record API (metadata.files) and Zenodo's record JSON (links.self, md5), served over HTTP
    zenodo = {"files": [{"key": "events.h5", "checksum": "md5:" + "a" * 32,
                         "links": {"self": "https://zenodo.example/api/records/1/files/events.h5/content"}}]}
    Handler.files["record.json"] = json.dumps(zenodo).encode()
    got = remote.dataset_entries({"file_list": f"{server}/ok/record.json", "retries": 0}, "http")
    assert got == [("https://zenodo.example/api/records/1/files/events.h5/content", "md5:" + "a" * 32)]
    (tmp_path / "record.json").write_text(json.dumps({"metadata": {"files": cern}}))
    assert len(remote.dataset_entries({"file_list": str(tmp_path / "record.json")}, "xrootd")) == 2
    (tmp_path / "bad.json").write_text(json.dumps([{"uri": cern[0]["uri"], "checksum": "crc:1"}]))
    with pytest.raises(InputError, match=r"bad.json: field 'files\[0\].checksum': checksum 'crc:1'"):
        remote.dataset_entries({"file_list": str(tmp_path / "bad.json")}, "xrootd")


def test_file_name_drops_the_query():
    assert remote.file_name("https://zenodo.example/records/1/files/ev.h5?download=1") == "ev.h5"
    assert remote.checksum_for({"ev.h5": "md5:" + "0" * 32}, "https://z.example/records/1/files/ev.h5?download=1")


def test_dimuon_study_over_http_with_a_published_file_list(server, tmp_path, run_snakemake):
    """source: http end to end: a JSON file list (Zenodo-style, md5 per file) served by the local server;
    two files, one ingestion job each, the same masses and Z mass as the local file."""
    import json

    import yaml

    from colliderflow.data.toy_nanoaod import write_dimuon
    from colliderflow.studies.dimuon import analysis

    from ..conftest import REPO

    toy = tmp_path / "toy.root"
    write_dimuon(toy, 60000, 5)
    body = toy.read_bytes()
    Handler.files["a.root"] = Handler.files["b.root"] = body
    files = [{"key": n, "checksum": "md5:" + hashlib.md5(body).hexdigest(), "links": {"self": f"{server}/ok/{n}"}}
             for n in ("a.root", "b.root")]
    Handler.files["record.json"] = json.dumps({"files": files}).encode()
    cfg = tmp_path / "http.yaml"
    cfg.write_text(yaml.safe_dump({"data": {"dimuon": {"source": "http", "remote": {
        "file_list": f"{server}/ok/record.json", "retries": 0, "timeout": 20}}}}))
    wd = tmp_path / "wd"
    run_snakemake(wd, "results/dimuon/metrics.json", configfiles=[REPO / "config" / "tiers" / "smoke.yaml", cfg])
    local = nanoaod.dimuon_mass(nanoaod.read_nanoaod(toy)["Muon"])
    direct = np.concatenate([local, local])
    np.testing.assert_array_equal(np.load(wd / "results" / "dimuon" / "dimuon_masses.npy"), direct)
    metrics = json.loads((wd / "results" / "dimuon" / "metrics.json").read_text())["metrics"]
    assert metrics["z"]["mass"] == pytest.approx(analysis.fit_z(direct)["mass"], abs=1e-9)
    report = json.loads((wd / "resources" / "dimuon" / "http" / "muons.json").read_text())
    assert [f["checksum"] for f in report["files"]] == [f["checksum"] for f in files]
    assert Handler.hits["/ok/a.root"] == Handler.hits["/ok/b.root"] == 1
