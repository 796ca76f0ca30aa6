#!/usr/bin/env python
"""Write the unfolding toy: gen/reco jet substructure pairs for two simulations and the data."""
import argparse

from colliderflow.cli import run
from colliderflow.io import write_table
from colliderflow.studies.unfolding import data


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-sim", type=int, required=True, help="particle-level jets per simulation")
    ap.add_argument("--n-data", type=int, required=True, help="particle-level jets in the data")
    a = ap.parse_args()
    df, attrs = data.generate_toy(a.n_sim, a.n_data, a.seed)
    write_table(a.out, df, attrs=attrs)


if __name__ == "__main__":
    run(main)
