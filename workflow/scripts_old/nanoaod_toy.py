#!/usr/bin/env python
"""Write one toy process (ttbar, W+jets, QCD, BSM ...) as NanoAOD with generator truth."""
import argparse

from colliderflow.cli import run
from colliderflow.data.toy_nanoaod import PROCESSES, write_process
from colliderflow.errors import InputError


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--process", required=True)
    ap.add_argument("--n-events", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.process not in PROCESSES:
        raise InputError("config", "data.nanoaod.toy.processes", f"unknown process {a.process!r} "
                         f"(known: {', '.join(sorted(PROCESSES))})")
    write_process(a.out, a.process, a.n_events, a.seed)


if __name__ == "__main__":
    run(main)
