#!/usr/bin/env python
"""Download a file and verify its sha256 (nothing is left behind on mismatch)."""
import argparse

from colliderflow.cli import run
from colliderflow.data.download import ensure


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", required=True)
    ap.add_argument("--sha256", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    ensure(a.url, a.out, a.sha256)


if __name__ == "__main__":
    run(main)
