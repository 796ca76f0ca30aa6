#!/usr/bin/env python
"""Publish the full-precision and ternary q/g taggers as ONNX + model cards, checked in onnxruntime."""
import argparse

from colliderflow.cli import run, set_threads
from colliderflow.errors import InputError
from colliderflow.io import write_json
from colliderflow.studies import bithep


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", nargs="+", required=True, help="PRECISION=path.pt of each tagger to publish")
    ap.add_argument("--tagging", required=True, help="tagging task result JSON (metrics, memory; its .npz beside)")
    ap.add_argument("--jets", required=True, help="jets file the taggers were trained on (frozen test inputs)")
    ap.add_argument("--outdir", required=True, help="published models go to OUTDIR/<precision>/")
    ap.add_argument("--out", required=True, help="JSON record of the exports and their checks")
    ap.add_argument("--n-val", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    models = dict(m.partition("=")[::2] for m in a.models)
    if not all(models.values()):
        raise InputError("--models", None, f"expected PRECISION=path.pt, got {a.models}")
    write_json(a.out, bithep.publish(models, a.tagging, a.jets, a.outdir, a.n_val))


if __name__ == "__main__":
    run(main)
