#!/usr/bin/env python
"""Publish the L-GATr tagger and the plain-transformer baseline of one seed as ONNX + model cards,
checked in onnxruntime (with the exported models' shift under a boost)."""
import argparse
import json

from colliderflow.cli import run, set_threads
from colliderflow.io import write_json
from colliderflow.studies.lgatr import publish


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jets", required=True, help="jets for the frozen validation inputs (the test split)")
    ap.add_argument("--model-dir", required=True, help="folder with lgatr.pt, baseline.pt and result.json of one seed")
    ap.add_argument("--outdir", required=True, help="published models go to OUTDIR/<kind>")
    ap.add_argument("--out", required=True, help="JSON record of the exports and their checks")
    ap.add_argument("--cfg", required=True, help="JSON: the studies.lgatr config section")
    ap.add_argument("--data-seed", type=int, required=True)
    ap.add_argument("--n-val", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    write_json(a.out, publish(a.model_dir, a.jets, a.outdir, json.loads(a.cfg), a.data_seed, a.n_val))


if __name__ == "__main__":
    run(main)
