#!/usr/bin/env python
"""ELSA study: under-trained flow surrogate, DCTR reweighting, LASER latent refinement by HMC; figures, metrics.json."""
import argparse
import json

from colliderflow.cli import run, set_threads
from colliderflow.studies import elsa


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--cfg", required=True, help="studies.elsa as JSON")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tier", default="default")
    a = ap.parse_args()
    set_threads(a.threads)
    doc = elsa.report(json.loads(a.cfg), a.seed, a.outdir, a.tier)
    print(doc["key_metric"], "holds:", doc["holds"])


if __name__ == "__main__":
    run(main)
