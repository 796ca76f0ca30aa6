#!/usr/bin/env python
"""Write the LHCO R&D toy in the official features-file format."""
import argparse

from colliderflow.cli import run
from colliderflow.data import lhco


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-background", type=int, required=True)
    ap.add_argument("--n-signal", type=int, required=True)
    ap.add_argument("--m-wprime", type=float, default=3500.0)
    ap.add_argument("--m-x", type=float, default=500.0)
    ap.add_argument("--m-y", type=float, default=100.0)
    a = ap.parse_args()
    df = lhco.generate_toy_features(a.n_background, a.n_signal, a.seed, m_wprime=a.m_wprime, m_x=a.m_x, m_y=a.m_y)
    lhco.write_toy_features(a.out, df)


if __name__ == "__main__":
    run(main)
