#!/usr/bin/env python
"""Write the jet-constituent toy (default classes q, g, W, Z, t; --classes picks others) in colliderflow's jet format."""
import argparse

from colliderflow.cli import run
from colliderflow.data.jet_constituents import TOY_CLASSES, generate_toy, write_jets


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-jets", type=int, required=True)
    ap.add_argument("--n-max", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--classes", nargs="+", default=list(TOY_CLASSES))
    a = ap.parse_args()
    jets = generate_toy(a.n_jets, a.n_max, a.seed, classes=tuple(a.classes))
    write_jets(a.out, jets, "toy", {"generator": "colliderflow.data.jet_constituents.generate_toy",
                                    "n_jets": a.n_jets, "seed": a.seed, "classes": a.classes})


if __name__ == "__main__":
    run(main)
