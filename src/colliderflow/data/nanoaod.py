"""CMS NanoAOD: one reader for NanoAOD files (TTree or RNTuple, real or toy),
a writer used by the toy generators, and the flat per-event ML table.

Reading goes through uproot into awkward arrays, one record array per
collection (``events["Muon"].pt`` ...). Two older CMS tutorial layouts in
shared/data are adapted to the same collections: the "HEP tutorial"
ntuples (``events`` tree, ``NMuon``, ``Muon_Px`` ...) and the Z->mumu
candidates (``events`` tree, ``px1`` ... ``Q2``).
"""

from __future__ import annotations

import contextlib
import datetime
import types
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from unittest import mock

import awkward as ak
import numpy as np
import uproot

from ..errors import InputError

if TYPE_CHECKING:
    import pandas as pd
    from uproot.behaviors.RNTuple import RNTuple
    from uproot.behaviors.TTree import TTree

    Tree = TTree | RNTuple

#: Default fields read per collection (NanoAOD names).
DEFAULT_FIELDS = {
    "Muon": ["pt", "eta", "phi", "mass", "charge"],
    "Electron": ["pt", "eta", "phi", "mass", "charge"],
    "Jet": ["pt", "eta", "phi", "mass", "btagDeepFlavB"],
    "MET": ["pt", "phi"],
    "GenJet": ["pt", "eta", "phi", "mass"],
}
#: Fields added to a collection's defaults when the file has the partner collection.
#: (Jet_genJetIdx points into GenJet; read it whenever GenJet is asked for.)
LINKS = {"Jet": ("GenJet", "genJetIdx")}
#: Collections stored as one value per event (``MET_pt``) rather than jagged.
SINGLETONS = {"MET", "PFMET", "PuppiMET", "GenMET", "PV"}
#: Renamed collections: NanoAOD v15 (Run 3) stores the PF MET as ``PFMET_*``.
ALIASES = {"MET": ("PFMET",)}


def _open_tree(path: str | Path) -> tuple[Tree, str]:
    # root:// and http(s):// URLs are streamed by uproot (fsspec-xrootd, aiohttp): only the branches read travel
    if "://" not in str(path):
        path = Path(path)
        if not path.exists():
            raise InputError(path, None, "file does not exist")
    try:
        f = uproot.open(str(path))
    except Exception as exc:
        raise InputError(path, None, f"cannot be opened as ROOT ({type(exc).__name__}: {exc})") from None
    for name in ("Events", "events"):
        if name in f:
            try:
                return f[name], name
            except Exception as exc:
                raise InputError(path, name, f"tree cannot be read ({type(exc).__name__}: {exc})") from None
    raise InputError(path, "Events", f"no Events tree (keys: {f.keys(cycle=False)})")


def _arrays(tree: Tree, path: str | Path, names: list[str], entry_stop: int | None) -> ak.Array:
    """The branches ``names``; :class:`InputError` naming the file and branch
    when one is missing, unreadable, or holds NaN or inf."""
    try:
        arrays = tree.arrays(names, entry_stop=entry_stop)
    except uproot.KeyInFileError as exc:
        raise InputError(path, str(exc.key), "branch missing") from None
    except Exception as exc:
        raise InputError(path, names[0] if names else None,
                         f"branches cannot be read, file truncated or corrupt? ({type(exc).__name__}: "
                         f"{str(exc)[:200]})") from None
    for name in names:
        values = ak.to_numpy(ak.flatten(arrays[name], axis=None))
        if values.dtype.kind == "f":
            bad = ~np.isfinite(values)
            if bad.any():
                raise InputError(path, name, f"{int(bad.sum())} value(s) are NaN or inf")
    return arrays


def _from_cartesian(px: ak.Array | np.ndarray, py: ak.Array | np.ndarray, pz: ak.Array | np.ndarray,
                    e: ak.Array | np.ndarray) -> tuple[ak.Array | np.ndarray, ...]:
    pt = np.hypot(px, py)
    p = np.sqrt(px**2 + py**2 + pz**2)
    eta = np.arcsinh(pz / ak.where(pt > 0, pt, 1e-9))
    phi = np.arctan2(py, px)
    mass = np.sqrt(np.maximum(e**2 - p**2, 0))
    return pt, eta, phi, mass


def _resolve(collections: dict[str, list[str] | None] | list[str] | None) -> dict[str, list[str]]:
    """``{name: [fields]}`` from a dict (a ``None`` value means the defaults)
    or from a list of collection names (defaults for each). The defaults of a
    collection include its link to a requested partner (``Jet_genJetIdx``
    when ``GenJet`` is requested too)."""
    if collections is None:
        return {"Muon": DEFAULT_FIELDS["Muon"]}
    if not isinstance(collections, dict):
        collections = {name: None for name in collections}
    out = {}
    for name, fields in collections.items():
        if fields is None:
            if name not in DEFAULT_FIELDS:
                raise InputError(None, name,
                                 f"no default fields for this collection (known: {sorted(DEFAULT_FIELDS)})")
            fields = list(DEFAULT_FIELDS[name])
            partner, link = LINKS.get(name, (None, None))
            if partner in collections and link not in fields:
                fields.append(link)
        out[name] = list(fields)
    return out


def read_nanoaod(path: str | Path, collections: dict[str, list[str] | None] | list[str] | None = None,
                 entry_stop: int | None = None) -> dict:
    """Read ``collections`` ({name: [fields]}) from a NanoAOD-like file.

    ``collections`` may also be a list of names (``["Jet", "GenJet"]``) or
    map a name to ``None``: then the collection's :data:`DEFAULT_FIELDS` are
    read, plus the index linking it to a requested partner collection
    (``Jet_genJetIdx`` with ``GenJet``). Default: the muons.

    Returns ``{name: awkward record array}``; jagged collections are
    per-event lists, singletons (MET) one record per event. A missing branch
    raises :class:`InputError` naming the file and the branch.
    """
    collections = _resolve(collections)
    tree, tname = _open_tree(path)
    return _read_tree(tree, tname, path, collections, entry_stop)


def _read_tree(tree: Tree, tname: str, path: str | Path, collections: dict[str, list[str]], entry_stop: int | None,
               keys: set[str] | None = None) -> dict[str, ak.Array]:
    """:func:`read_nanoaod` on an already opened tree."""
    keys = set(tree.keys()) if keys is None else keys
    if tname == "events" and "px1" in keys:
        return _read_zmumu(tree, path, collections, entry_stop)
    if tname == "events" and any(k.startswith("N") for k in keys):
        return _read_tutorial(tree, path, collections, entry_stop)
    out = {}
    for coll, fields in collections.items():
        stored = coll
        if f"{coll}_{fields[0]}" not in keys:
            stored = next((a for a in ALIASES.get(coll, ()) if f"{a}_{fields[0]}" in keys), coll)
        names = [f"{stored}_{f}" for f in fields]
        for n in names:
            if n not in keys:
                raise InputError(path, n, "branch missing")
        arr = _arrays(tree, path, names, entry_stop)
        out[coll] = ak.zip({f: arr[n] for f, n in zip(fields, names)},
                           depth_limit=None if coll not in SINGLETONS else 1)
    return out


def _read_tutorial(tree: Tree, path: str | Path, collections: dict[str, list[str]],
                   entry_stop: int | None) -> dict[str, ak.Array]:
    """HEP-tutorial ntuple: Muon_Px/Py/Pz/E, Muon_Charge, MET_px/py."""
    out = {}
    for coll, fields in collections.items():
        if coll in SINGLETONS:
            a = _arrays(tree, path, [f"{coll}_px", f"{coll}_py"], entry_stop)
            vals = {"pt": np.hypot(a[f"{coll}_px"], a[f"{coll}_py"]),
                    "phi": np.arctan2(a[f"{coll}_py"], a[f"{coll}_px"])}
        else:
            a = _arrays(tree, path, [f"{coll}_{q}" for q in ("Px", "Py", "Pz", "E")], entry_stop)
            pt, eta, phi, mass = _from_cartesian(*(a[f"{coll}_{q}"] for q in ("Px", "Py", "Pz", "E")))
            vals = {"pt": pt, "eta": eta, "phi": phi, "mass": mass}
            if "charge" in fields:
                vals["charge"] = _arrays(tree, path, [f"{coll}_Charge"], entry_stop)[f"{coll}_Charge"]
        missing = [f for f in fields if f not in vals]
        if missing:
            raise InputError(path, f"{coll}_{missing[0]}", "branch missing (not in this tutorial layout)")
        out[coll] = ak.zip({f: vals[f] for f in fields})
    return out


def _read_zmumu(tree: Tree, path: str | Path, collections: dict[str, list[str]],
                entry_stop: int | None) -> dict[str, ak.Array]:
    """CMS 2010 Z->mumu candidates: two muons per row (px1..E1, Q1, px2..)."""
    if set(collections) - {"Muon"}:
        raise InputError(path, sorted(set(collections) - {"Muon"})[0], "collection not in the Z->mumu layout")
    names = [f"{q}{i}" for i in (1, 2) for q in ("px", "py", "pz", "E", "Q")]
    a = _arrays(tree, path, names, entry_stop)
    per = []
    for i in (1, 2):
        pt, eta, phi, mass = _from_cartesian(*(np.asarray(a[f"{q}{i}"]) for q in ("px", "py", "pz", "E")))
        per.append({"pt": pt, "eta": eta, "phi": phi, "mass": np.full_like(pt, 0.10566),
                    "charge": np.asarray(a[f"Q{i}"])})
    fields = collections["Muon"]
    stacked = {f: ak.from_regular(np.stack([per[0][f], per[1][f]], axis=1)) for f in fields}
    return {"Muon": ak.zip(stacked)}


#: the creation/modification time stamped into written ROOT files (ROOT's datime epoch), so the
#: same events give the same bytes; override with SOURCE_DATE_EPOCH (reproducible-builds.org)
ROOT_EPOCH = datetime.datetime(1995, 1, 1)


def _file_uuid(name: str) -> Callable[[], uuid.UUID]:
    """uproot's ``uuid_function``: name-based UUIDs (uuid5 of the file name and a counter) instead of uuid1
    (host and time), so a rewrite of the same file carries the same UUIDs."""
    count = iter(range(1 << 30))
    return lambda: uuid.uuid5(uuid.NAMESPACE_URL, f"colliderflow:{name}:{next(count)}")


@contextlib.contextmanager
def _stable_root_stamps() -> Iterator[None]:
    """uproot stamps ``datetime.datetime.now()`` into the file header, keys and
    directories and has no option for it: pin its writer modules' clock to
    :data:`ROOT_EPOCH` (or SOURCE_DATE_EPOCH) while a file is written.
    tests/data/test_toy_nanoaod.py checks that two writes give the same bytes,
    so an uproot that stamps time elsewhere is caught."""
    import importlib
    import os

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    stamp = datetime.datetime.fromtimestamp(int(epoch), datetime.UTC).replace(tzinfo=None) if epoch else ROOT_EPOCH

    class _Pinned(datetime.datetime):
        @classmethod
        def now(cls, tz: datetime.tzinfo | None = None) -> datetime.datetime:
            return stamp

    clock = types.SimpleNamespace(datetime=_Pinned)
    with contextlib.ExitStack() as stack:
        for name in ("_cascade", "writable", "_cascadetree", "_cascadentuple"):
            module = importlib.import_module(f"uproot.writing.{name}")
            if hasattr(module, "datetime"):
                stack.enter_context(mock.patch.object(module, "datetime", clock))
        yield


def write_nanoaod(path: str | Path, collections: dict, extra: dict | None = None) -> None:
    """Write awkward collections as a NanoAOD ``Events`` TTree: jagged
    collection ``X`` becomes ``nX`` + ``X_field`` branches, singletons
    ``X_field``; ``extra`` holds flat per-event branches. Atomic."""
    from ..io import atomic_path

    branches = {}
    for coll, arr in collections.items():
        if coll in SINGLETONS:
            for f in arr.fields:
                branches[f"{coll}_{f}"] = ak.to_numpy(arr[f])
        else:
            branches[coll] = arr  # uproot writes nColl and Coll_field
    for k, v in (extra or {}).items():
        branches[k] = np.asarray(v)
    with atomic_path(path) as tmp, _stable_root_stamps():
        with uproot.recreate(tmp, uuid_function=_file_uuid(Path(path).name)) as f:
            types = {k: (v if isinstance(v, ak.Array) else np.asarray(v)) for k, v in branches.items()}
            tree = f.mktree("Events", {k: v.type if isinstance(v, ak.Array) else v.dtype for k, v in types.items()},
                            counter_name=lambda counted: "n" + counted,
                            field_name=lambda outer, inner: inner if outer == "" else f"{outer}_{inner}")
            tree.extend(types)


def flat_table(events: dict, n_objects: dict[str, int], fields: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """Per-event fixed-size table for ML: the top-``n`` objects of each jagged
    collection (in stored order, i.e. pT-ordered in NanoAOD), zero-padded,
    with a ``<Coll><i>_mask`` column; singleton collections as-is.

    Column names: ``Jet0_pt``, ``Jet0_mask``, ..., ``MET_pt``.
    Returns a pandas DataFrame.
    """
    import pandas as pd

    cols = {}
    for coll, arr in events.items():
        flds = (fields or {}).get(coll, arr.fields)
        if coll in SINGLETONS:
            for f in flds:
                cols[f"{coll}_{f}"] = ak.to_numpy(arr[f]).astype(float)
            continue
        n = n_objects.get(coll, 0)
        if n == 0:
            continue
        counts = ak.to_numpy(ak.num(arr, axis=1))
        for f in flds:
            padded = ak.to_numpy(ak.fill_none(ak.pad_none(arr[f], n, clip=True), 0)).astype(float)
            for i in range(n):
                cols[f"{coll}{i}_{f}"] = padded[:, i]
        for i in range(n):
            cols[f"{coll}{i}_mask"] = (counts > i).astype(float)
    return pd.DataFrame(cols)


def dimuon_mass(muons: ak.Array, opposite_charge: bool = True) -> np.ndarray:
    """Invariant mass of the two leading muons in events with >= 2 muons
    (opposite charge if asked). Returns a numpy array (GeV)."""
    import vector

    vector.register_awkward()
    two = muons[ak.num(muons, axis=1) >= 2]
    mu = ak.zip({"pt": two.pt, "eta": two.eta, "phi": two.phi, "mass": two.mass}, with_name="Momentum4D")
    m = (mu[:, 0] + mu[:, 1]).mass
    if opposite_charge:
        if "charge" not in two.fields:
            raise InputError(None, "Muon_charge", "needed for the opposite-charge selection")
        m = m[two.charge[:, 0] * two.charge[:, 1] < 0]
    return ak.to_numpy(m)


#: Objects of the per-event ML table and their fields (missing ones are zero).
TABLE_FIELDS = {
    "Jet": ["pt", "eta", "phi", "mass", "btagDeepFlavB"],
    "Muon": ["pt", "eta", "phi", "mass", "charge"],
    "Electron": ["pt", "eta", "phi", "mass", "charge"],
    "MET": ["pt", "phi"],
}
#: Stand-ins for ``MET`` in NanoAOD versions without it (v15 keeps PuppiMET/PFMET).
MET_ALIASES = ("MET", "PuppiMET", "PFMET")
#: Generator particles that count as a decay "parent" in the truth labels:
#: top quarks and the intermediate scalar Y of the toy X -> YY -> 4j models.
PARENT_PDG_IDS = (6, 9000005)


def _try_read(tree: Tree, tname: str, keys: set[str], path: str | Path, coll: str, fields: list[str],
              entry_stop: int | None) -> ak.Array | None:
    """``coll`` with the ``fields`` the file has (the rest None); None if the
    file lacks the collection."""
    if tname == "Events":  # NanoAOD layout: look the branches up
        have = [f for f in fields if f"{coll}_{f}" in keys]
        needed = [f for f in fields if f in ("pt", "pdgId", "genPartIdxMother", "genPartIdx")]
        if not have or any(f not in have for f in needed):
            return None
        return _read_tree(tree, tname, path, {coll: have}, entry_stop, keys)[coll]
    for subset in (fields, [f for f in fields if f in ("pt", "eta", "phi", "mass")]):
        if not subset:
            continue
        try:
            return _read_tree(tree, tname, path, {coll: subset}, entry_stop, keys)[coll]
        except (InputError, KeyError):
            continue
    return None


def truth_ancestor(genpart: ak.Array, gen_idx: ak.Array, pdg_ids: Sequence[int] = PARENT_PDG_IDS,
                   max_depth: int = 12) -> ak.Array:
    """Index (into ``GenPart``) of the first ancestor of each object whose
    |pdgId| is in ``pdg_ids``, walking ``genPartIdxMother`` up from the
    object's own generator match ``gen_idx`` (jagged, -1 = unmatched).
    -1 where there is none. Objects with equal non-negative values share a
    parent."""
    counts = ak.to_numpy(ak.num(gen_idx, axis=1))
    cur = ak.to_numpy(ak.flatten(gen_idx)).astype(np.int64)
    evt = np.repeat(np.arange(len(counts)), counts)
    ngen = ak.to_numpy(ak.num(genpart.pdgId, axis=1))
    off = np.concatenate([[0], np.cumsum(ngen)])[:-1]
    pdg = np.abs(ak.to_numpy(ak.flatten(genpart.pdgId)))
    mom = ak.to_numpy(ak.flatten(genpart.genPartIdxMother)).astype(np.int64)
    out = np.full(len(cur), -1, np.int64)
    active = (cur >= 0) & (cur < ngen[evt])
    for _ in range(max_depth):
        g = np.where(active, off[evt] + cur, 0)
        hit = active & np.isin(pdg[g] if len(pdg) else np.zeros(len(g), int), pdg_ids)
        out[hit] = cur[hit]
        active &= ~hit
        cur = np.where(active, mom[g] if len(mom) else -1, -1)
        active &= (cur >= 0) & (cur < ngen[evt])
        if not active.any():
            break
    return ak.unflatten(out, counts)


def read_events(path: str | Path, entry_stop: int | None = None, truth: bool = False,
                parent_pdg_ids: Sequence[int] = PARENT_PDG_IDS) -> tuple[dict, list[str]]:
    """The table objects (:data:`TABLE_FIELDS`) of any NanoAOD-like file:
    collections the file lacks come back empty, fields it lacks as zeros, so
    real files (the muon-only DoubleMu excerpt, NanoAOD v7-v15, tutorial
    ntuples) and the toy give the same columns. With ``truth``, jagged
    collections gain ``genPartIdx`` and ``ancestor`` (see
    :func:`truth_ancestor`; -1 where the file has no such truth).

    Returns ``(events, present)`` with the collections found in the file.
    """
    tree, tname = _open_tree(path)
    keys = set(tree.keys())
    events, present = {}, []
    n = None
    for coll, fields in TABLE_FIELDS.items():
        arr = None
        for name in (MET_ALIASES if coll == "MET" else (coll,)):
            arr = _try_read(tree, tname, keys, path, name, fields, entry_stop)
            if arr is not None:
                break
        if arr is not None:
            arr = ak.zip({f: (arr[f] if f in arr.fields else ak.zeros_like(arr.pt)) for f in fields},
                         depth_limit=1 if coll in SINGLETONS else None)
            present.append(coll)
            events[coll] = arr
            n = len(arr)
    if n is None:
        raise InputError(path, "Muon_pt", f"none of the collections {list(TABLE_FIELDS)} found")
    for coll, fields in TABLE_FIELDS.items():
        if coll not in events:
            if coll in SINGLETONS:
                events[coll] = ak.zip({f: np.zeros(n, np.float32) for f in fields}, depth_limit=1)
            else:
                events[coll] = ak.zip({f: ak.unflatten(np.zeros(0, np.float32), np.zeros(n, np.int64))
                                       for f in fields})
    events = {c: events[c] for c in TABLE_FIELDS}  # one column order for every file
    if truth:
        gen = _try_read(tree, tname, keys, path, "GenPart", ["pdgId", "genPartIdxMother"], entry_stop)
        for coll in ("Jet", "Muon", "Electron"):
            arr = events[coll]
            idx = _try_read(tree, tname, keys, path, coll, ["genPartIdx"], entry_stop) if coll in present else None
            idx = (ak.values_astype(idx.genPartIdx, np.int64) if idx is not None
                   else ak.values_astype(ak.zeros_like(arr.pt), np.int64) - 1)
            anc = truth_ancestor(gen, idx, parent_pdg_ids) if gen is not None else idx * 0 - 1
            events[coll] = ak.with_field(ak.with_field(arr, idx, "genPartIdx"), anc, "ancestor")
    return events, present


def event_table(path: str | Path, n_objects: dict[str, int], entry_stop: int | None = None,
                truth: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """:func:`read_events` + :func:`flat_table`: the fixed-size per-event ML
    table of any NanoAOD-like file, the same columns for every source.
    Returns ``(DataFrame, present collections)``."""
    events, present = read_events(path, entry_stop, truth)
    fields = {c: TABLE_FIELDS[c] + (["genPartIdx", "ancestor"] if truth and c != "MET" else [])
              for c in TABLE_FIELDS}
    table = flat_table(events, n_objects, fields)
    bad = ~np.isfinite(table.to_numpy(dtype=float))
    if bad.any():
        raise InputError(path, table.columns[np.where(bad.any(axis=0))[0][0]],
                         f"{int(bad.any(axis=1).sum())} event(s) hold NaN or inf")
    return table, present


def sources(path: str | Path) -> list[str]:
    """The files a merged dataset came from (the report :func:`colliderflow.data.ingest.merge`
    writes beside it: ``muons.root`` -> ``muons.json``), so errors and metrics name the user's files, not the
    merge; any other file is its own source."""
    import json

    report = Path(path).with_suffix(".json")
    if not report.is_file():
        return [str(path)]
    try:
        info = json.loads(report.read_text())
        return [str(i["source"]) for i in info["files"] if not i.get("skipped")] or [str(path)]
    except (OSError, ValueError, KeyError, TypeError):
        return [str(path)]
