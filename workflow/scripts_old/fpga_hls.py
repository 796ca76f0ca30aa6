#!/usr/bin/env python
"""QAT model -> QONNX -> hls4ml project (Vitis, io_parallel), compile and C-simulate against torch."""
import argparse

from colliderflow.cli import run, set_threads
from colliderflow.studies.fpga_tagging import hls_csim


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--n-eval", type=int, required=True)
    ap.add_argument("--reuse", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    hls_csim(a.model_dir, a.outdir, n_eval=a.n_eval, reuse=a.reuse)


if __name__ == "__main__":
    run(main)
