#!/usr/bin/env python
"""Train L-GATr and the non-equivariant transformer at every training-set size for one seed."""
import argparse
import json

from colliderflow.cli import run, set_threads
from colliderflow.studies.lgatr import run_seed


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jets", required=True, help="jet-constituent file (colliderflow.data.jet_constituents format)")
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--cfg", required=True, help="JSON: the studies.lgatr config section")
    ap.add_argument("--seed", type=int, required=True, help="training seed (subset shuffle and initialisation)")
    ap.add_argument("--data-seed", type=int, required=True, help="global seed: the test split")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    run_seed(a.jets, a.outdir, json.loads(a.cfg), a.seed, a.data_seed)


if __name__ == "__main__":
    run(main)
