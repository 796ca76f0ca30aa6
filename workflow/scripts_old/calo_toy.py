#!/usr/bin/env python
"""Toy layered calorimeter showers in the CaloChallenge layout: training and
test HDF5 files (incident_energies, showers; MeV) and the binning XML."""
import argparse

from colliderflow.cli import run
from colliderflow.data import calochallenge


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--train-out", required=True)
    ap.add_argument("--test-out", required=True)
    ap.add_argument("--geometry-out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-train", type=int, required=True)
    ap.add_argument("--n-test", type=int, required=True)
    ap.add_argument("--n-layers", type=int, required=True)
    ap.add_argument("--r-edges", type=float, nargs="+", required=True, help="radial bin edges (mm), from 0")
    ap.add_argument("--n-alpha", type=int, required=True, help="angular bins per layer")
    ap.add_argument("--e-min", type=float, required=True, help="lowest incident energy (GeV)")
    ap.add_argument("--e-max", type=float, required=True, help="highest incident energy (GeV)")
    ap.add_argument("--hits-per-gev", type=float, required=True)
    ap.add_argument("--threshold-mev", type=float, required=True)
    a = ap.parse_args()
    calochallenge.write_toy(a.train_out, a.test_out, a.geometry_out, n_train=a.n_train, n_test=a.n_test,
                            n_layers=a.n_layers, r_edges=a.r_edges, n_alpha=a.n_alpha, e_min=a.e_min, e_max=a.e_max,
                            seed=a.seed, hits_per_gev=a.hits_per_gev, threshold_mev=a.threshold_mev)


if __name__ == "__main__":
    run(main)
