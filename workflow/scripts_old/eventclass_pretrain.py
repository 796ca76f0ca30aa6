#!/usr/bin/env python
"""Self-supervised (SimCLR) pre-training of the shared event encoder on unlabelled events."""
import argparse

from colliderflow.cli import run, set_threads
from colliderflow.studies.eventclass import common, pretraining


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    common.add_args(ap, sizes=False)
    ap.add_argument("--source", choices=["toy", "file"], required=True)
    ap.add_argument("--n-events", type=int, required=True)
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--temperature", type=float, default=0.2)
    ap.add_argument("--smear", type=float, default=0.05)
    ap.add_argument("--drop", type=float, default=0.1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    set_threads(a.threads)
    files = list(common.parse_inputs(a.inputs).values())
    pretraining.pretrain(files, a.source, a.n_events, common.encoder_hp(a),
                         common.train_config(a, epochs=a.epochs, batch_size=max(a.batch_size, 256), desc="pretrain"),
                         a.out, a.temperature, a.smear, a.drop)


if __name__ == "__main__":
    run(main)
