#!/usr/bin/env python
"""Transfer to the held-out resonance vs QCD: fine-tune, linear probe and scratch for each labelled size and seed."""
import argparse

from colliderflow.cli import run, set_threads
from colliderflow.io import write_json
from colliderflow.studies import sophon


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jets", required=True)
    ap.add_argument("--pretrained", required=True)
    ap.add_argument("--config", required=True, help="studies.sophon as JSON")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    write_json(a.out, sophon.transfer(a.jets, a.pretrained, sophon.parse_config(a.config), a.seed))


if __name__ == "__main__":
    run(main)
