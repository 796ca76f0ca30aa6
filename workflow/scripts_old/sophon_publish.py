#!/usr/bin/env python
"""Publish the pre-trained encoder as ONNX + model card and check it in onnxruntime."""
import argparse

from colliderflow.cli import run, set_threads
from colliderflow.io import write_json
from colliderflow.studies import sophon_export


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pretrained", required=True)
    ap.add_argument("--jets", required=True, help="jets for the frozen validation inputs")
    ap.add_argument("--outdir", required=True, help="published model directory")
    ap.add_argument("--out", required=True, help="JSON record of the export and its check")
    ap.add_argument("--n-val", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    write_json(a.out, sophon_export.publish(a.pretrained, a.jets, a.outdir, a.n_val))


if __name__ == "__main__":
    run(main)
