#!/usr/bin/env python
"""Decay-aware multi-task network vs BDT vs MLP: AUC vs training size (arXiv:2212.08759)."""
import argparse
from pathlib import Path

from colliderflow.cli import run, set_threads
from colliderflow.metrics import write_metrics
from colliderflow.studies.eventclass import common, decay_aware


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    common.add_args(ap)
    ap.add_argument("--aux-weight", type=float, required=True)
    ap.add_argument("--bdt-trees", type=int, default=200)
    ap.add_argument("--auc-tolerance", type=float, required=True)
    ap.add_argument("--aux-margin", type=float, required=True)
    a = ap.parse_args()
    set_threads(a.threads)
    out = Path(a.outdir)
    m = decay_aware.run(common.parse_inputs(a.inputs), a.signal, a.background, a.sizes, a.seeds,
                        common.encoder_hp(a), a.aux_weight, common.train_config(a), a.target_steps, a.max_epochs,
                        a.max_events or None, bdt_trees=a.bdt_trees, model_out=out / "multitask_encoder.pt")
    v = decay_aware.verdict(m, a.auc_tolerance, a.aux_margin)
    decay_aware.plot(m, out / "auc_vs_size.png", rlabel=f"{a.tier} tier")
    small = str(m["sizes"][0])
    write_metrics(out / "metrics.json", study="decay_aware", paper="arXiv:2212.08759",
                  title="Decay-aware multi-task event classification",
                  key_metric={"name": f"multi-task minus MLP AUC at N={small}",
                              "value": round(v["multitask_minus_mlp_smallest"], 4)},
                  claim="an auxiliary head learning the decay structure (which objects share a parent) gives a "
                        "classifier at least as good as a plain MLP, best at small training sets",
                  holds=v["holds"], metrics={**m, "verdict": v}, tier=a.tier)


if __name__ == "__main__":
    run(main)
