#!/usr/bin/env python
"""Train the frozen background model of the resonant-AD family: conditional
zuko flow p_B(x | mjj) on the sidebands and a fit of p_B(mjj) for the SR."""
import argparse
import json

from colliderflow.cli import run, set_threads
from colliderflow.studies import resonant_ad


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", required=True, help="prepared AD table (resources/lhco/events.h5)")
    ap.add_argument("--out", required=True, help="model .pt (hyper-parameters beside it as .json)")
    ap.add_argument("--cfg", required=True, help="studies.ranode section as JSON")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    print(resonant_ad.background_step(a.events, a.out, json.loads(a.cfg), a.seed))


if __name__ == "__main__":
    run(main)
