#!/usr/bin/env python
"""Train one BitHEP task (tagging, regression or generation) in full precision, binary and ternary."""
import argparse
import json

from colliderflow.cli import run, set_threads
from colliderflow.errors import InputError
from colliderflow.studies.bithep import TASKS, run_task


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--task", required=True, choices=TASKS)
    ap.add_argument("--jets", required=True, help="jets file (colliderflow.data.jet_constituents format)")
    ap.add_argument("--config", required=True, help="JSON: the studies.bithep config section")
    ap.add_argument("--out-json", required=True)
    ap.add_argument("--out-npz", required=True)
    ap.add_argument("--out-models", nargs="+", help="one .pt per precision (full, binary, ternary): the trained networks")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    set_threads(a.threads)
    try:
        cfg = json.loads(a.config)
    except json.JSONDecodeError as exc:
        raise InputError("--config", None, f"not valid JSON ({exc.msg})") from None
    run_task(a.task, a.jets, cfg, a.seed, a.out_json, a.out_npz, a.out_models)


if __name__ == "__main__":
    run(main)
