"""Tiers live side by side (the default tier in the working directory, every
other tier in runs/<tier>/), and the real tier stops before any job, with one
line naming the missing file, when its inputs are absent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from ..conftest import REPO

SMOKE = REPO / "config" / "tiers" / "smoke.yaml"


def _snakemake(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """snakemake started in ``cwd`` without -d, as a user runs it."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores", "2", *args],
                          cwd=cwd, capture_output=True, text=True, env=env, timeout=900)


def test_smoke_after_default_leaves_the_default_tier_untouched(tmp_path):
    names = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["studies"]
    only = tmp_path / "only.yaml"
    only.write_text(yaml.safe_dump({"studies": {n: {"enabled": n == "dimuon"} for n in names},
                                    "data": {"dimuon": {"toy": {"n_events": 20000}}}}))
    run = tmp_path / "checkout"
    run.mkdir()
    proc = _snakemake(run, "--configfile", str(only))
    assert proc.returncode == 0, proc.stderr[-3000:]
    default = run / "results" / "dimuon" / "metrics.json"
    before = default.read_bytes()
    proc = _snakemake(run, "--configfile", str(SMOKE), str(only))
    assert proc.returncode == 0, proc.stderr[-3000:]
    smoke = yaml.safe_load((run / "runs" / "smoke" / "results" / "dimuon" / "metrics.json").read_text())
    assert smoke["tier"] == "smoke"
    assert default.read_bytes() == before and yaml.safe_load(before)["tier"] == "default"
    proc = _snakemake(run, "-n", "--configfile", str(only))
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_real_tier_without_its_data_stops_before_any_job(tmp_path):
    proc = _snakemake(tmp_path, "-n", "--configfile", str(REPO / "config" / "tiers" / "real.yaml"))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    lines = [line for line in out.splitlines() if "not found" in line]
    assert len(lines) == 1 and "config data.lhco.files[0]: " in lines[0], out[-2000:]
    assert str(tmp_path.parent / "shared" / "data") in lines[0] and "README" in lines[0]
    assert "Job stats" not in out and not (tmp_path / "runs").exists()
