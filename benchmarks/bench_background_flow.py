#!/usr/bin/env python
"""Background-flow training time to a fixed validation loss (not a test).

Trains p_B(x | mjj) on the sidebands of a prepared LHCO table with
  * the project's zuko configuration (studies.ranode.background_flow: NSF),
  * the R-ANODE reference configuration, MAF 8 blocks x 64 hidden, built with
    nflows when it is importable (benchmark-only: `pip install nflows==0.14`,
    never a project dependency), else with zuko's MAF of the same size (the
    "untuned zuko baseline"),
and reports CPU seconds and epochs until the validation NLL first reaches
--target (default: the worst of the final losses, so every model reaches it).

    python benchmarks/bench_background_flow.py resources/lhco/toy/events.h5 --epochs 10 --max-events 50000
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from colliderflow.io import read_table  # noqa: E402
from colliderflow.nn.flows import StandardizedFlow  # noqa: E402
from colliderflow.studies.ranode import Regions  # noqa: E402
from colliderflow.studies.ranode import background as R  # noqa: E402


def nflows_maf(features: int, context: int, blocks: int = 8, hidden: int = 64):
    """R-ANODE-like nflows MAF (None when nflows is not installed)."""
    try:
        from nflows import distributions, flows, transforms
    except ImportError:
        return None
    layers = []
    for _ in range(blocks):
        layers += [transforms.MaskedAffineAutoregressiveTransform(features, hidden, context_features=context),
                   transforms.ReversePermutation(features)]
    return flows.Flow(transforms.CompositeTransform(layers), distributions.StandardNormal([features]))


def run(model, logp, x, c, xv, cv, epochs, batch, lr):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    curve, cpu = [], []
    t0 = time.process_time()
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(x)).split(batch):
            loss = -logp(x[idx], c[idx]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            curve.append(float(-logp(xv, cv).mean()))
        cpu.append(time.process_time() - t0)
    return curve, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("events")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--max-events", type=int, default=50000)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--target", type=float, default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    df, _ = read_table(a.events, columns=["mjj", *R.FEATURES, "label"])
    regions = Regions(sr_lo=3.3, sr_hi=3.7, sb_lo=2.6, sb_hi=5.0)
    split = R.split_events(df, regions, (0.6, 0.2, 0.2), 0, 0, a.events)
    rng = np.random.default_rng(0)
    pick = rng.permutation(len(split.sb_x))[:a.max_events]
    x, m = torch.as_tensor(split.sb_x[pick]), torch.as_tensor(split.sb_m[pick]).reshape(-1, 1)
    # standardise once for all models (the nflows model has no built-in standardisation)
    xm, xs, mm, ms = x.mean(0), x.std(0), m.mean(0), m.std(0)
    x, m = (x - xm) / xs, (m - mm) / ms
    n_val = len(x) // 5
    xv, cv, x, c = x[:n_val], m[:n_val], x[n_val:], m[n_val:]
    models = {
        "zuko NSF 3x48 (project default)": StandardizedFlow(4, 1, kind="nsf", transforms=3, hidden=(48, 48)),
        "zuko MAF 8x64 (reference size)": StandardizedFlow(4, 1, kind="maf", transforms=8, hidden=(64, 64)),
    }
    ref = nflows_maf(4, 1)
    if ref is not None:
        models["nflows MAF 8x64 (R-ANODE reference)"] = ref
    results = {}
    for name, model in models.items():
        if isinstance(model, StandardizedFlow):
            logp = model.log_prob
        else:
            logp = lambda xx, cc, mdl=model: mdl.log_prob(xx, context=cc)  # noqa: E731
        curve, cpu = run(model, logp, x, c, xv, cv, a.epochs, a.batch, 1e-3)
        results[name] = {"val_nll": curve, "cpu_s": cpu}
        print(f"{name}: final val NLL {curve[-1]:.4f} after {cpu[-1]:.1f} CPU s", flush=True)
    target = a.target if a.target is not None else max(min(r["val_nll"]) for r in results.values())
    for name, r in results.items():
        hit = next((i for i, v in enumerate(r["val_nll"]) if v <= target), None)
        r["epochs_to_target"] = None if hit is None else hit + 1
        r["cpu_s_to_target"] = None if hit is None else r["cpu_s"][hit]
    print(json.dumps({"target_val_nll": target, "nflows_available": ref is not None,
                      **{k: {kk: v[kk] for kk in ("epochs_to_target", "cpu_s_to_target")} for k, v in results.items()}},
                     indent=1))


if __name__ == "__main__":
    main()
