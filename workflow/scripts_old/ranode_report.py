#!/usr/bin/env python
"""R-ANODE study: max SIC vs S/sqrt(B), SIC curves, learned w; metrics.json."""
import argparse
import json

from colliderflow.cli import run
from colliderflow.io import read_json
from colliderflow.studies import resonant_ad


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("scans", nargs="+", help="per-seed scan JSON files")
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--cfg", required=True)
    ap.add_argument("--tier", default="default")
    a = ap.parse_args()
    doc = resonant_ad.ranode_report([read_json(p) for p in a.scans], a.outdir, json.loads(a.cfg), a.tier)
    print(doc["key_metric"], "holds:", doc["holds"])


if __name__ == "__main__":
    run(main)
