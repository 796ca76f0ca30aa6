#!/usr/bin/env python
"""NanoAOD ingestion rate: colliderflow's reader vs a plain coffea NanoEvents
read of the same columns, on the 100k-event CMS 2012 DoubleMu excerpt.

    python benchmarks/nanoaod_ingest.py [--file PATH] [--repeats 5]

Both read Muon_{pt,eta,phi,mass,charge} fully into memory (coffea in eager
mode, the columns materialised). Prints events/s for each and the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from pathlib import Path

import awkward as ak

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO.parent / "shared/data/cms_opendata/Run2012BC_DoubleMuParked_Muons_first100k.root"
FIELDS = ["pt", "eta", "phi", "mass", "charge"]


def ours(path):
    from colliderflow.data.nanoaod import read_nanoaod

    mu = read_nanoaod(path, {"Muon": FIELDS})["Muon"]
    return len(mu)


def coffea(path):
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    NanoAODSchema.error_missing_event_ids = False  # the 2012 excerpt has no run/event branches
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        events = NanoEventsFactory.from_root({str(path): "Events"}, schemaclass=NanoAODSchema, mode="virtual").events()
        cols = [ak.materialize(events.Muon[f]) for f in FIELDS]
    return len(cols[0])


def timeit(fn, path, repeats):
    fn(path)  # warm the page cache and imports
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = fn(path)
        times.append(time.perf_counter() - t0)
    return n, statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", type=Path, default=DEFAULT)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    a = ap.parse_args()
    if not a.file.exists():
        raise SystemExit(f"{a.file} not found (needs ../shared/data or --file)")
    res = {}
    for name, fn in (("colliderflow (uproot)", ours), ("coffea NanoEvents", coffea)):
        n, t = timeit(fn, a.file, a.repeats)
        res[name] = {"events": n, "seconds": t, "events_per_s": n / t}
        print(f"{name:24s} {n} events in {t:.3f} s  ->  {n / t:,.0f} events/s")
    r = res["colliderflow (uproot)"]["events_per_s"] / res["coffea NanoEvents"]["events_per_s"]
    print(f"ratio colliderflow / coffea: {r:.2f}")
    res["ratio"] = r
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
