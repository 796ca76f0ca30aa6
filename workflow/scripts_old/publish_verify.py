#!/usr/bin/env python
"""Re-run a published ONNX model in onnxruntime on its frozen validation set; compare with the stored outputs."""
import argparse

from colliderflow.cli import run
from colliderflow.io import write_json
from colliderflow.publish import verify_published


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--atol", type=float, default=1e-5)
    ap.add_argument("model_dir")
    a = ap.parse_args()
    res = verify_published(a.model_dir, a.atol)
    write_json(a.out, res)
    if not res["passed"]:
        raise SystemExit(f"published model {a.model_dir}: onnxruntime differs by {res['max_abs_diff']:.3g} > {a.atol}")


if __name__ == "__main__":
    run(main)
