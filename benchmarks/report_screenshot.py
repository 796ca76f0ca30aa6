#!/usr/bin/env python
"""Build the HTML report of a smoke-tier run and take a headless Chromium
screenshot of it (the report is a single-page app: this shows it renders).

    python benchmarks/report_screenshot.py [--workdir DIR] [--install]

--workdir reuses a finished run (else the smoke tier runs in a temporary
directory); --install apt-installs chromium when it is missing (root).
Writes benchmarks/out/report.html and benchmarks/out/report.png, and prints
the time of each step and whether every study's figure is in the report.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
SMOKE = REPO / "config" / "tiers" / "smoke.yaml"


def timed(what, cmd, **kw):
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    print(f"{what}: {time.perf_counter() - t0:.1f} s")
    if proc.returncode:
        raise SystemExit(f"{what} failed:\n{proc.stderr[-3000:]}")
    return proc


def chromium(install: bool) -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if install and shutil.which("apt-get"):
        timed("apt-get install chromium", ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
              env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        return shutil.which("chromium")
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--install", action="store_true")
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    wd = a.workdir or Path(tempfile.mkdtemp(prefix="cf-report-"))
    sm = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(wd), "--cores", "2"]
    if not a.workdir:
        timed("smoke tier", [*sm, "--configfile", str(SMOKE)])
    report = OUT / "report.html"
    timed("snakemake --report", [*sm, "--report", str(report), "--configfile", str(SMOKE)])
    html = report.read_text(errors="replace")
    figures = sorted(p.name for p in (wd / "results").glob("*/*.png"))
    missing = [f for f in figures if f not in html]
    print(f"report: {report.stat().st_size / 1e6:.1f} MB, {len(figures)} figures, missing: {missing or 'none'}")
    browser = chromium(a.install)
    if not browser:
        print("no chromium: screenshot skipped (use --install as root)")
        return
    png = OUT / "report.png"
    timed("headless screenshot", [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                  "--window-size=1400,1000", "--virtual-time-budget=10000",
                                  f"--screenshot={png}", report.as_uri()])
    print(f"screenshot: {png} ({png.stat().st_size / 1e3:.0f} kB)")
    # the rendered page (after the app's JavaScript) lists every paper's category
    dom = timed("rendered DOM", [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
                                 "--dump-dom", report.as_uri()]).stdout
    dom = re.sub(r"(?s)<script.*?</script>", "", dom)  # the rendered elements, not the embedded data
    sys.path.insert(0, str(REPO / "src"))
    from colliderflow.study import load, study_names

    categories = sorted({load(n).category for n in study_names() if n != "example"} | {"Summary"})
    absent = [c for c in categories if c not in dom]
    print(f"categories rendered: {len(categories) - len(absent)}/{len(categories)}; absent: {absent or 'none'}")


if __name__ == "__main__":
    main()
