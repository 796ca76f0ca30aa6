"""Remote inputs: HTTP(S) downloads with the publisher's checksum, retries
with back-off and a timeout, and file lists (one URL per line, as CERN Open
Data publishes ``*_file_index.txt``). XRootD (``root://``) files are not
downloaded: uproot streams the branches it needs through fsspec-xrootd.

Every failure is one :class:`InputError` line naming the URL, and a failed
download leaves no file behind (:func:`colliderflow.io.atomic_path`).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from ..io import atomic_path

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)
CHUNK = 1 << 20
#: algorithm -> hex digits of its digest
ALGORITHMS = {"adler32": 8, "md5": 32, "sha256": 64}
URL_RE = re.compile(r"^(https?|root)://[A-Za-z0-9._~:/?#@!$&'()*+,;=%\[\]-]+$")


@dataclass(frozen=True)
class Checksum:
    """``algo:hexdigest`` as publishers write it (CERN Open Data: adler32, Zenodo: md5)."""

    algo: str
    hexdigest: str

    @classmethod
    def parse(cls, text: str, where: str, field: str) -> Checksum:
        algo, sep, digest = str(text).strip().partition(":")
        algo, digest = algo.lower(), digest.lower()
        if not sep or algo not in ALGORITHMS or not re.fullmatch(f"[0-9a-f]{{{ALGORITHMS.get(algo, 0)}}}", digest):
            raise InputError(where, field, f"checksum {text!r} is not one of "
                             + ", ".join(f"{a}:<{n} hex digits>" for a, n in ALGORITHMS.items()))
        return cls(algo, digest)

    def hasher(self) -> _Adler32 | hashlib._Hash:
        return _Adler32() if self.algo == "adler32" else hashlib.new(self.algo)

    def __str__(self) -> str:
        return f"{self.algo}:{self.hexdigest}"


class _Adler32:
    """hashlib-like adler32 (zlib's, as XRootD and CERN Open Data compute it)."""

    def __init__(self) -> None:
        self.value = 1

    def update(self, data: bytes) -> None:
        self.value = zlib.adler32(data, self.value)

    def hexdigest(self) -> str:
        return f"{self.value & 0xFFFFFFFF:08x}"


def file_checksum(path: str | Path, algo: str) -> str:
    h = Checksum(algo, "0" * ALGORITHMS[algo]).hasher()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def check_url(url: str, where: str, field: str, schemes: Iterable[str]) -> str:
    url = str(url).strip()
    schemes = tuple(schemes)
    if not URL_RE.match(url) or url.split("://", 1)[0] not in schemes:
        raise InputError(where, field, f"{url!r} is not a {'/'.join(schemes)} URL (RFC 3986 characters only)")
    return url


def _session():
    import requests

    s = requests.Session()
    s.headers["User-Agent"] = "colliderflow"
    return s


def _get(url: str, timeout: float, retries: int, backoff: float,
         consume: Callable[[requests.Response], None]) -> None:
    """GET ``url`` and hand the streamed response to ``consume``; retry
    connection errors, timeouts, truncated bodies and 5xx answers
    ``retries`` times (back-off ``backoff * 2**k`` s), never a 4xx."""
    import requests

    last = ""
    for attempt in range(retries + 1):
        if attempt:
            wait = backoff * 2 ** (attempt - 1)
            log.warning("%s: %s; retry %d/%d in %.1f s", url, last, attempt, retries, wait)
            time.sleep(wait)
        try:
            with _session().get(url, stream=True, timeout=(timeout, timeout)) as resp:
                if resp.status_code >= 400:
                    last = f"HTTP {resp.status_code} {resp.reason}"
                    if resp.status_code < 500:
                        break
                    continue
                consume(resp)
                return
        except (requests.Timeout, TimeoutError) as exc:
            last = f"timed out after {timeout:g} s ({type(exc).__name__})"
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, ConnectionError) as exc:
            if "timed out" in str(exc):  # a read timeout inside the body arrives as a ConnectionError
                last = f"timed out after {timeout:g} s (no data)"
            elif isinstance(exc, requests.exceptions.ChunkedEncodingError) or "IncompleteRead" in str(exc):
                last = f"connection dropped mid-file ({type(exc).__name__}: {str(exc)[:160]})"
            else:
                last = f"connection failed ({type(exc).__name__}: {str(exc)[:160]})"
        except _Truncated as exc:
            last = str(exc)
    tries = f" after {retries + 1} attempts" if retries else ""
    raise InputError(url, None, f"download failed{tries}: {last}")


class _Truncated(Exception):
    pass


def fetch(url: str, dest: str | Path, checksum: Checksum | None = None, timeout: float = 60.0, retries: int = 3,
          backoff: float = 1.0) -> Path:
    """Download ``url`` to ``dest`` and verify ``checksum`` (when given).

    Nothing is left at ``dest`` unless the whole file arrived with the
    expected checksum; an existing ``dest`` with the right checksum is kept."""
    dest = Path(dest)
    if dest.exists() and checksum is not None and file_checksum(dest, checksum.algo) == checksum.hexdigest:
        return dest
    log.info("downloading %s -> %s", url, dest)
    with atomic_path(dest) as tmp:
        def consume(resp: requests.Response) -> None:
            h = checksum.hasher() if checksum else None
            n = 0
            with open(tmp, "wb") as out:
                for block in resp.iter_content(CHUNK):
                    out.write(block)
                    n += len(block)
                    if h is not None:
                        h.update(block)
            expected = resp.headers.get("Content-Length")
            if expected is not None and int(expected) != n and "Content-Encoding" not in resp.headers:
                raise _Truncated(f"connection dropped mid-file ({n} of {expected} bytes)")
            if h is not None and h.hexdigest() != checksum.hexdigest:
                raise InputError(url, "checksum", f"{checksum.algo} mismatch: expected {checksum.hexdigest}, "
                                 f"got {h.hexdigest()}")

        _get(url, timeout, retries, backoff, consume)
    return dest


def fetch_text(url: str, timeout: float = 60.0, retries: int = 3, backoff: float = 1.0) -> str:
    """A small text resource (a file list) over HTTP(S)."""
    parts: list[bytes] = []

    def consume(resp: requests.Response) -> None:
        parts.clear()
        for block in resp.iter_content(CHUNK):
            parts.append(block)
            if sum(map(len, parts)) > 64 << 20:
                raise InputError(url, None, "file list larger than 64 MiB")
        expected = resp.headers.get("Content-Length")
        if expected is not None and int(expected) != sum(map(len, parts)) and "Content-Encoding" not in resp.headers:
            raise _Truncated(f"connection dropped mid-file ({sum(map(len, parts))} of {expected} bytes)")

    _get(url, timeout, retries, backoff, consume)
    try:
        return b"".join(parts).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(url, None, f"file list is not UTF-8 text ({exc.reason})") from None


def parse_file_list(text: str, where: str, schemes: Iterable[str]) -> list[tuple[str, str | None]]:
    """(URL, publisher checksum or None) of each file of a listing: plain
    text with one URL per line (blank lines and ``#`` comments skipped; CERN
    Open Data's ``*_file_index.txt``), or JSON: a list of entries with
    ``uri`` and ``checksum`` (CERN Open Data's ``*_file_index.json``), or an
    object whose ``files`` (or ``metadata.files``) holds such entries, or
    Zenodo's with ``links.self`` or ``links.content`` and ``checksum``."""
    import json

    schemes = tuple(schemes)
    stripped = text.lstrip()
    if not stripped.startswith(("[", "{")):
        urls = []
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if line and not line.startswith("#"):
                urls.append((check_url(line, where, f"line {n}", schemes), None))
        return urls
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(where, None, f"file list is neither one URL per line nor JSON ({exc.msg}, line {exc.lineno})"
                         ) from None
    if isinstance(doc, dict):
        doc = doc.get("files", doc.get("metadata", {}).get("files") if isinstance(doc.get("metadata"), dict) else None)
    if not isinstance(doc, list):
        raise InputError(where, "files", "JSON file list has no list of files (expected [..], files or metadata.files)")
    out = []
    for i, entry in enumerate(doc):
        links = entry.get("links") if isinstance(entry, dict) else None
        url = entry.get("uri") if isinstance(entry, dict) else None
        if url is None and isinstance(links, dict):
            url = links.get("content", links.get("self"))
        if not isinstance(url, str):
            raise InputError(where, f"files[{i}]", "entry has no uri (nor links.self / links.content)")
        checksum = entry.get("checksum")
        if checksum is not None:
            Checksum.parse(checksum, where, f"files[{i}].checksum")
        out.append((check_url(url, where, f"files[{i}].uri", schemes), checksum))
    return out


def dataset_entries(remote: object, source: str, field: str = "data.dimuon.remote") -> list[tuple[str, str | None]]:
    """(URL, checksum) of each file of a remote dataset (``remote``: its
    config section, a mapping or dataclass): ``urls`` then the files of
    ``file_list`` (a local file or an http(s) URL). The checksum is the
    configured one (``checksums``, keyed by URL or file name), else the file
    list's, else None."""
    def get(key: str, default: object) -> object:
        return _field(remote, key, default)

    schemes = ("http", "https") if source == "http" else ("root",)
    entries = [(check_url(u, "config", f"{field}.urls", schemes), None) for u in get("urls", ())]
    listing = str(get("file_list", "") or "")
    if listing:
        if re.match(r"^https?://", listing):
            text = fetch_text(check_url(listing, "config", f"{field}.file_list", ("http", "https")),
                              timeout=float(get("timeout", 60.0)), retries=int(get("retries", 3)),
                              backoff=float(get("backoff", 1.0)))
        else:
            try:
                text = Path(listing).read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(listing, f"{field}.file_list", f"cannot be read ({exc})") from None
        entries += parse_file_list(text, listing, schemes)
    if not entries:
        raise InputError("config", f"{field}.urls", f"source {source} needs {field}.urls or {field}.file_list")
    configured = dict(get("checksums", {}) or {})
    out = []
    for url, listed in entries:
        mine = checksum_for(configured, url, f"{field}.checksums")
        out.append((url, str(mine) if mine else listed))
    return out


def _field(section: object, key: str, default: object = None) -> object:
    return section.get(key, default) if isinstance(section, dict) else getattr(section, key, default)


def dataset_parts(section: object, field: str = "data.dimuon") -> list[tuple[str, str]]:
    """(input, checksum or "") of each file of a dataset whose source is
    ingested one job per file: the local ``files`` (`file`) or the URLs of
    ``remote`` (`http`, `xrootd`); an empty list for other sources.
    ``section``: the dataset's config section (mapping or dataclass). The
    workflow calls it when it builds the DAG, each ingestion job again for
    its own file (a remote file list is fetched by both)."""
    source, rem = _field(section, "source"), _field(section, "remote", {}) or {}
    if source == "file":
        sums = dict(_field(rem, "checksums", {}) or {})
        return [(f, str(checksum_for(sums, f, f"{field}.remote.checksums") or ""))
                for f in _field(section, "files", ())]
    if source in ("http", "xrootd"):
        return [(u, c or "") for u, c in dataset_entries(rem, source, f"{field}.remote")]
    return []


def dataset_urls(remote: object, source: str, field: str = "data.dimuon.remote") -> list[str]:
    return [u for u, _ in dataset_entries(remote, source, field)]


def file_name(url: str) -> str:
    """The last path segment of a URL (query and fragment dropped)."""
    from urllib.parse import urlsplit

    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


def checksum_for(checksums: dict | None, url: str, field: str = "data.dimuon.remote.checksums") -> Checksum | None:
    """The configured checksum of ``url`` (key: the URL or its file name)."""
    table = checksums or {}
    text = table.get(url, table.get(file_name(url)))
    return None if text is None else Checksum.parse(text, url, field)
