"""A real SLURM cluster: the smoke subset through profiles/slurm equals a local run.

A one-node cluster (munged, slurmctld, slurmd from Debian's slurm-wlm) is
started in a network namespace that has only loopback, so nothing listens on
an external interface. The daemons are children of this process and are
stopped by PID in the fixture's finalizer, always; the namespace and the
config file are removed too. Needs root (/etc/slurm, namespaces) and Debian's
slurm-wlm and munge (`make slurm-deps`; the test suite installs nothing):
elsewhere the test is skipped with the reason, unless
COLLIDERFLOW_REQUIRE_SLURM=1 (set by .ci/run), which turns the skip into a
failure so that CI cannot silently lose the cluster test.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ..conftest import REPO, snakemake

pytestmark = [pytest.mark.slow, pytest.mark.workflow]

SMOKE = REPO / "config" / "tiers" / "smoke.yaml"
TARGETS = ("results/dimuon/metrics.json", "resources/lhco/toy/events.h5", "results/summary.md")
CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# colliderflow test cluster (tests/test_slurm.py); removed when the test ends\n"
DAEMONS = ("munged", "slurmctld", "slurmd", "sinfo", "sbatch", "squeue", "scancel")


def _bin(name: str) -> str:
    """Full path of a tool (daemons live in /usr/sbin, which PATH may lack)."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin") or name


def _unavailable(reason: str):
    if os.environ.get("COLLIDERFLOW_REQUIRE_SLURM") == "1":
        pytest.fail(f"SLURM test required (COLLIDERFLOW_REQUIRE_SLURM=1) but: {reason}")
    pytest.skip(reason)


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "needs root (daemons, /etc/slurm/slurm.conf, network namespace)"
    for tool in ("ip", "nsenter"):
        if _bin(tool) == tool:
            return f"{tool} not found"
    missing = [d for d in DAEMONS if _bin(d) == d]
    if missing:  # the suite installs nothing: `make slurm-deps` (run by .ci/run) does
        return f"{', '.join(missing)} not installed (Debian slurm-wlm and munge: `make slurm-deps`)"
    if CONF.exists() and not CONF.read_text().startswith(MARKER):
        return f"{CONF} exists and belongs to a real SLURM installation; not touching it"
    return None


def _slurm_conf(d: Path) -> str:
    mem = min(8000, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 - 1000)
    return MARKER + f"""ClusterName=colliderflow
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket={d}/munge.sock
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
MinJobAge=300
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
NodeName=localhost CPUs={os.cpu_count()} RealMemory={mem} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


class Cluster:
    def __init__(self):
        self.ns = f"cfslurm{os.getpid()}"
        self.nsenter = (_bin("nsenter"), f"--net=/run/netns/{self.ns}")
        self.dir = Path(tempfile.mkdtemp(prefix="cf-slurm-"))
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.ns_made = self.conf_written = False
        self.lock = None

    def sh(self, tool, *args, check=True, timeout=30):
        return subprocess.run([*self.nsenter, _bin(tool), *args], capture_output=True, text=True, check=check,
                              timeout=timeout)

    def daemon(self, name, *cmd):
        log = open(self.dir / f"{name}.out", "w")
        p = subprocess.Popen([*self.nsenter, _bin(cmd[0]), *cmd[1:]], stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
        self.procs.append((name, p))  # nsenter execs the daemon: p.pid is the daemon's PID

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted(self.dir.glob("*.out")))

    def start(self):
        # one test cluster per machine at a time: the config path is global
        self.lock = open("/tmp/colliderflow-slurm-test.lock", "w")
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        subprocess.run([_bin("ip"), "netns", "add", self.ns], check=True, capture_output=True)
        self.ns_made = True
        self.sh("ip", "link", "set", "lo", "up")
        self.sh("ip", "addr", "add", "127.0.0.2/8", "dev", "lo")
        links = self.sh("ip", "-o", "link", "show").stdout
        assert [ln.split(":")[1].strip() for ln in links.splitlines()] == ["lo"], links
        for sub in ("state", "spool"):
            (self.dir / sub).mkdir()
        key = self.dir / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        d = self.dir
        self.daemon("munged", "munged", "-F", "--force", f"--socket={d}/munge.sock", f"--key-file={key}",
                    f"--pid-file={d}/munged.pid", f"--log-file={d}/munged.log", f"--seed-file={d}/munged.seed")
        self._wait(lambda: (d / "munge.sock").exists(), "munged socket")
        CONF.parent.mkdir(parents=True, exist_ok=True)
        CONF.write_text(_slurm_conf(d))
        self.conf_written = True
        self.daemon("slurmctld", "slurmctld", "-D", "-i")
        self.daemon("slurmd", "slurmd", "-D", "-N", "localhost")
        self._wait(lambda: self.sh("sinfo", "-h", "-o", "%t", check=False).stdout.strip() == "idle", "node idle")

    def _wait(self, ok, what, timeout=60):
        t0 = time.time()
        while time.time() - t0 < timeout:
            for name, p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited ({p.returncode}) waiting for {what}\n{self.logs()}")
            if ok():
                return
            time.sleep(0.3)
        raise RuntimeError(f"timed out waiting for {what}\n{self.logs()}")

    def stop(self):
        try:
            if self.procs and all(p.poll() is None for _, p in self.procs):
                # jobs first: their slurmstepd processes are the cluster's, not the shell's
                self.sh("scancel", "--full", "--user=root", check=False)
                t0 = time.time()
                while time.time() - t0 < 20 and self.sh("squeue", "-h", check=False).stdout.strip():
                    time.sleep(0.5)
        finally:
            for _, p in reversed(self.procs):
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
                    try:
                        p.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait(timeout=10)
            if self.conf_written and CONF.exists() and CONF.read_text().startswith(MARKER):
                CONF.unlink()
            if self.ns_made:
                subprocess.run([_bin("ip"), "netns", "delete", self.ns], capture_output=True)
            shutil.rmtree(self.dir, ignore_errors=True)
            if self.lock:
                self.lock.close()


@pytest.fixture(scope="module")
def slurm_cluster(request):
    why = _why_not()
    if why:
        _unavailable(why)
    cluster = Cluster()
    request.addfinalizer(cluster.stop)  # registered before start: a half-started cluster is torn down too
    t0 = time.time()
    cluster.start()
    print(f"SLURM cluster up in {time.time() - t0:.1f} s (namespace {cluster.ns})")
    return cluster


def _summary_table(path: Path) -> list[list[str]]:
    """The summary's table rows without the CPU-time column (it differs per run)."""
    rows = [ln.split("|")[1:-1] for ln in path.read_text().splitlines() if ln.startswith("|")]
    return [[c.strip() for c in r[:-1]] for r in rows]


def _numbers(x, prefix=""):
    """Flatten a metrics document into {path: value}."""
    if isinstance(x, dict):
        out = {}
        for k, v in x.items():
            out.update(_numbers(v, f"{prefix}{k}."))
        return out
    if isinstance(x, list):
        out = {}
        for i, v in enumerate(x):
            out.update(_numbers(v, f"{prefix}{i}."))
        return out
    return {prefix.rstrip("."): x}


TIMING = re.compile(r"cpu|wall|time|seconds")


def assert_same_results(a: Path, b: Path, rel=1e-6):
    """Two workdirs produced the same smoke-subset results (same seed, same code).

    Data files must be equal; fitted numbers within ``rel`` (a minimiser may
    take another path with another BLAS thread count); timings are skipped.
    """
    ma = _numbers(json.loads((a / TARGETS[0]).read_text()))
    mb = _numbers(json.loads((b / TARGETS[0]).read_text()))
    assert ma.keys() == mb.keys()
    for k in ma:
        if TIMING.search(k):
            continue
        if isinstance(ma[k], float):
            assert ma[k] == pytest.approx(mb[k], rel=rel, abs=1e-12), k
        else:
            assert ma[k] == mb[k], k
    pd.testing.assert_frame_equal(pd.read_hdf(a / TARGETS[1]), pd.read_hdf(b / TARGETS[1]))
    assert _summary_table(a / TARGETS[2]) == _summary_table(b / TARGETS[2])


@pytest.fixture(scope="module")
def subset_config(tmp_path_factory):
    """Smoke tier with only the dimuon study enabled: the summary then needs
    no other study (their training rules would each be a batch job)."""
    studies = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["studies"]
    cfg = tmp_path_factory.mktemp("subset") / "subset.yaml"
    cfg.write_text(yaml.safe_dump({"studies": {s: {"enabled": s == "dimuon"} for s in studies}}))
    return [SMOKE, cfg]


@pytest.fixture(scope="module")
def local_subset(tmp_path_factory, subset_config):
    wd = tmp_path_factory.mktemp("local-subset")
    snakemake(wd, *TARGETS, configfiles=subset_config)
    return wd


# Each chain is one SLURM job (a Snakemake group): the plugin's status polling
# backs off by 10 s per idle check, so every extra wave of batch jobs costs
# ~30 s here; two parallel group jobs keep the test near a minute. The summary
# is a localrule and runs in the submitting process.
GROUPS = ("lhco_toy=lhco", "lhco_prepare=lhco", "dimuon_toy=dimuon", "dimuon_spectrum=dimuon")


def test_smoke_subset_on_slurm_equals_local(slurm_cluster, local_subset, subset_config, tmp_path):
    t0 = time.time()
    logs = tmp_path / "slurm-logs"
    proc = snakemake(tmp_path, *TARGETS, "--groups", *GROUPS, "--profile", str(REPO / "profiles" / "slurm"),
                     "--slurm-no-account", "--slurm-init-seconds-before-status-checks", "1",
                     "--slurm-keep-successful-logs", "--slurm-logdir", str(logs), "--latency-wait", "5",
                     configfiles=subset_config, prefix=slurm_cluster.nsenter, check=False, timeout=300)
    wall = time.time() - t0
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise AssertionError(f"SLURM run failed ({proc.returncode}):\n{out[-6000:]}\n{slurm_cluster.logs()}")
    print(f"smoke subset through profiles/slurm: {wall:.1f} s wall")
    # the jobs really went through sbatch and ran on the node under slurmstepd
    jobids = set(re.findall(r"submitted with SLURM jobid (\d+)", out))
    assert len(jobids) == 2, out[-3000:]
    job_logs = sorted(logs.rglob("*.log"))
    assert len(job_logs) == 2, job_logs
    ran = "\n".join(p.read_text() for p in job_logs)
    for rule in ("lhco_toy", "lhco_prepare", "dimuon_toy", "dimuon_spectrum"):
        assert f"rule {rule}:" in ran, f"{rule} did not run inside a SLURM job"
    assert_same_results(local_subset, tmp_path)


def test_grouped_components_run_as_one_slurm_job(slurm_cluster, local_subset, subset_config, tmp_path):
    """Small independent jobs grouped (`group:` + `--group-components`), as a
    paper-tier scan is, so that a SLURM queue is not flooded: the two toy
    chains go to the cluster as one batch job and give the local results.
    Nothing here asks for a GPU (the test cluster has none): resources.device
    is auto on a machine without one, so no rule requests a GPU."""
    logs = tmp_path / "slurm-logs"
    proc = snakemake(tmp_path, *TARGETS, "--groups", *(f"{g.split('=')[0]}=toys" for g in GROUPS),
                     "--group-components", "toys=2", "--profile", str(REPO / "profiles" / "slurm"),
                     "--slurm-no-account", "--slurm-init-seconds-before-status-checks", "1",
                     "--slurm-keep-successful-logs", "--slurm-logdir", str(logs), "--latency-wait", "5",
                     configfiles=subset_config, prefix=slurm_cluster.nsenter, check=False, timeout=300,
                     env={"COLLIDERFLOW_DEVICE": "auto", "CUDA_VISIBLE_DEVICES": ""})
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise AssertionError(f"SLURM run failed ({proc.returncode}):\n{out[-6000:]}\n{slurm_cluster.logs()}")
    assert len(set(re.findall(r"submitted with SLURM jobid (\d+)", out))) == 1, out[-3000:]
    assert "gpu=1" not in out and "--gres" not in out
    ran = "\n".join(p.read_text() for p in sorted(logs.rglob("*.log")))
    for rule in ("lhco_toy", "lhco_prepare", "dimuon_toy", "dimuon_spectrum"):
        assert f"rule {rule}:" in ran, f"{rule} did not run inside the grouped SLURM job"
    assert_same_results(local_subset, tmp_path)
