#!/usr/bin/env python
"""Wall time of the workflow: dry-run of the whole DAG, the smoke tier, and
(with --default) the default tier, each in a fresh temporary workdir.

    python benchmarks/pipeline_timing.py [--default] [--cores 2]

Budgets (issue 3): dry-run < 3 s, smoke < 5 min, default < 30 min on 2 cores.
Prints a per-study CPU-time table from the rules' benchmark files.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def snakemake(workdir, *args, cores=2, cpu=False):
    """Wall seconds of one snakemake run (and, with ``cpu``, the CPU seconds,
    user + system, of snakemake and every job it ran)."""
    import resource

    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", str(cores),
           *args]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        print(proc.stderr[-3000:])
        raise SystemExit(f"snakemake failed: {' '.join(args)}")
    used = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return (wall, used) if cpu else wall


def cpu_table(workdir):
    from colliderflow.metrics import benchmark_cpu_seconds

    rows = []
    for d in sorted(Path(workdir, "results").glob("*/benchmarks")):
        tsvs = sorted(d.glob("*.tsv"))
        rows.append((d.parent.name, len(tsvs), benchmark_cpu_seconds(tsvs)))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--default", action="store_true", help="also time the default tier (up to 30 min)")
    ap.add_argument("--cores", type=int, default=2)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as wd:
        t = min(snakemake(wd, "-n", cores=a.cores) for _ in range(3))
        print(f"dry-run of the default DAG: {t:.2f} s (budget 3 s)")
    tiers = [("smoke", ["--configfile", str(REPO / "config/tiers/smoke.yaml")], 300)]
    if a.default:
        tiers.append(("default", [], 1800))
    for name, args, budget in tiers:
        with tempfile.TemporaryDirectory() as wd:
            load = os.getloadavg()[0]
            t, cpu = snakemake(wd, *args, cores=a.cores, cpu=True)
            print(f"\n{name} tier: {t:.0f} s wall, {cpu:.0f} s CPU (user + system, all jobs) on {a.cores} cores "
                  f"(budget {budget} s wall; load average {load:.2f} at the start)")
            print(f"{'study':24s} {'rules':>5s} {'CPU s':>8s}")
            for study, n, cpu in cpu_table(wd):
                print(f"{study:24s} {n:5d} {cpu:8.1f}")


if __name__ == "__main__":
    main()
