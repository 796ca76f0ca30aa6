#!/usr/bin/env python
"""Weakly supervised classifiers (raw y, flow latent), classic ABCD, closure, pyhf significance, figures, metrics."""
import argparse

from colliderflow.cli import run, set_threads
from colliderflow.studies import tails_abcd


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("toy")
    ap.add_argument("latent")
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--tier", default="default")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--met-cut", type=float, required=True)
    ap.add_argument("--met-cut-scan", type=float, nargs="+", required=True)
    ap.add_argument("--score-efficiency", type=float, required=True)
    ap.add_argument("--injections", type=int, nargs="+", required=True)
    ap.add_argument("--reference-injection", type=int, required=True)
    ap.add_argument("--folds", type=int, required=True)
    ap.add_argument("--n-estimators", type=int, required=True)
    ap.add_argument("--max-depth", type=int, required=True)
    ap.add_argument("--learning-rate", type=float, required=True)
    ap.add_argument("--dcor-events", type=int, default=2000)
    ap.add_argument("--independence-events", type=int, default=20000)
    a = ap.parse_args()
    set_threads(a.threads)
    ccfg = tails_abcd.ClassifierConfig(folds=a.folds, n_estimators=a.n_estimators, max_depth=a.max_depth,
                                       learning_rate=a.learning_rate, threads=a.threads, seed=a.seed)
    tails_abcd.analysis_step(a.toy, a.latent, a.outdir, tier=a.tier, t_cut=a.met_cut, t_cut_scan=a.met_cut_scan,
                             score_efficiency=a.score_efficiency, injections=a.injections,
                             reference_injection=a.reference_injection, ccfg=ccfg, seed=a.seed,
                             dcor_events=a.dcor_events, independence_events=a.independence_events)


if __name__ == "__main__":
    run(main)
