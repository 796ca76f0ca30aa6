#!/usr/bin/env python
"""One seed of the signal-injection scan: ANODE, CATHODE, R-ANODE (w true / wrong /
learned), TRANSIT, IAD and supervised at every injection; max SIC per method."""
import argparse
import json

from colliderflow.cli import run, set_threads
from colliderflow.studies import resonant_ad


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", required=True)
    ap.add_argument("--background", required=True)
    ap.add_argument("--transit", required=True)
    ap.add_argument("--out", required=True, help="scan JSON of this seed")
    ap.add_argument("--cfg", required=True)
    ap.add_argument("--transit-cfg", required=True)
    ap.add_argument("--seed", type=int, default=0, help="master seed (data split)")
    ap.add_argument("--scan-seed", type=int, required=True, help="seed of injection and training")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    resonant_ad.scan_step(a.events, a.background, a.transit, a.out, json.loads(a.cfg), json.loads(a.transit_cfg),
                          a.seed, a.scan_seed, a.threads)


if __name__ == "__main__":
    run(main)
