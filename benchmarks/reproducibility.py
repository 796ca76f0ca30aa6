"""Same seed, same bytes: run the smoke tier of every study (or of the studies
named) twice, in two fresh working directories, and compare every output
byte for byte (metrics.json, models, figures, generated resources).

    python benchmarks/reproducibility.py                        every enabled study
    python benchmarks/reproducibility.py decay_aware fab        these studies
    python benchmarks/reproducibility.py --workdir /tmp/repro --keep

Prints one row per study (files compared, identical, differing only in
measured time, differing) and then every differing file with its first
differing metric where it is a metrics.json. Files not compared, and why:
``colliderflow.reproducible.EXCLUDED``. Exit status 1 when any file differs.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from colliderflow.reproducible import EXCLUDED, compare, metric_values  # noqa: E402


def run(workdir: Path, targets: list[str], cores: int) -> float:
    """One smoke-tier run of ``targets`` in ``workdir``; returns its CPU seconds (children, user+sys)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores",
           str(cores), *targets, "--configfile", str(REPO / "config" / "tiers" / "smoke.yaml")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"snakemake failed in {workdir}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def owner(path: str) -> str:
    """The study a compared file belongs to (results/<study>/..., else the resource folder)."""
    parts = path.split("/")
    if parts[0] == "results" and len(parts) > 2:
        return parts[1]
    return f"{parts[0]}/{parts[1]}" if len(parts) > 2 else parts[0]


def main(argv: list[str] | None = None) -> int:
    import yaml

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("studies", nargs="*", help="studies to run (default: every study the smoke tier enables)")
    ap.add_argument("--workdir", type=Path, default=None, help="where the two runs go (default: a temporary folder)")
    ap.add_argument("--cores", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the two working directories")
    ap.add_argument("--compare-only", action="store_true", help="compare the runs already in --workdir")
    a = ap.parse_args(argv)

    if not a.studies:
        cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
        smoke = yaml.safe_load((REPO / "config" / "tiers" / "smoke.yaml").read_text())
        a.studies = [n for n, s in cfg["studies"].items()
                     if smoke.get("studies", {}).get(n, {}).get("enabled", s.get("enabled", True))]
    if a.compare_only and a.workdir is None:
        ap.error("--compare-only needs --workdir")
    targets = [f"results/{s}/metrics.json" for s in a.studies]
    root = a.workdir or Path(tempfile.mkdtemp(prefix="colliderflow-repro-"))
    dirs = [root / "a", root / "b"]
    cpu = []
    for d in dirs:
        if a.compare_only:
            break
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        t0 = time.perf_counter()
        cpu.append(run(d, targets, a.cores))
        print(f"run {d.name}: {cpu[-1]:.0f} CPU s, {time.perf_counter() - t0:.0f} s wall", flush=True)

    results = compare(*dirs)
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in results:
        rows[owner(r.path)][r.status] += 1
    print(f"\n{'outputs of':34s} {'files':>6s} {'same':>6s} {'timing':>7s} {'differ':>7s} {'missing':>8s}")
    for name in sorted(rows):
        c = rows[name]
        total = sum(c.values())
        print(f"{name:34s} {total:6d} {c['same']:6d} {c['timing']:7d} {c['differ']:7d} {c['missing']:8d}")
    bad = [r for r in results if r.status in ("differ", "missing")]
    timing = [r for r in results if r.status == "timing"]
    if timing:
        print("\nidentical but for measured time (keys matching colliderflow.reproducible.TIMING_KEY):")
        for r in timing:
            print(f"  {r.path}")
    if bad:
        print("\ndiffering:")
        for r in bad:
            line = f"  {r.path}: {r.status} {r.detail}"
            if r.path.endswith("metrics.json") and r.status == "differ":
                va, vb = (metric_values(d / r.path) for d in dirs)
                diff = [k for k in va if k in vb and va[k] != vb[k] and not (va[k] != va[k] and vb[k] != vb[k])]
                if diff:
                    line += f"; {len(diff)} number(s), first {diff[0]}: {va[diff[0]]} vs {vb[diff[0]]}"
            print(line)
    print("\nnot compared: " + "; ".join(f"{p} ({why})" for p, why in EXCLUDED))
    print(f"{len(results)} files compared: {len(results) - len(bad) - len(timing)} identical, "
          f"{len(timing)} identical but for measured time, {len(bad)} differ")
    if not a.keep and a.workdir is None:
        shutil.rmtree(root, ignore_errors=True)
    elif a.keep or a.workdir:
        print(f"runs kept in {root}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
