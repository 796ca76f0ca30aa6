"""Shared fixtures: the repository, the real-data excerpts beside it, and a
Snakemake runner that executes the workflow in a temporary directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Import this checkout's library even when another checkout is installed editable.
sys.path.insert(0, str(REPO / "src"))
SHARED_DATA = Path(os.environ.get("COLLIDERFLOW_SHARED", REPO.parent / "shared")) / "data"
os.environ.setdefault("COLLIDERFLOW_QUIET", "1")  # no progress bars in test logs
#: plotting.save checks every figure into this file (of the run's workdir) when the variable names it
FIGURE_CHECK_ENV, FIGURE_CHECK_FILE = "COLLIDERFLOW_FIGURE_CHECK", "figure_check.jsonl"


def study_config(name: str) -> dict:
    """A fresh copy of the default-tier ``studies.<name>`` section of config/config.yaml."""
    import yaml

    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())["studies"][name]


def schema_errors(study: str, section: dict) -> list[str]:
    """Where a study's schema fragment rejects a config section (dotted key paths)."""
    from colliderflow.dag import validator

    return [".".join(map(str, e.path)) for e in validator(study).iter_errors(section)]


def strict_metrics(path: Path) -> dict:
    """A study's metrics.json, failing the test if it holds NaN or Infinity
    (not JSON, and a sign of a metric that was never computed)."""
    import json

    return json.loads(Path(path).read_text(), parse_constant=lambda c: pytest.fail(f"{path} holds {c}"))


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a test module, as the rules run (threads: 1): two
    threads on a loaded 2-core machine spin instead of helping."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real excerpts); tests that need it skip without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-data excerpts not found at {SHARED_DATA} (a user's clone has no ../shared; CI has it)")
    return SHARED_DATA


def snakemake(workdir: Path, *args: str, configfiles=(), config: dict | None = None, check: bool = True,
              timeout: int = 900, prefix=(), env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``snakemake`` on the repository's Snakefile in ``workdir``.

    Targets go before ``--configfile`` (which takes several values). ``prefix``
    is put before the command (e.g. ``nsenter --net=...``); ``env`` adds
    environment variables.
    """
    cmd = [*prefix, sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--cores", "2", *args]
    if configfiles:
        cmd += ["--configfile", *map(str, configfiles)]
    if config:
        cmd += ["--config", *[f"{k}={v}" for k, v in config.items()]]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               **(env or {}))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


@pytest.fixture
def run_snakemake():
    return snakemake


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, pytestconfig):
    """The whole smoke tier, run once per test session; returns the workdir.

    Study tests read their results/<study>/metrics.json from here, so the
    suite runs the pipeline only once. ``COLLIDERFLOW_SMOKE_STUDIES=a,b``
    runs only those studies (for working on one study; the other studies'
    smoke tests then fail on their missing results). Every figure the run
    saves is checked (``plotting.check_figure``) into
    ``<workdir>/figure_check.jsonl`` (tests/workflow/test_figures.py).
    """
    wd = tmp_path_factory.mktemp("smoke")
    configfiles = [REPO / "config" / "tiers" / "smoke.yaml"]
    only = os.environ.get("COLLIDERFLOW_SMOKE_STUDIES")
    if only:
        import yaml

        names = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["studies"]
        keep = {n.strip() for n in only.split(",")}
        (wd / "only.yaml").write_text(yaml.safe_dump({"studies": {n: {"enabled": n in keep} for n in names}}))
        configfiles.append(wd / "only.yaml")
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():  # shown even under pytest -q
        print(f"\n[colliderflow] preparing the smoke tier in {wd} for the tests that read it "
              "(once per session, a few minutes)", file=sys.stderr, flush=True)
    snakemake(wd, configfiles=configfiles, timeout=1800, env={FIGURE_CHECK_ENV: str(wd / FIGURE_CHECK_FILE)})
    return wd


WORKFLOW_FIXTURES = {"smoke_run", "run_snakemake"}


def pytest_collection_modifyitems(items):
    """Tests that run Snakemake (through a fixture) are marked ``workflow``
    automatically, so ``pytest -m "not workflow"`` really skips them."""
    workflow_dir = REPO / "tests" / "workflow"
    for item in items:
        if WORKFLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or workflow_dir in Path(item.path).parents:
            item.add_marker(pytest.mark.workflow)
