"""The download path against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading

import pytest

from colliderflow.data.download import ensure
from colliderflow.errors import InputError

from ..conftest import REPO


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    payload = b"pxj1,pyj1\n" * 50000
    (root / "events.h5").write_bytes(payload)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", payload
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_download_with_checksum(server, tmp_path):
    url, payload = server
    dest = tmp_path / "out" / "events.h5"
    ensure(f"{url}/events.h5", dest, hashlib.sha256(payload).hexdigest())
    assert dest.read_bytes() == payload


def test_existing_file_is_not_downloaded_again(server, tmp_path):
    url, payload = server
    dest = tmp_path / "events.h5"
    dest.write_bytes(payload)
    # an unreachable URL proves no request is made
    ensure("http://127.0.0.1:9/never", dest, hashlib.sha256(payload).hexdigest())


def test_checksum_mismatch_leaves_nothing(server, tmp_path):
    url, _ = server
    dest = tmp_path / "out" / "events.h5"
    with pytest.raises(InputError, match="field 'checksum': sha256 mismatch: expected 0{64}, got"):
        ensure(f"{url}/events.h5", dest, "0" * 64)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_publisher_md5_instead_of_sha256(server, tmp_path):
    """Zenodo publishes md5: `checksum: md5:<hex>` is verified like a sha256."""
    url, payload = server
    dest = tmp_path / "events.h5"
    ensure(f"{url}/events.h5", dest, checksum="md5:" + hashlib.md5(payload).hexdigest())
    assert dest.read_bytes() == payload
    with pytest.raises(InputError, match="field 'checksum': md5 mismatch"):
        ensure(f"{url}/events.h5", tmp_path / "y.h5", checksum="md5:" + "0" * 32, retries=0)
    assert not (tmp_path / "y.h5").exists()
    with pytest.raises(InputError, match="checksum 'md5:123' is not one of"):
        ensure(f"{url}/events.h5", tmp_path / "y.h5", checksum="md5:123")


def test_missing_url_and_missing_checksum(server, tmp_path):
    url, _ = server
    with pytest.raises(InputError, match="download failed"):
        ensure(f"{url}/absent.h5", tmp_path / "x.h5", "0" * 64)
    with pytest.raises(InputError, match="sha256"):
        ensure(f"{url}/events.h5", tmp_path / "x.h5", "")
    assert not (tmp_path / "x.h5").exists()


def test_download_rule_feeds_the_pipeline(server, tmp_path, run_snakemake):
    """The `download` source end to end: Snakemake fetches the LHCO features
    file from the (local) server, verifies it and prepares the AD table."""
    from colliderflow.data import lhco

    url, _ = server
    www = tmp_path / "www"
    lhco.write_toy_features(www / "features.h5", lhco.generate_toy_features(3000, 300, seed=2))
    sha = hashlib.sha256((www / "features.h5").read_bytes()).hexdigest()
    cfg = tmp_path / "download.yaml"
    cfg.write_text(f"data:\n  lhco:\n    source: download\n    download:\n      url: {url}/features.h5\n"
                   f"      sha256: '{sha}'\n")
    wd = tmp_path / "wd"
    run_snakemake(wd, "resources/lhco/download/events.h5", configfiles=[REPO / "config/tiers/smoke.yaml", cfg])
    assert (wd / "resources/lhco/download/events.h5").exists()
    cfg.write_text(cfg.read_text().replace(sha, "f" * 64))
    proc = run_snakemake(wd, "resources/lhco/download/events.h5", "--forceall",
                         configfiles=[REPO / "config/tiers/smoke.yaml", cfg], check=False)
    assert proc.returncode != 0
    assert "sha256 mismatch" in (wd / "logs/data/lhco_download.log").read_text()
    assert not (wd / "resources/lhco/download/events_anomalydetection_v2.features.h5").exists()
