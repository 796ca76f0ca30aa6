#!/usr/bin/env python
"""Publish every jet-radiation variant's step network as ONNX + model card and check it in onnxruntime."""
import argparse

from colliderflow.cli import run, set_threads
from colliderflow.io import write_json
from colliderflow.studies.jet_radiation import VARIANTS, publish


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", required=True, help="truth HDF5 (frozen validation inputs from its reference split)")
    ap.add_argument("--models", nargs=len(VARIANTS), required=True, help="models, in order " + " ".join(VARIANTS))
    ap.add_argument("--records", nargs=len(VARIANTS), required=True, help="training records, same order")
    ap.add_argument("--outdir", required=True, help="published/<variant>/ directories go here")
    ap.add_argument("--out", required=True, help="JSON record of every export and its check")
    ap.add_argument("--train-fraction", type=float, required=True)
    ap.add_argument("--n-gen-max", type=int, required=True, help="jet slots of the exported sequence")
    ap.add_argument("--n-val", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    write_json(a.out, publish(dict(zip(VARIANTS, a.models)), dict(zip(VARIANTS, a.records)), a.events, a.outdir,
                              train_fraction=a.train_fraction, n_gen_max=a.n_gen_max, n_val=a.n_val))


if __name__ == "__main__":
    run(main)
