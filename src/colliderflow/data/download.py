"""Downloads of the real datasets: stream to a temporary file, verify the
sha256, rename into place. Used only by the ``download`` data source."""

from __future__ import annotations

import hashlib
import logging
import urllib.request
from pathlib import Path

from ..errors import InputError
from ..io import atomic_path

log = logging.getLogger(__name__)
CHUNK = 1 << 20


def sha256sum(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def ensure(url: str, dest: str | Path, sha256: str, timeout: float = 60.0, progress: bool = True) -> Path:
    """Make ``dest`` hold the file at ``url`` with checksum ``sha256``.

    An existing ``dest`` with the right checksum is kept (no network). A
    download whose checksum differs raises :class:`InputError` and leaves
    nothing at ``dest``.
    """
    dest = Path(dest)
    if not sha256 or len(sha256) != 64:
        raise InputError(None, "sha256", f"a 64-hex-digit sha256 is required for {url}")
    if dest.exists() and sha256sum(dest) == sha256.lower():
        log.info("%s already present with the right checksum", dest)
        return dest
    log.info("downloading %s -> %s", url, dest)
    try:
        resp = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 (URL from config)
    except Exception as exc:
        raise InputError(url, None, f"download failed ({type(exc).__name__}: {exc})") from None
    total = int(resp.headers.get("Content-Length") or 0) or None
    h = hashlib.sha256()
    with atomic_path(dest) as tmp, resp:
        from tqdm import tqdm

        with open(tmp, "wb") as out, tqdm(total=total, unit="B", unit_scale=True, disable=not progress,
                                          desc=dest.name) as bar:
            for block in iter(lambda: resp.read(CHUNK), b""):
                out.write(block)
                h.update(block)
                bar.update(len(block))
        got = h.hexdigest()
        if got != sha256.lower():
            raise InputError(url, "sha256", f"checksum mismatch: expected {sha256.lower()}, got {got}")
    return dest
