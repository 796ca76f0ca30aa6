#!/usr/bin/env python
"""TRANSIT template closure: template vs true SR background (AUC, per-feature figure)."""
import argparse
import json

from colliderflow.cli import run, set_threads
from colliderflow.studies import resonant_ad


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", required=True)
    ap.add_argument("--background", required=True, help="background flow .pt")
    ap.add_argument("--transit", required=True, help="TRANSIT model .pt")
    ap.add_argument("--out", required=True, help="closure JSON")
    ap.add_argument("--figure", required=True, help="template figure (.png; .pdf beside it)")
    ap.add_argument("--cfg", required=True)
    ap.add_argument("--transit-cfg", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tier", default="default")
    a = ap.parse_args()
    set_threads(a.threads)
    doc = resonant_ad.closure_step(a.events, a.background, a.transit, a.out, a.figure, json.loads(a.cfg),
                                   json.loads(a.transit_cfg), a.seed, a.threads, a.tier)
    print(doc["closure_auc"])


if __name__ == "__main__":
    run(main)
