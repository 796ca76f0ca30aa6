#!/usr/bin/env python
"""Fine-tune the pre-trained encoder on N labelled events vs training from scratch (arXiv:2312.06909)."""
import argparse
from pathlib import Path

from colliderflow.cli import run, set_threads
from colliderflow.io import read_json
from colliderflow.metrics import write_metrics
from colliderflow.studies.eventclass import common, pretraining


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    common.add_args(ap)
    ap.add_argument("--encoder", required=True)
    ap.add_argument("--min-gain", type=float, required=True)
    a = ap.parse_args()
    set_threads(a.threads)
    out = Path(a.outdir)
    m = pretraining.finetune_curves(a.encoder, common.parse_inputs(a.inputs), a.signal, a.background, a.sizes,
                                    a.seeds, common.train_config(a), a.target_steps, a.max_epochs,
                                    a.max_events or None)
    v = pretraining.verdict(m, a.min_gain)
    pretraining.plot(m, out / "learning_curves.png", rlabel=f"{a.tier} tier")
    enc = read_json(Path(a.encoder).with_suffix(".json"))
    small = str(m["sizes"][0])
    write_metrics(out / "metrics.json", study="pretraining", paper="arXiv:2312.06909",
                  title="Self-supervised pre-training on (real) collision events, fine-tuned on small labelled sets",
                  key_metric={"name": f"AUC gain of pre-training at N={small} labelled",
                              "value": round(v["gain_smallest"], 4)},
                  claim="pre-training on unlabelled collision data improves classifiers trained on few labelled "
                        "events; the gain shrinks as the labelled set grows",
                  holds=v["holds"], metrics={**m, "verdict": v, "pretraining": enc}, tier=a.tier)


if __name__ == "__main__":
    run(main)
