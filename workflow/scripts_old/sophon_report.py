#!/usr/bin/env python
"""Sophon figure (rejection vs labelled jets) and metrics.json."""
import argparse

from colliderflow.cli import run
from colliderflow.studies import sophon


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--transfer", required=True)
    ap.add_argument("--publish", required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--tier", required=True)
    a = ap.parse_args()
    sophon.report(a.transfer, a.publish, a.outdir, a.tier)


if __name__ == "__main__":
    run(main)
