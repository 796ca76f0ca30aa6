#!/usr/bin/env python
"""Train the pretrained jet tagger and the deep ensemble for the AdamMCMC study."""
import argparse
import json

from colliderflow.cli import run, set_threads
from colliderflow.studies.adammcmc import check_config, train_taggers


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jets", required=True)
    ap.add_argument("--ood-jets", required=True, help="file of the OOD classes (may be --jets)")
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--signal", nargs="+", required=True)
    ap.add_argument("--background", nargs="+", required=True)
    ap.add_argument("--ood", nargs="+", required=True)
    ap.add_argument("--n-constituents", type=int, required=True)
    ap.add_argument("--hidden", required=True, help="JSON list of layer widths")
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--batch-size", type=int, required=True)
    ap.add_argument("--train-lr", type=float, required=True)
    ap.add_argument("--test-fraction", type=float, required=True)
    ap.add_argument("--n-samples", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    cfg = dict(signal=a.signal, background=a.background, ood=a.ood, n_constituents=a.n_constituents,
               hidden=json.loads(a.hidden), epochs=a.epochs, batch_size=a.batch_size, train_lr=a.train_lr,
               test_fraction=a.test_fraction, n_samples=a.n_samples)
    check_config(cfg)
    train_taggers(a.jets, a.outdir, seed=a.seed, ood_path=a.ood_jets, **cfg)


if __name__ == "__main__":
    run(main)
