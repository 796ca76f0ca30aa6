#!/usr/bin/env python
"""TRANSIT study: closure AUC, CWoLa max SIC vs injection beside CATHODE, training time; metrics.json."""
import argparse
import json

from colliderflow.cli import run
from colliderflow.io import read_json
from colliderflow.studies import resonant_ad


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("scans", nargs="+", help="per-seed scan JSON files")
    ap.add_argument("--closure", required=True)
    ap.add_argument("--background", required=True, help="background flow .pt (its .json has the training time)")
    ap.add_argument("--transit", required=True, help="TRANSIT model .pt")
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--cfg", required=True)
    ap.add_argument("--transit-cfg", required=True)
    ap.add_argument("--tier", default="default")
    a = ap.parse_args()
    bg_hp = read_json(a.background.rsplit(".", 1)[0] + ".json")
    tr_hp = read_json(a.transit.rsplit(".", 1)[0] + ".json")
    doc = resonant_ad.transit_report([read_json(p) for p in a.scans], read_json(a.closure), bg_hp, tr_hp, a.outdir,
                                     json.loads(a.cfg), json.loads(a.transit_cfg), a.tier)
    print(doc["key_metric"], "holds:", doc["holds"])


if __name__ == "__main__":
    run(main)
