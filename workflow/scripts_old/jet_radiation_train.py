#!/usr/bin/env python
"""Train one autoregressive jet-radiation transformer variant (plain, bootstrap, modified) and generate events."""
import argparse
import json

from colliderflow.cli import run, set_threads
from colliderflow.studies.jet_radiation import run_training


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", required=True, help="truth HDF5 from jet_radiation_toy")
    ap.add_argument("--variant", required=True, choices=["plain", "bootstrap", "modified"])
    ap.add_argument("--init", default=None, help="plain model (.pt) the bootstrap starts from")
    ap.add_argument("--hparams", required=True, help="JSON: model and training settings")
    ap.add_argument("--train-fraction", type=float, required=True)
    ap.add_argument("--n-generate", type=int, required=True)
    ap.add_argument("--n-gen-max", type=int, required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--samples", required=True)
    ap.add_argument("--forced", required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    run_training(a.events, a.variant, json.loads(a.hparams), a.seed, a.model, a.samples, a.forced, a.record,
                 train_fraction=a.train_fraction, n_generate=a.n_generate, n_gen_max=a.n_gen_max, init_path=a.init)


if __name__ == "__main__":
    run(main)
