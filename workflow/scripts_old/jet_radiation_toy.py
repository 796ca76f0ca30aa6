#!/usr/bin/env python
"""Generate the staircase Z + jets radiation toy (truth for every multiplicity)."""
import argparse
import json

from colliderflow.cli import run
from colliderflow.data.jet_radiation_toy import make_toy


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-events", type=int, required=True)
    ap.add_argument("--toy", required=True, help="JSON: toy settings (ratio, pt_min, pt_scale, z_a, z_b, ...)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    make_toy(a.out, json.loads(a.toy), a.n_events, a.seed)


if __name__ == "__main__":
    run(main)
