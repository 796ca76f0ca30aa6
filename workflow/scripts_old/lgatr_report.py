#!/usr/bin/env python
"""L-GATr study: Lorentz-invariance scan, performance-vs-training-size figure and metrics.json."""
import argparse
import json

from colliderflow.cli import run, set_threads
from colliderflow.studies.lgatr import report


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jets", required=True)
    ap.add_argument("--results", nargs="+", required=True, help="result.json of every seed")
    ap.add_argument("--model-dir", required=True, help="folder of the models scanned for invariance")
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--cfg", required=True, help="JSON: the studies.lgatr config section")
    ap.add_argument("--data-seed", type=int, required=True)
    ap.add_argument("--tier", default="default")
    ap.add_argument("--publish", help="published_check.json of the ONNX exports (goes into metrics.json)")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    report(a.results, a.model_dir, a.jets, a.outdir, json.loads(a.cfg), a.data_seed, a.tier, published=a.publish)


if __name__ == "__main__":
    run(main)
