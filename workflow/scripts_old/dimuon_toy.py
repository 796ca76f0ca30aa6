#!/usr/bin/env python
"""Write toy dimuon events (Drell-Yan continuum + resonances) as NanoAOD."""
import argparse

from colliderflow.cli import run
from colliderflow.data.toy_nanoaod import write_dimuon


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-events", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    write_dimuon(a.out, a.n_events, a.seed)


if __name__ == "__main__":
    run(main)
