#!/usr/bin/env python
"""Train the conditional flow p(y | MET) on control events; write the latent of every event."""
import argparse

from colliderflow.cli import run, set_threads
from colliderflow.studies import tails_abcd


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("toy")
    ap.add_argument("--model", required=True)
    ap.add_argument("--latent", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--train-fraction", type=float, required=True)
    ap.add_argument("--transforms", type=int, required=True)
    ap.add_argument("--hidden", type=int, nargs="+", required=True)
    ap.add_argument("--bins", type=int, required=True)
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--batch-size", type=int, required=True)
    ap.add_argument("--lr", type=float, required=True)
    ap.add_argument("--patience", type=int, required=True)
    a = ap.parse_args()
    set_threads(a.threads)
    tails_abcd.flow_step(a.toy, a.model, a.latent, flow_fraction=a.train_fraction, seed=a.seed,
                         transforms=a.transforms, hidden=a.hidden, bins=a.bins, epochs=a.epochs,
                         batch_size=a.batch_size, lr=a.lr, patience=a.patience)


if __name__ == "__main__":
    run(main)
