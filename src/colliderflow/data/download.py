"""The ``download`` data source: one official file (LHCO R&D, CaloChallenge,
a DoubleMu record) fetched over HTTP(S) by :func:`colliderflow.data.remote.fetch`
(streamed to a temporary file, retries with back-off, a timeout, the checksum
verified before the file is renamed into place).

The checksum is ``sha256`` (64 hex digits) or ``checksum`` as the publisher
gives it (``md5:<hex>`` for Zenodo records, ``adler32:<hex>`` for CERN Open
Data, ``sha256:<hex>``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import InputError
from .remote import Checksum, fetch

CHUNK = 1 << 20


def sha256sum(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def checksum_of(url: str, sha256: str = "", checksum: str = "") -> Checksum:
    """The expected checksum of a download: ``checksum`` (algo:hex) if given, else ``sha256``."""
    if checksum:
        return Checksum.parse(checksum, url, "checksum")
    if not sha256 or len(sha256) != 64:
        raise InputError(None, "sha256", f"a 64-hex-digit sha256 (or checksum: md5:<hex>) is required for {url}")
    return Checksum.parse(f"sha256:{sha256}", url, "sha256")


def ensure(url: str, dest: str | Path, sha256: str = "", checksum: str = "", timeout: float = 60.0,
           retries: int = 3) -> Path:
    """Make ``dest`` hold the file at ``url`` with the expected checksum.

    An existing ``dest`` with the right checksum is kept (no network). A
    download that fails or whose checksum differs raises :class:`InputError`
    (one line naming the URL) and leaves nothing at ``dest``.
    """
    return fetch(url, dest, checksum_of(url, sha256, checksum), timeout=timeout, retries=retries)
