#!/usr/bin/env python
"""AdamMCMC figures (acceptance vs sigma, predictive spread ID vs OOD) and metrics.json."""
import argparse

from colliderflow.cli import run
from colliderflow.studies.adammcmc import report


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", required=True)
    ap.add_argument("--info", required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--tier", required=True)
    ap.add_argument("--acceptance-margin", type=float, required=True)
    ap.add_argument("--spread-n-sigma", type=float, required=True)
    ap.add_argument("--publish", help="published_check.json of the ONNX export (goes into metrics.json)")
    a = ap.parse_args()
    report(a.samples, a.info, a.outdir, tier=a.tier, acceptance_margin=a.acceptance_margin, n_sigma=a.spread_n_sigma,
           published=a.publish)


if __name__ == "__main__":
    run(main)
