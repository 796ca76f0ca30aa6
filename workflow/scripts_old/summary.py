#!/usr/bin/env python
"""Gather every study's metrics.json into results/summary.md."""
import argparse
from pathlib import Path

from colliderflow.cli import run
from colliderflow.metrics import write_summary


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("metrics", nargs="*")
    a = ap.parse_args()
    text = write_summary(a.metrics, a.out, benchmark_root=Path(a.out).parent)
    print(text)


if __name__ == "__main__":
    run(main)
