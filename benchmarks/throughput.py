#!/usr/bin/env python
"""Training throughput of the two models a paper-scale run spends its time on
(not a test): the R-ANODE background flow and the jet transformer, each at
the default tier's size and at the paper's size, on the CPU (``--threads``,
default 2) and, where torch sees one, on CUDA, side by side in one run.

* flow: ``StandardizedFlow`` (zuko) p(x | mjj), 4 features + 1 condition;
  default NSF 3 x 48, paper MAF 8 blocks x 64 (R-ANODE); events/s of
  optimiser steps (forward, backward, Adam) at each ``--flow-batch``.
* transformer: ``colliderflow.nn.jets.JetTransformer`` with pair bias;
  default dim 64, 3 layers, 4 heads, 30 constituents; ParT size dim 128,
  8 layers, 8 heads, 128 constituents; jets/s of optimiser steps at batch 512
  (64 on the CPU at ParT size).

Synthetic inputs of the right shapes (throughput does not depend on the
values). Timed after warm-up steps, with ``torch.cuda.synchronize`` on CUDA.

    python benchmarks/throughput.py [--threads 2] [--seconds 5] [--out benchmarks/results/throughput.md]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from colliderflow.nn.flows import StandardizedFlow  # noqa: E402
from colliderflow.nn.jets import JetTransformer  # noqa: E402

FLOWS = {"default (NSF 3x48)": dict(kind="nsf", transforms=3, hidden=(48, 48)),
         "paper (MAF 8x64)": dict(kind="maf", transforms=8, hidden=(64, 64))}
TRANSFORMERS = {"default (dim 64, 3 layers, 30 constituents)": dict(dim=64, layers=3, heads=4, n=30),
                "ParT size (dim 128, 8 layers, 128 constituents)": dict(dim=128, layers=8, heads=8, n=128)}


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def timed(step, n_items: int, dev: torch.device, seconds: float, warmup: int = 3) -> tuple[float, int, float]:
    """Items per wall second of ``step()`` over about ``seconds`` (after
    warm-up), the steps timed, and this process's CPU seconds (user + system,
    all threads) per 100k items: on a shared machine the wall rate drops with
    the load, the CPU seconds much less."""
    for _ in range(warmup):
        step()
    _sync(dev)
    t0, c0, k = time.perf_counter(), time.process_time(), 0
    while True:
        step()
        k += 1
        if k % 5 == 0:
            _sync(dev)
            if time.perf_counter() - t0 >= seconds:
                break
    _sync(dev)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return n_items * k / wall, k, 1e5 * cpu / (n_items * k)


def flow_rate(size: dict, batch: int, dev: torch.device, seconds: float) -> tuple[float, int, float]:
    torch.manual_seed(0)
    flow = StandardizedFlow(4, 1, **size).to(dev)
    x, c = torch.randn(batch, 4, device=dev), torch.randn(batch, 1, device=dev)
    opt = torch.optim.Adam(flow.parameters(), lr=1e-4)

    def step() -> None:
        loss = -flow.log_prob(x, c).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return timed(step, batch, dev, seconds)


def transformer_rate(size: dict, batch: int, dev: torch.device, seconds: float) -> tuple[float, int, float]:
    torch.manual_seed(0)
    n = size["n"]
    model = JetTransformer(7, dim=size["dim"], heads=size["heads"], layers=size["layers"], n_out=10,
                           pair_dim=4).to(dev)
    x = torch.randn(batch, n, 7, device=dev)
    mask = torch.ones(batch, n, dtype=torch.bool, device=dev)
    pairs = torch.randn(batch, n, n, 4, device=dev)
    y = torch.randint(0, 10, (batch,), device=dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(model(x, mask, pairs), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return timed(step, batch, dev, seconds)


def _rate(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=5.0, help="timed seconds per row")
    ap.add_argument("--flow-batch", type=int, nargs="+", default=[256, 2048, 16384])
    ap.add_argument("--models", nargs="+", choices=["flow", "transformer"], default=["flow", "transformer"])
    ap.add_argument("--out", type=Path, default=None, help="markdown (default: print only)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    load_start = os.getloadavg()
    devices = [torch.device("cpu")] + ([torch.device("cuda:0")] if torch.cuda.is_available() else [])
    names = {d: (f"CPU, {a.threads} threads" if d.type == "cpu" else torch.cuda.get_device_name(d)) for d in devices}
    rows = []
    for label, size in FLOWS.items() if "flow" in a.models else ():
        for batch in a.flow_batch:
            for d in devices:
                load1 = os.getloadavg()[0]
                rate, k, cpu = flow_rate(size, batch, d, a.seconds)
                rows.append(("background flow", label, batch, names[d], f"{_rate(rate)} events/s", f"{cpu:,.2f}", k,
                             f"{load1:.1f}"))
                print(rows[-1], flush=True)
    for label, size in TRANSFORMERS.items() if "transformer" in a.models else ():
        for d in devices:
            batch = 64 if (d.type == "cpu" and size["n"] > 64) else 512
            load1 = os.getloadavg()[0]
            rate, k, cpu = transformer_rate(size, batch, d, a.seconds)
            rows.append(("jet transformer", label, batch, names[d], f"{_rate(rate)} jets/s", f"{cpu:,.1f}", k,
                         f"{load1:.1f}"))
            print(rows[-1], flush=True)
    load0 = " / ".join(f"{x:.2f}" for x in load_start)
    loaded = max(load_start[0], os.getloadavg()[0] - a.threads) > 0.5 * (os.cpu_count() or 1)  # others' load
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [f"# Training throughput, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC", "",
             f"{platform.node()}, {os.cpu_count()} CPUs, torch {torch.__version__}, load average (1 / 5 / 15 min) "
             f"{load0} at the start, {load} at the end"
              + ("  **(loaded machine: wall rates are low; CPU s per 100k less affected)**" if loaded else ""), "",
             "| model | size | batch | device | throughput (optimiser steps, wall) | CPU s per 100k | steps timed "
             "| load (1 min) at the row's start |",
             "|---|---|---:|---|---:|---:|---:|---:|"]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text)


if __name__ == "__main__":
    main()
