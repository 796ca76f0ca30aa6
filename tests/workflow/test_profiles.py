"""Cluster profiles: every profile parses (plugin options included), and each
rule's requests come from its step (memory, runtime, queue, and a GPU for
exactly the steps that can use one), not from per-rule lists in the profiles."""

from __future__ import annotations

import re

import pytest
import yaml

from colliderflow.dag import job_flavour
from colliderflow.study import load, study_names

from ..conftest import REPO

PROFILES = ("slurm", "htcondor")
SMOKE = REPO / "config" / "tiers" / "smoke.yaml"


def _resources(dry_run_output: str) -> dict[str, str]:
    """rule name -> its 'resources:' line in a dry run."""
    out = {}
    for m in re.finditer(r"\nrule (\w+):\n(?:    .*\n)*?    resources: (.*)\n", dry_run_output):
        out[m.group(1)] = m.group(2)
    return out


def _steps() -> dict:
    out = {}
    for name in ("data", "shared", *study_names()):
        spec = load(name)
        for step in spec.steps:
            out[spec.rule_name(step.name)] = step
    return out


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_dry_run_takes_each_rules_requests_from_its_step(profile, tmp_path, run_snakemake):
    if profile == "htcondor":
        pytest.importorskip("snakemake_executor_plugin_htcondor",
                            reason="the htcondor extra is not installed (pip install -e '.[htcondor]'; CI has it)")
    # a run that trains on CUDA (a batch node's COLLIDERFLOW_DEVICE wins over the config, as in the jobs)
    proc = run_snakemake(tmp_path, "-n", "--profile", str(REPO / "profiles" / profile), configfiles=[SMOKE],
                         env={"COLLIDERFLOW_DEVICE": "cuda"})
    res = _resources(proc.stdout + proc.stderr)
    steps = _steps()
    assert {"lhco_toy", "dimuon_toy", "dimuon_spectrum"} <= res.keys()
    gpu_rules = set()
    for rule, line in res.items():
        if rule not in steps:
            continue  # rule all
        step = steps[rule]
        if profile == "slurm":
            assert f"mem_mb={step.mem_mb}" in line and f"runtime={step.runtime}" in line, (rule, line)
            gpu = "gpu=1" in line
            assert gpu == ("slurm_partition=gpu" in line), line
        else:
            assert f"htcondor_request_mem_mb={step.mem_mb}" in line, (rule, line)
            assert f"classad_JobFlavour={job_flavour(step.runtime)}" in line and "getenv=True" in line, line
            gpu = "request_gpus=1" in line
        assert gpu == step.gpu, f"{profile}: rule {rule} GPU request {gpu}, step says {step.gpu}"
        gpu_rules |= {rule} if gpu else set()
    assert gpu_rules, "the training steps ask for a GPU"
    assert steps["lhco_toy"].mem_mb == 4000 and not steps["lhco_toy"].gpu


@pytest.mark.parametrize("profile", PROFILES)
def test_profiles_list_no_rule_and_retries_grow_the_memory(profile):
    cfg = yaml.safe_load((REPO / "profiles" / profile / "config.yaml").read_text())
    assert cfg["retries"] >= 1 and "set-resources" not in cfg
    key = "mem_mb" if profile == "slurm" else "htcondor_request_mem_mb"
    assert "attempt" in str(cfg["default-resources"][key])


def test_step_requests_grow_with_the_attempt():
    from colliderflow.dag import StepRule

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    res = StepRule("data", "lhco_toy", config=config, basedir=str(REPO)).resources
    assert res["mem_mb"](None, 1) == 4000 and res["mem_mb"](None, 2) == 8000
    assert res["classad_JobFlavour"](None, 1) == "espresso" and res["classad_JobFlavour"](None, 3) == "microcentury"


@pytest.mark.parametrize("device, gpus", [("cpu", False), ("cuda", True), ("cuda:1", True)])
def test_gpu_requests_follow_the_device(device, gpus, monkeypatch):
    """A CPU run requests no GPU anywhere (so `--resources gpu=1` cannot
    serialise it); a CUDA run requests one for the GPU steps only."""
    from colliderflow.dag import StepRule

    monkeypatch.delenv("COLLIDERFLOW_DEVICE", raising=False)
    config = {**yaml.safe_load((REPO / "config" / "config.yaml").read_text()), "resources": {"device": device}}
    ranode_bg = StepRule("ranode", "background", config=config, basedir=str(REPO)).resources
    assert load("ranode").step("background").gpu
    assert ranode_bg.get("gpu", 0) == ranode_bg.get("request_gpus", 0) == int(gpus)
    assert ("slurm_partition" in ranode_bg) == gpus
    assert "gpu" not in StepRule("data", "lhco_toy", config=config, basedir=str(REPO)).resources
    monkeypatch.setenv("COLLIDERFLOW_DEVICE", "cpu")  # the environment wins, as in the jobs
    assert "gpu" not in StepRule("ranode", "background", config=config, basedir=str(REPO)).resources


def test_a_step_that_requests_no_gpu_runs_on_the_cpu(tmp_path, monkeypatch):
    """A job whose step requests no GPU trains on the CPU even in a CUDA run
    (it may land on a node without one), and its log says so."""
    import os

    from colliderflow.dag import validator
    from colliderflow.study import run_job

    monkeypatch.setenv("COLLIDERFLOW_DEVICE", "cuda")
    cfg = {"n_experiments": 10, "n_events": 10}
    validator("example", defaults=True).validate(cfg)
    out, log = tmp_path / "events.npy", tmp_path / "toy.log"
    job = {"step": "example.toy", "cfg": cfg, "seed": 1, "tier": "smoke", "input": {"all": [], "named": {}},
           "output": {"all": [str(out)], "named": {"events": str(out)}}, "log": str(log)}
    assert not load("example").step("toy").gpu
    assert run_job(job) == 0 and out.exists()
    assert "device cpu)" in log.read_text().splitlines()[0]
    assert os.environ["COLLIDERFLOW_DEVICE"] == "cpu"


def test_default_profile_leaves_resources_to_the_cluster_profiles():
    """The workflow profile's keys override a --profile's: it must not carry
    resources, retries or an executor, or the cluster settings are lost."""
    cfg = yaml.safe_load((REPO / "profiles" / "default" / "config.yaml").read_text())
    assert cfg["rerun-incomplete"] is True
    assert not {"default-resources", "set-resources", "retries", "executor", "jobs"} & cfg.keys()
