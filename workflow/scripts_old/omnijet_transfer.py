#!/usr/bin/env python
"""OmniJet-alpha step 3: tagging from the generative backbone: scratch vs frozen vs fine-tuned vs training size."""
import argparse

from colliderflow.cli import run, set_threads
from colliderflow.studies.omnijet import run_transfer


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--gpt", required=True, help="gpt.pt from omnijet_backbone")
    ap.add_argument("--tokens", required=True, help="tokens.npz from omnijet_tokenizer")
    ap.add_argument("--out", required=True)
    ap.add_argument("--classes", nargs="+", required=True, help="the pre-training classes (label order)")
    ap.add_argument("--tag-classes", nargs=2, required=True, help="background class, signal class")
    ap.add_argument("--sizes", type=int, nargs="+", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", required=True)
    ap.add_argument("--batch-size", type=int, required=True)
    ap.add_argument("--lr", type=float, required=True)
    ap.add_argument("--finetune-lr", type=float, required=True)
    ap.add_argument("--target-steps", type=int, required=True)
    ap.add_argument("--max-epochs", type=int, required=True)
    ap.add_argument("--patience", type=int, required=True)
    ap.add_argument("--n-test", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    run_transfer(a.gpt, a.tokens, a.out, a.tag_classes, a.classes, a.sizes, a.seeds, a.batch_size, a.lr,
                 a.finetune_lr, a.target_steps, a.max_epochs, a.patience, a.n_test, a.seed)


if __name__ == "__main__":
    run(main)
