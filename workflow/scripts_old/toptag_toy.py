#!/usr/bin/env python
"""Toy top-vs-QCD jets in the ParT .npy layout (PREFIX_pf_vectors.npy, ...)."""
import argparse

from colliderflow.cli import run
from colliderflow.data import part_jets


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--prefix", required=True, help="output prefix, e.g. resources/toptag/toy/tl")
    ap.add_argument("--n-jets", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    part_jets.write_jets(a.prefix, part_jets.generate_toy(a.n_jets, seed=a.seed))


if __name__ == "__main__":
    run(main)
