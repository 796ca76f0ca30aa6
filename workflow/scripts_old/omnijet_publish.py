#!/usr/bin/env python
"""OmniJet-alpha: publish the VQ-VAE tokenizer (encoder and decoder) and the GPT backbone as ONNX + model cards,
checked in onnxruntime."""
import argparse

from colliderflow.cli import run, set_threads
from colliderflow.io import write_json
from colliderflow.studies.omnijet import publish


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tokenizer", required=True, help="vqvae.pt from omnijet_tokenizer")
    ap.add_argument("--tokens", required=True, help="tokens.npz from omnijet_tokenizer (validation inputs)")
    ap.add_argument("--tokenizer-json", required=True, help="tokenizer.json (card metrics)")
    ap.add_argument("--gpt", required=True, help="gpt.pt from omnijet_backbone")
    ap.add_argument("--generation-json", required=True, help="generation.json (card metrics)")
    ap.add_argument("--jets-file", required=True, help="the training jets file, named on the cards")
    ap.add_argument("--source", required=True, help="data source, named on the cards")
    ap.add_argument("--outdir", required=True, help="published models directory")
    ap.add_argument("--out", required=True, help="JSON record of the exports and their checks")
    ap.add_argument("--n-val", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    write_json(a.out, publish(a.tokenizer, a.tokens, a.tokenizer_json, a.gpt, a.generation_json, a.outdir,
                              a.jets_file, a.source, a.n_val, a.seed))


if __name__ == "__main__":
    run(main)
