#!/usr/bin/env python
"""Write the tails toy (MET, jet features; background, control, signal pool) as an HDF5 table."""
import argparse

from colliderflow.cli import run
from colliderflow.io import write_table
from colliderflow.studies import tails_abcd


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-background", type=int, required=True)
    ap.add_argument("--n-control", type=int, required=True)
    ap.add_argument("--n-signal", type=int, required=True)
    ap.add_argument("--met-min", type=float, default=200.0)
    ap.add_argument("--met-scale-background", type=float, default=80.0)
    ap.add_argument("--met-scale-control", type=float, default=70.0)
    ap.add_argument("--met-mean-signal", type=float, default=500.0)
    ap.add_argument("--signal-mass", type=float, default=90.0)
    a = ap.parse_args()
    kw = dict(met_min=a.met_min, met_scale_background=a.met_scale_background, met_scale_control=a.met_scale_control,
              met_mean_signal=a.met_mean_signal, signal_mass=a.signal_mass)
    df = tails_abcd.generate_toy(a.n_background, a.n_control, a.n_signal, a.seed, **kw)
    write_table(a.out, df, attrs={"generator": "colliderflow.studies.tails_abcd.generate_toy", "seed": a.seed, **kw})


if __name__ == "__main__":
    run(main)
