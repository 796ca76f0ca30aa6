#!/usr/bin/env python
"""OmniJet-alpha step 1: train the VQ-VAE constituent tokenizer and tokenize every jet (arXiv:2403.05618)."""
import argparse

from colliderflow.cli import run, set_threads
from colliderflow.studies.omnijet import run_tokenizer


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jets", required=True, help="jet-constituent HDF5 (colliderflow.data.jet_constituents)")
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--classes", nargs="+", required=True)
    ap.add_argument("--n-constituents", type=int, required=True)
    ap.add_argument("--test-fraction", type=float, required=True)
    ap.add_argument("--codebook-size", type=int, required=True)
    ap.add_argument("--latent-dim", type=int, required=True)
    ap.add_argument("--hidden", type=int, required=True)
    ap.add_argument("--beta", type=float, required=True)
    ap.add_argument("--decay", type=float, required=True, help="EMA decay of the codebook")
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--batch-size", type=int, required=True)
    ap.add_argument("--lr", type=float, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    run_tokenizer(a.jets, a.outdir, a.classes, a.n_constituents, a.test_fraction, a.codebook_size, a.latent_dim,
                  a.hidden, a.beta, a.decay, a.epochs, a.batch_size, a.lr, a.seed)


if __name__ == "__main__":
    run(main)
