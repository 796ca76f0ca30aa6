#!/usr/bin/env python
"""Scaling figures (accuracy / latency / resources vs N) and metrics.json of the FPGA jet-tagging study."""
import argparse

from colliderflow.cli import run
from colliderflow.studies.fpga_tagging import report


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--tier", required=True)
    ap.add_argument("--train", nargs="+", required=True)
    ap.add_argument("--csim", nargs="+", required=True)
    ap.add_argument("--synth", required=True)
    ap.add_argument("--verify", nargs="+", required=True)
    ap.add_argument("--min-agreement", type=float, default=0.99)
    ap.add_argument("--acc-tolerance", type=float, default=0.01)
    a = ap.parse_args()
    report(a.train, a.csim, a.synth, a.verify, a.outdir, tier=a.tier, min_agreement=a.min_agreement,
           acc_tolerance=a.acc_tolerance)


if __name__ == "__main__":
    run(main)
