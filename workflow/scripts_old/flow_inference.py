#!/usr/bin/env python
"""Run one conditional-flow inference study (bsm_scan, mle_calibration,
likelihood_flows, classifier_surrogates): train, infer, plot, metrics.json."""
import argparse
import json

from colliderflow.cli import run, set_threads
from colliderflow.errors import InputError
from colliderflow.studies import flow_inference


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--study", required=True, choices=flow_inference.STUDIES)
    ap.add_argument("--config", required=True, help="the study's config section as JSON")
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tier", default="default")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--inputs", default=None, help="jet-constituent file prefix (classifier_surrogates)")
    a = ap.parse_args()
    set_threads(a.threads)
    try:
        cfg = json.loads(a.config)
    except json.JSONDecodeError as exc:
        raise InputError("--config", a.study, f"not valid JSON ({exc.msg})") from None
    flow_inference.run_study(a.study, cfg, a.seed, a.outdir, tier=a.tier, inputs=a.inputs)


if __name__ == "__main__":
    run(main)
