#!/usr/bin/env python
"""Jet-radiation extrapolation: multiplicity and 3rd-jet figures, metrics.json."""
import argparse

from colliderflow.cli import run
from colliderflow.studies.jet_radiation import VARIANTS, run_report


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", required=True)
    ap.add_argument("--samples", nargs=len(VARIANTS), required=True, help="generated samples, in order " + " ".join(VARIANTS))
    ap.add_argument("--forced", nargs=len(VARIANTS), required=True)
    ap.add_argument("--records", nargs=len(VARIANTS), required=True)
    ap.add_argument("--publish", default=None, help="published_check.json of the ONNX exports")
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--train-fraction", type=float, required=True)
    ap.add_argument("--n-train-max", type=int, required=True)
    ap.add_argument("--n-gen-max", type=int, required=True)
    ap.add_argument("--holds-sigma", type=float, required=True)
    ap.add_argument("--tier", default="default")
    a = ap.parse_args()
    run_report(a.events, dict(zip(VARIANTS, a.samples)), dict(zip(VARIANTS, a.forced)), dict(zip(VARIANTS, a.records)),
               a.outdir, train_fraction=a.train_fraction, n_train_max=a.n_train_max, n_gen_max=a.n_gen_max,
               holds_sigma=a.holds_sigma, tier=a.tier, published=a.publish)


if __name__ == "__main__":
    run(main)
