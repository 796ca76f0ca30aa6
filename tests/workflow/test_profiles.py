"""Cluster profiles: every profile parses (plugin options included) and gives
each rule the resources it declares; training rules ask for a GPU."""

from __future__ import annotations

import re

import pytest
import yaml

from ..conftest import REPO

PROFILES = ("slurm", "htcondor")
SMOKE = REPO / "config" / "tiers" / "smoke.yaml"
GPU_KEY = {"slurm": "gpu", "htcondor": "request_gpus"}


def _resources(dry_run_output: str) -> dict[str, str]:
    """rule name -> its 'resources:' line in a dry run."""
    out = {}
    for m in re.finditer(r"\nrule (\w+):\n(?:    .*\n)*?    resources: (.*)\n", dry_run_output):
        out[m.group(1)] = m.group(2)
    return out


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_dry_run_sets_per_rule_resources(profile, tmp_path, run_snakemake):
    proc = run_snakemake(tmp_path, "-n", "results/summary.md", "resources/lhco/events.h5", "--profile",
                         str(REPO / "profiles" / profile), configfiles=[SMOKE])
    res = _resources(proc.stdout + proc.stderr)
    assert {"lhco_toy", "dimuon_toy", "dimuon_spectrum"} <= res.keys()
    mem = "mem_mb=4000" if profile == "slurm" else "htcondor_request_mem_mb=4000"
    assert mem in res["lhco_toy"] and mem in res["dimuon_spectrum"]
    if profile == "htcondor":
        assert "getenv=True" in res["dimuon_toy"] and "classad_JobFlavour=microcentury" in res["dimuon_toy"]


@pytest.mark.parametrize("profile", PROFILES)
def test_retries_grow_the_memory(profile):
    cfg = yaml.safe_load((REPO / "profiles" / profile / "config.yaml").read_text())
    assert cfg["retries"] >= 1
    key = "mem_mb" if profile == "slurm" else "htcondor_request_mem_mb"
    assert "attempt" in str(cfg["default-resources"][key])


def _gpu_rules(profile):
    cfg = yaml.safe_load((REPO / "profiles" / profile / "config.yaml").read_text())
    return {rule for rule, res in cfg["set-resources"].items() if res.get(GPU_KEY[profile])}


def test_training_rules_request_a_gpu_on_both_cluster_profiles():
    """GPU requests are resources in the profiles (not in the rules), the same
    training rules on SLURM and HTCondor. A new training rule goes in both."""
    slurm, condor = _gpu_rules("slurm"), _gpu_rules("htcondor")
    assert slurm and slurm == condor
    rules_text = "\n".join(p.read_text() for p in (REPO / "workflow/rules").glob("*.smk"))
    assert "gpu" not in rules_text.lower(), "GPU requests belong in the profiles"
    cfg = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())["set-resources"]
    for rule in slurm:
        assert cfg[rule].get("slurm_partition") and "attempt" in str(cfg[rule]["mem_mb"])


def test_default_profile_leaves_resources_to_the_cluster_profiles():
    """The workflow profile's keys override a --profile's: it must not carry
    resources, retries or an executor, or the cluster settings are lost."""
    cfg = yaml.safe_load((REPO / "profiles" / "default" / "config.yaml").read_text())
    assert cfg["rerun-incomplete"] is True
    assert not {"default-resources", "set-resources", "retries", "executor", "jobs"} & cfg.keys()
