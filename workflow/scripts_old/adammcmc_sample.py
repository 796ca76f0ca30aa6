#!/usr/bin/env python
"""AdamMCMC acceptance scan and sampling chain from the pretrained tagger; predictions of samples and ensemble."""
import argparse

from colliderflow.cli import run, set_threads
from colliderflow.studies.adammcmc import check_config, sample


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tagger", required=True)
    ap.add_argument("--ensemble", nargs="+", required=True)
    ap.add_argument("--out-npz", required=True)
    ap.add_argument("--out-json", required=True)
    ap.add_argument("--lr", type=float, required=True)
    ap.add_argument("--sigma", type=float, required=True)
    ap.add_argument("--stretch", type=float, required=True)
    ap.add_argument("--temperature-per-jet", type=float, required=True)
    ap.add_argument("--prior-std", type=float, required=True)
    ap.add_argument("--scan-sigmas", type=float, nargs="+", required=True)
    ap.add_argument("--scan-steps", type=int, required=True)
    ap.add_argument("--burn-in", type=int, required=True)
    ap.add_argument("--thin", type=int, required=True)
    ap.add_argument("--n-samples", type=int, required=True)
    ap.add_argument("--reverse", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    cfg = dict(lr=a.lr, sigma=a.sigma, stretch=a.stretch, temperature_per_jet=a.temperature_per_jet,
               prior_std=a.prior_std,
               scan_sigmas=a.scan_sigmas, scan_steps=a.scan_steps, burn_in=a.burn_in, thin=a.thin,
               n_samples=a.n_samples, reverse=a.reverse)
    check_config(cfg)
    sample(a.tagger, a.ensemble, a.out_npz, a.out_json, seed=a.seed, **cfg)


if __name__ == "__main__":
    run(main)
