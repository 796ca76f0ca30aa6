#!/usr/bin/env python
"""Train the TRANSIT transport network (mass-conditioned encoder/decoder) on the sidebands."""
import argparse
import json

from colliderflow.cli import run, set_threads
from colliderflow.studies import resonant_ad


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cfg", required=True, help="studies.ranode section as JSON (regions, split)")
    ap.add_argument("--transit-cfg", required=True, help="studies.transit section as JSON")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    print(resonant_ad.transit_step(a.events, a.out, json.loads(a.cfg), json.loads(a.transit_cfg), a.seed))


if __name__ == "__main__":
    run(main)
