"""The paper tier (config/tiers/paper.yaml): its DAG dry-runs through the
SLURM profile without any input (nothing is downloaded or generated), the
GPU steps and only those request a GPU there, its scans have the job
counts the tier sets, and every study it leaves out says why."""

from __future__ import annotations

import re
import time

import pytest
import yaml

from colliderflow import dag
from colliderflow.study import load

from ..conftest import REPO

PAPER = REPO / "config" / "tiers" / "paper.yaml"


def _jobs(out: str) -> dict[str, int]:
    """rule -> job count from the dry run's job-stats table."""
    table = out[out.index("Job stats:"):]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def _resources(out: str) -> dict[str, list[str]]:
    """rule -> the 'resources:' line of each of its jobs."""
    res: dict[str, list[str]] = {}
    for m in re.finditer(r"\n\s*(?:local)?rule (\w+):\n(?:\s+.*\n)*?\s+resources: (.*)\n", out):  # grouped: indented
        res.setdefault(m.group(1), []).append(m.group(2))
    return res


@pytest.fixture(scope="module")
def paper_dry_run(tmp_path_factory):
    from ..conftest import snakemake

    wd = tmp_path_factory.mktemp("paper")
    # the R-ANODE scan at 1 seed x 2 splits (130 jobs, grouped as on the cluster): the full 13,000-job scan
    # dry-runs in ~40 CPU s; its job count is checked in tests/studies/test_ranode.py
    small = tmp_path_factory.mktemp("paper_cfg") / "small_scan.yaml"
    small.write_text("studies:\n  ranode: {seeds: 1, splits: 2}\n")
    t0 = time.time()
    proc = snakemake(wd, "-n", "--profile", str(REPO / "profiles" / "slurm"), configfiles=[PAPER, small],
                     env={"COLLIDERFLOW_DEVICE": ""}, timeout=300)
    out = proc.stdout + proc.stderr
    jobs = _jobs(out)
    print(f"paper tier dry run: {jobs['total']} jobs in {time.time() - t0:.1f} s wall")  # measured, not asserted
    assert not any(wd.iterdir()) or {p.name for p in wd.iterdir()} <= {".snakemake"}, "a dry run wrote outputs"
    return out, jobs


def _config() -> dict:
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    paper = yaml.safe_load(PAPER.read_text())
    from snakemake.utils import update_config

    update_config(cfg, paper)
    dag.fill_defaults(cfg, str(REPO))
    return cfg


def test_paper_dag_lists_every_enabled_study_and_its_scans(paper_dry_run):
    out, jobs = paper_dry_run
    cfg = _config()
    enabled = dag.enabled_studies(cfg)
    assert {"fpga_tagging", "sophon", "lgatr", "omnijet"} <= set(enabled)
    for name in cfg["studies"]:
        spec = load(name)
        ran = {spec.rule_name(s.name) for s in spec.steps} & jobs.keys()
        assert bool(ran) == (name in enabled), f"{name}: enabled {name in enabled}, rules in the DAG {sorted(ran)}"
    # nothing is downloaded: every enabled study says in its metrics.json that it ran a toy, and why
    assert set(enabled) <= set(cfg["toy_data"]), set(enabled) - set(cfg["toy_data"])
    assert dag.tier_label(cfg, "sophon").startswith("paper (toy data: ")
    fpga = cfg["studies"]["fpga_tagging"]
    assert jobs["fpga_tagging_train"] == len(fpga["archs"]) * len(fpga["n_constituents"]) + len(fpga["in_sizes"])
    assert jobs["total"] == sum(v for k, v in jobs.items() if k != "total")


def _steps() -> dict:
    from colliderflow.study import study_names

    return {spec.rule_name(s.name): s for spec in map(load, ("data", "shared", *study_names())) for s in spec.steps}


def test_paper_tier_gpu_steps_and_only_those_request_a_gpu_on_slurm(paper_dry_run):
    out, jobs = paper_dry_run
    res, steps = _resources(out), _steps()
    assert res.keys() >= jobs.keys() - {"total"}
    gpu_rules = set()
    for rule, lines in res.items():
        wants = rule in steps and steps[rule].gpu
        for line in lines:
            assert ("gpu=1" in line) == ("slurm_partition=gpu" in line) == wants, f"{rule}: step gpu={wants}: {line}"
        gpu_rules |= {rule} if wants else set()
    assert {"sophon_pretrain", "lgatr_train", "fpga_tagging_train", "omnijet_backbone"} <= gpu_rules
    assert "fpga_tagging_hls" in res and "sophon_target" in res  # CPU steps of the same studies: no GPU


def test_every_study_the_paper_tier_disables_says_why():
    lines = PAPER.read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"\s+enabled: false", line):
            reason = line.split("#", 1)[1] if "#" in line else lines[i - 1].strip()
            assert reason.strip().lstrip("#").strip(), f"paper.yaml line {i + 1}: a disabled study without a reason"


def test_a_download_without_its_checksum_is_refused():
    """The paper tier invents no checksum: the schema refuses the official
    download until the publisher's checksum is set."""
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["data"]["lhco"]["source"] = "download"
    cfg["data"]["lhco"]["download"] = {"url": "https://zenodo.org/record/4536377/files/events_anomalydetection_v2.features.h5"}
    msg = dag.config_error(cfg, str(REPO), [str(REPO / "config" / "config.yaml")], {})
    assert msg is not None and "data.lhco.download" in msg and "\n" not in msg, msg
    cfg["data"]["lhco"]["download"]["checksum"] = "md5:" + "0" * 32
    assert dag.config_error(cfg, str(REPO), [str(REPO / "config" / "config.yaml")], {}) is None
