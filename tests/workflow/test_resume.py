"""Resumability: a run killed hard in the middle of a rule completes when
re-run, leaves no incomplete file, and gives the outputs of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from colliderflow.io import atomic_path

from ..conftest import REPO, snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

SMOKE = REPO / "config" / "tiers" / "smoke.yaml"
TOY = "resources/lhco/toy/events_anomalydetection_v2.features.h5"
TARGET = "resources/lhco/toy/events.h5"
# larger than the smoke tier, so the resumed output is a non-trivial file
LARGE = "data:\n  lhco:\n    toy:\n      n_background: 200000\n      n_signal: 20000\n"


def test_atomic_path_removes_a_killed_writers_temporary(tmp_path):
    out = tmp_path / "x.h5"
    stale = tmp_path / ".x.abcd1234.h5"  # what a SIGKILLed writer leaves: its temporary folder
    stale.mkdir()
    (stale / "x.h5").write_text("half")
    older = tmp_path / ".x.efgh5678.h5"  # (an older version's temporary file)
    older.write_text("half")
    other = tmp_path / ".y.abcd1234.h5"
    other.write_text("another output's")
    with atomic_path(out) as tmp:
        assert tmp.name == "x.h5"  # writers that store their file name store the final one
        tmp.write_text("ok")
    assert out.read_text() == "ok" and not stale.exists() and not older.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".y.abcd1234.h5", "x.h5"]


def _leftovers(wd: Path) -> list[Path]:
    incomplete = list((wd / ".snakemake" / "incomplete").glob("*"))
    hidden = list((wd / "resources").rglob(".*"))  # a writer's temporary folder or file
    return incomplete + hidden


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    cfg = tmp_path_factory.mktemp("large") / "large.yaml"
    cfg.write_text(LARGE)
    return cfg


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, large):
    ref = tmp_path_factory.mktemp("uninterrupted")
    snakemake(ref, TARGET, configfiles=[SMOKE, large])
    return ref


# SIGKILL: the hard case (no cleanup at all, as on a node failure); SIGTERM cleans up
# more and passes the same way, but costs ~20 s more of CI time.
@pytest.mark.parametrize("sig", [signal.SIGKILL], ids=["SIGKILL"])
def test_killed_run_resumes_and_matches_an_uninterrupted_run(sig, tmp_path, large, uninterrupted):
    cfg, ref, wd = large, uninterrupted, tmp_path / "killed"
    wd.mkdir()

    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(wd), "--cores", "2", TARGET,
           "--configfile", str(SMOKE), str(cfg)]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    killed_while = None
    try:
        # Kill as soon as the generator job is marked incomplete (it then needs
        # ~0.5 s of imports before it can write anything) or its hidden temporary
        # appears, whichever is seen first: no timing window that a fast machine
        # can run through (an earlier 1 s wait let the whole DAG finish on CI).
        t0 = time.time()
        while time.time() - t0 < 120 and proc.poll() is None:
            if list((wd / TOY).parent.glob(".*.h5")):
                killed_while = "writing the output"
                break
            if list((wd / ".snakemake" / "incomplete").glob("*")):
                killed_while = "running the generator"
                break
            time.sleep(0.005)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, sig)  # the whole group: snakemake and its job, as a batch system or Ctrl-C does
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert killed_while, "the run finished before it could be killed"
    assert not (wd / TOY).exists() and not (wd / TARGET).exists(), "killed mid-rule: no output yet"
    if sig == signal.SIGKILL:
        # nothing could clean up: the job stays marked incomplete and the
        # directory locked; `--unlock` is the documented recovery step
        assert list((wd / ".snakemake" / "incomplete").glob("*")), "killed mid-rule: the job is marked incomplete"
        snakemake(wd, "--unlock", configfiles=[SMOKE, cfg])
    snakemake(wd, TARGET, configfiles=[SMOKE, cfg])  # rerun-incomplete comes from profiles/default
    assert not _leftovers(wd), _leftovers(wd)
    # HDF5 files carry creation times, so equal contents rather than bytes
    for f in (TOY, TARGET):
        pd.testing.assert_frame_equal(pd.read_hdf(wd / f), pd.read_hdf(ref / f))
    print(f"{sig.name} while {killed_while}; resumed outputs equal the uninterrupted run")
