#!/usr/bin/env python
"""OmniJet-alpha step 2: train the GPT-style backbone on jet tokens, generate jets, compare with held-out jets."""
import argparse

from colliderflow.cli import run, set_threads
from colliderflow.studies.omnijet import run_backbone


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tokenizer", required=True, help="vqvae.pt from omnijet_tokenizer")
    ap.add_argument("--tokens", required=True, help="tokens.npz from omnijet_tokenizer")
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--dim", type=int, required=True)
    ap.add_argument("--heads", type=int, required=True)
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--emb-dim", type=int, required=True)
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--batch-size", type=int, required=True)
    ap.add_argument("--lr", type=float, required=True)
    ap.add_argument("--patience", type=int, required=True)
    ap.add_argument("--n-generate", type=int, required=True)
    ap.add_argument("--temperature", type=float, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    run_backbone(a.tokenizer, a.tokens, a.outdir, a.dim, a.heads, a.layers, a.emb_dim, a.epochs, a.batch_size, a.lr,
                 a.patience, a.n_generate, a.temperature, a.seed)


if __name__ == "__main__":
    run(main)
