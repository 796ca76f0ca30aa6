#!/usr/bin/env python
"""L2LFlows: train the energy flow and the convolutional layer flows, save the
model and generate showers for the test file's incident energies."""
import argparse

from colliderflow.cli import run, set_threads
from colliderflow.studies import l2lflows


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--train", required=True, help="training showers (CaloChallenge HDF5)")
    ap.add_argument("--test", required=True, help="test showers (CaloChallenge HDF5)")
    ap.add_argument("--geometry", required=True, help="binning XML")
    ap.add_argument("--config", required=True, help="studies.l2lflows as JSON")
    ap.add_argument("--model", required=True)
    ap.add_argument("--generated", required=True)
    ap.add_argument("--summary", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    cfg = l2lflows.parse_config(a.config)
    l2lflows.train_step(a.train, a.test, a.geometry, cfg, a.seed, a.model, a.generated, a.summary)


if __name__ == "__main__":
    run(main)
