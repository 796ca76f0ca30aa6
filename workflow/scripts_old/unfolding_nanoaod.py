#!/usr/bin/env python
"""GenJet/Jet pairs of NanoAOD files (Jet_genJetIdx) as an unfolding pair table."""
import argparse

from colliderflow.cli import run
from colliderflow.io import write_table
from colliderflow.studies.unfolding import data


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("inputs", nargs="+", help="NanoAOD files with GenJet and Jet_genJetIdx")
    ap.add_argument("--out", required=True)
    ap.add_argument("--min-pt", type=float, default=20.0)
    ap.add_argument("--prior-slope", type=float, default=0.02, help="sim_b weight exp(-slope * gen pT)")
    a = ap.parse_args()
    df, attrs = data.nanoaod_pairs(a.inputs, min_pt=a.min_pt, prior_slope=a.prior_slope)
    write_table(a.out, df, attrs=attrs)


if __name__ == "__main__":
    run(main)
