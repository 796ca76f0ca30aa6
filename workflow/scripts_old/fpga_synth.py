#!/usr/bin/env python
"""Synthesis: vendor HLS when on PATH, else the open stand-in (C-sim report + da4ml/Verilator/Yosys), labelled."""
import argparse

from colliderflow.cli import run
from colliderflow.studies.fpga_tagging import synthesize


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rtl-dir", required=True)
    ap.add_argument("--rtl-model", nargs="*", default=[], help="NAME=MODEL_DIR pairs for the open RTL path")
    ap.add_argument("--n-sim", type=int, default=1000)
    ap.add_argument("--yosys", action="store_true")
    ap.add_argument("--yosys-timeout", type=int, default=900)
    ap.add_argument("--vendor-timeout", type=int, default=3600)
    ap.add_argument("csim", nargs="+")
    a = ap.parse_args()
    rtl = dict(s.split("=", 1) for s in a.rtl_model)
    synthesize(a.csim, a.out, rtl_models=rtl, rtl_dir=a.rtl_dir, n_sim=a.n_sim, run_yosys=a.yosys,
               yosys_timeout=a.yosys_timeout, vendor_timeout=a.vendor_timeout)


if __name__ == "__main__":
    run(main)
