#!/usr/bin/env python
"""Train the float and the quantization-aware (Brevitas) tagger of one architecture and N; publish the float model."""
import argparse
import json

from colliderflow.cli import run, set_threads
from colliderflow.studies.fpga_tagging import train_pair


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jets", required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--arch", required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--hidden", required=True, help="JSON: {mlp: [...], deepsets_phi: [...], deepsets_rho: [...]}")
    ap.add_argument("--bits", type=int, required=True)
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    train_pair(a.jets, a.outdir, arch=a.arch, n=a.n, hidden=json.loads(a.hidden), bits=a.bits, epochs=a.epochs,
               batch_size=a.batch_size, lr=a.lr, seed=a.seed)


if __name__ == "__main__":
    run(main)
