#!/usr/bin/env python
"""OmniJet-alpha step 4: generation and transfer figures, metrics.json with the verdict."""
import argparse

from colliderflow.cli import run
from colliderflow.studies.omnijet import report


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tokenizer-json", required=True)
    ap.add_argument("--generation-json", required=True)
    ap.add_argument("--samples", required=True)
    ap.add_argument("--transfer-json", required=True)
    ap.add_argument("--publish-json", default=None, help="published_check.json from omnijet_publish")
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--tier", default="default")
    a = ap.parse_args()
    report(a.tokenizer_json, a.generation_json, a.samples, a.transfer_json, a.outdir, a.tier, a.publish_json)


if __name__ == "__main__":
    run(main)
