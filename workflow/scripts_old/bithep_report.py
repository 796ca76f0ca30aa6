#!/usr/bin/env python
"""BitHEP figure and metrics.json from the three task results (full / binary / ternary)."""
import argparse

from colliderflow.cli import run
from colliderflow.io import read_json
from colliderflow.studies.bithep import load_results, report


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--tier", default="default")
    ap.add_argument("--auc-loss-max", type=float, required=True)
    ap.add_argument("--results", nargs="+", required=True, help="<task>.json files; the .npz beside each is read too")
    ap.add_argument("--publish", help="published_check.json of the ONNX export (goes into metrics.json)")
    a = ap.parse_args()
    docs, arrays = load_results(a.results)
    report(docs, arrays, a.outdir, a.auc_loss_max, a.tier, read_json(a.publish) if a.publish else None)


if __name__ == "__main__":
    run(main)
