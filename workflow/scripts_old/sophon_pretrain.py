#!/usr/bin/env python
"""Sophon-style pre-training of the ParT-like tagger on the fine jet classes, one resonance held out."""
import argparse

from colliderflow.cli import run, set_threads
from colliderflow.studies import sophon


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jets", required=True, help="jet-class file (colliderflow.data.jet_constituents format)")
    ap.add_argument("--out", required=True, help="pre-trained checkpoint (.pt, one file)")
    ap.add_argument("--config", required=True, help="studies.sophon pre-training keys as JSON")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    sophon.pretrain(a.jets, a.out, sophon.parse_config(a.config, sophon.PRETRAIN_KEYS), a.seed)


if __name__ == "__main__":
    run(main)
