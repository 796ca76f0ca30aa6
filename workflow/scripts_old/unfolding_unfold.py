#!/usr/bin/env python
"""Unfold the data of a pair table with one method and one simulation prior."""
import argparse

from colliderflow.cli import run, set_threads
from colliderflow.studies.unfolding import spinup, study
from colliderflow.studies.unfolding.nets import NetConfig


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("table")
    ap.add_argument("--method", required=True, choices=study.METHODS)
    ap.add_argument("--prior", required=True, choices=study.PRIORS)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bins", type=int, default=20)
    ap.add_argument("--max-events", type=int, default=0, help="per sample; 0 = all")
    ap.add_argument("--ibu-iterations", type=int, default=50)
    ap.add_argument("--omnifold-iterations", type=int, default=5)
    ap.add_argument("--net-hidden", type=int, default=64)
    ap.add_argument("--net-layers", type=int, default=3)
    ap.add_argument("--net-epochs", type=int, default=20)
    ap.add_argument("--net-batch-size", type=int, default=512)
    ap.add_argument("--flow-kind", default="maf", choices=["maf", "nsf"])
    ap.add_argument("--flow-transforms", type=int, default=3)
    ap.add_argument("--flow-hidden", type=int, default=64)
    ap.add_argument("--flow-epochs", type=int, default=30)
    ap.add_argument("--flow-batch-size", type=int, default=512)
    ap.add_argument("--proposals", type=int, default=16)
    ap.add_argument("--ensemble", type=int, default=3)
    ap.add_argument("--samples", type=int, default=50000)
    a = ap.parse_args()
    set_threads(a.threads)
    net = NetConfig(hidden=a.net_hidden, layers=a.net_layers, epochs=a.net_epochs, batch_size=a.net_batch_size,
                    seed=a.seed)
    sc = spinup.SpinupConfig(kind=a.flow_kind, transforms=a.flow_transforms, hidden=a.flow_hidden,
                             epochs=a.flow_epochs, batch_size=a.flow_batch_size, proposals=a.proposals,
                             ensemble=a.ensemble, samples=a.samples, seed=a.seed)
    res = study.run(a.table, a.method, a.prior, nbins=a.bins, ibu_iterations=a.ibu_iterations,
                    omnifold_iterations=a.omnifold_iterations, net=net, spinup_cfg=sc, max_events=a.max_events)
    study.save(res, a.out)


if __name__ == "__main__":
    run(main)
