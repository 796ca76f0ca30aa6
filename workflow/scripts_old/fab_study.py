#!/usr/bin/env python
"""FAB study: train FAB, reverse-KL, forward-KL flows and VEGAS on the Dalitz target; figures and metrics.json."""
import argparse
import json

from colliderflow.cli import run, set_threads
from colliderflow.studies import fab


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--cfg", required=True, help="studies.fab as JSON")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tier", default="default")
    a = ap.parse_args()
    set_threads(a.threads)
    doc = fab.report(json.loads(a.cfg), a.seed, a.outdir, a.tier)
    print(doc["key_metric"], "holds:", doc["holds"])


if __name__ == "__main__":
    run(main)
