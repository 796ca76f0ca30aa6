#!/usr/bin/env python
"""Publish the pretrained AdamMCMC tagger (the chains' starting point) as ONNX + model card, checked in onnxruntime."""
import argparse

from colliderflow.cli import run, set_threads
from colliderflow.io import write_json
from colliderflow.studies.adammcmc import publish


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tagger", required=True)
    ap.add_argument("--samples", required=True, help="samples.npz: predictions for the card's AUC and spreads")
    ap.add_argument("--info", required=True, help="sampling.json of the chain")
    ap.add_argument("--outdir", required=True, help="published model directory")
    ap.add_argument("--out", required=True, help="JSON record of the export and its check")
    ap.add_argument("--n-val", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    write_json(a.out, publish(a.tagger, a.samples, a.info, a.outdir, a.n_val))


if __name__ == "__main__":
    run(main)
