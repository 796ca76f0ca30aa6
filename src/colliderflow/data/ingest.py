"""Per-file NanoAOD ingestion: one job per input file (local, HTTP or
XRootD) writes the collections a study reads as a slim NanoAOD file; a merge
step concatenates the parts in input order. A 1,000-file dataset is 1,000
independent jobs, grouped as the cluster profile says.

A file that stays unreachable either fails the job naming its URL
(``on_unreachable: fail``) or, with ``skip``, yields an empty part whose
report names the file and the reason; the merge records every skipped file.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import awkward as ak
import numpy as np

from ..errors import InputError
from ..io import atomic_path
from . import nanoaod, remote

log = logging.getLogger(__name__)

#: dtypes of an empty part (NanoAOD's own: float32 kinematics, int32 charge)
_EMPTY_DTYPES = {"charge": np.int32, "pdgId": np.int32}


def _xrootd_env(timeout: float, retries: int) -> None:
    """XRootD client timeouts (seconds) and connection retries, before the client library loads."""
    os.environ.setdefault("XRD_CONNECTIONWINDOW", str(max(1, int(timeout))))
    os.environ.setdefault("XRD_REQUESTTIMEOUT", str(max(1, int(timeout))))
    os.environ.setdefault("XRD_STREAMTIMEOUT", str(max(1, int(timeout))))
    os.environ.setdefault("XRD_CONNECTIONRETRY", str(max(1, retries + 1)))


def _read(part: str, source: str, collections: Mapping, *, checksum: remote.Checksum | None, timeout: float,
          retries: int, backoff: float, scratch: Path) -> tuple[dict, str | None]:
    """The collections of one file and the checksum verified (if any)."""
    if source == "http":
        # whole-file download (the publisher's checksum covers the whole file), read, then deleted
        with tempfile.TemporaryDirectory(prefix=".fetch.", dir=scratch) as tmp:
            local = remote.fetch(part, Path(tmp) / (remote.file_name(part) or "file.root"), checksum,
                                 timeout=timeout, retries=retries, backoff=backoff)
            try:
                return nanoaod.read_nanoaod(local, dict(collections)), (str(checksum) if checksum else None)
            except InputError as exc:
                raise InputError(part, exc.field, exc.problem) from None
    if source == "xrootd":
        _xrootd_env(timeout, retries)
        # streamed: uproot reads only the baskets of the branches asked for
        return nanoaod.read_nanoaod(part, dict(collections)), None
    if checksum is not None:
        got = remote.file_checksum(part, checksum.algo)
        if got != checksum.hexdigest:
            raise InputError(part, "checksum", f"{checksum.algo} mismatch: expected {checksum.hexdigest}, got {got}")
    return nanoaod.read_nanoaod(part, dict(collections)), (str(checksum) if checksum else None)


def _empty(collections: Mapping) -> dict:
    out = {}
    for coll, fields in nanoaod._resolve(dict(collections)).items():
        flat = ak.zip({f: np.zeros(0, _EMPTY_DTYPES.get(f, np.float32)) for f in fields})
        out[coll] = ak.unflatten(flat, np.zeros(0, np.int64))
    return out


def ingest(part: str, dest: str | Path, report: str | Path, *, source: str, collections: Mapping | None = None,
           checksum: remote.Checksum | None = None, timeout: float = 60.0, retries: int = 3, backoff: float = 1.0,
           on_unreachable: str = "fail") -> dict:
    """One input file -> a slim NanoAOD ``dest`` with ``collections`` (default
    the muons) and a JSON ``report``: source, events, checksum, skipped."""
    collections = dict(collections or {"Muon": None})
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    skipped = None
    try:
        events, verified = _read(part, source, collections, checksum=checksum, timeout=timeout, retries=retries,
                                 backoff=backoff, scratch=dest.parent)
    except InputError as exc:
        if on_unreachable != "skip" or exc.field == "checksum":
            raise
        log.warning("skipping %s (on_unreachable: skip): %s", part, exc)
        events, verified, skipped = _empty(collections), None, str(exc)
    n = len(next(iter(events.values())))
    info = {"source": part, "events": n, "checksum": verified, "skipped": skipped}
    nanoaod.write_nanoaod(dest, {c: events[c] for c in collections})
    with atomic_path(report) as tmp:
        Path(tmp).write_text(json.dumps(info, indent=1) + "\n")
    log.info("%s: %d events -> %s", part, n, dest)
    return info


def merge(parts: list[str], reports: list[str], dest: str | Path, report: str | Path,
          collections: Mapping | None = None) -> dict:
    """Concatenate the parts in order into ``dest``; ``report`` lists each
    part's source and events and the files skipped."""
    collections = dict(collections or {"Muon": None})
    infos = [json.loads(Path(r).read_text()) for r in reports]
    arrays: dict[str, list] = {c: [] for c in collections}
    for p, info in zip(parts, infos):
        if info["skipped"]:
            continue
        events = nanoaod.read_nanoaod(p, collections)
        for c in collections:
            arrays[c].append(events[c])
    if not any(arrays.values()):
        raise InputError(", ".join(i["source"] for i in infos), None, "no input file could be read (all skipped)")
    merged = {c: ak.concatenate(v) for c, v in arrays.items()}
    nanoaod.write_nanoaod(dest, merged)
    out = {"files": infos, "events": int(sum(i["events"] for i in infos)),
           "skipped": [{"source": i["source"], "reason": i["skipped"]} for i in infos if i["skipped"]]}
    with atomic_path(report) as tmp:
        Path(tmp).write_text(json.dumps(out, indent=1) + "\n")
    return out
