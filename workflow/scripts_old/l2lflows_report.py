#!/usr/bin/env python
"""L2LFlows: independent-voxel baseline, CaloChallenge-style classifier AUCs and
Wasserstein distances, figures (with the published challenge tables as
context) and metrics.json."""
import argparse

from colliderflow.cli import run, set_threads
from colliderflow.studies import l2lflows


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--geometry", required=True)
    ap.add_argument("--generated", required=True)
    ap.add_argument("--summary", required=True)
    ap.add_argument("--config", required=True, help="studies.l2lflows as JSON")
    ap.add_argument("--tables", nargs="*", default=[], help="CaloChallenge_results_*.hdf (published, optional)")
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tier", default="default")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    cfg = l2lflows.parse_config(a.config)
    l2lflows.report_step(a.train, a.test, a.geometry, a.generated, a.summary, cfg, a.seed, a.outdir,
                         tables=a.tables, tier=a.tier)


if __name__ == "__main__":
    run(main)
