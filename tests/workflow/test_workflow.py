"""The workflow itself: tiers, config validation, lint, environments, smoke run."""

from __future__ import annotations

import json
import re
import tomllib

import pytest
import yaml

from ..conftest import REPO

TIERS = sorted((REPO / "config" / "tiers").glob("*.yaml"))


def test_default_tier_dry_run(tmp_path, run_snakemake):
    proc = run_snakemake(tmp_path, "-n")
    assert "summary" in proc.stdout and "dimuon_spectrum" in proc.stdout


@pytest.mark.parametrize("tier", [t for t in TIERS if t.stem != "real"], ids=lambda p: p.stem)
def test_tier_dry_run(tier, tmp_path, run_snakemake):
    run_snakemake(tmp_path, "-n", configfiles=[tier])


def test_real_tier_dry_run(shared_data, tmp_path, run_snakemake):
    # the real tier names ../shared/data relative to the working directory
    (tmp_path / "shared").symlink_to(shared_data.parent)
    wd = tmp_path / "work"
    wd.mkdir()
    proc = run_snakemake(wd, "-n", configfiles=[REPO / "config/tiers/real.yaml"])
    # neither a dimuon_toy job nor a line of it in the job table (the cache notice names the rule)
    assert not re.search(r"(?m)^(rule dimuon_toy:|dimuon_toy\s+\d+$)", proc.stdout + proc.stderr), \
        "real tier must not generate toy data"


def test_every_study_can_be_switched_off(tmp_path, run_snakemake):
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    off = tmp_path / "off.yaml"
    off.write_text(yaml.safe_dump({"studies": {s: {"enabled": False} for s in cfg["studies"]}}))
    proc = run_snakemake(tmp_path, "-n", configfiles=[off])
    assert "dimuon_spectrum" not in proc.stdout


@pytest.mark.parametrize("override, key", [("seed=abc", "seed"), ("tier=bogus", "tier")])
def test_wrong_config_value_is_named(override, key, tmp_path, run_snakemake):
    k, v = override.split("=")
    proc = run_snakemake(tmp_path, "-n", config={k: v}, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert f"config --config: {key}: '{v}'" in out and "Traceback" not in out


def test_wrong_nested_type_is_named(tmp_path, run_snakemake):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  dimuon:\n    toy:\n      n_events: lots\n")
    proc = run_snakemake(tmp_path, "-n", configfiles=[bad], check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "'lots' is not of type 'integer'" in out and "n_events" in out


def test_lint_is_clean(tmp_path, run_snakemake):
    proc = run_snakemake(REPO, "--lint")
    out = proc.stdout + proc.stderr
    assert "Lints for" not in out, out[-3000:]


def _pins(requirements):
    out = {}
    for r in requirements:
        if isinstance(r, str) and "==" in r and not r.startswith("-"):
            name, ver = r.split(";")[0].split("==")  # an environment marker may follow
            out[name.strip().lower()] = ver.strip()
    return out


def test_envs_pin_the_same_versions_as_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = _pins(project["dependencies"])
    assert pins["torch"] == "2.13.0"
    assert all("==" in d for d in project["dependencies"]), "every direct dependency is pinned"
    lock = _pins((REPO / "requirements.lock").read_text().splitlines())
    for name, ver in pins.items():
        assert lock.get(name) == ver, f"requirements.lock disagrees with pyproject on {name}"
    envs = sorted((REPO / "envs").glob("*.yaml"))
    assert envs
    for env in envs:
        spec = yaml.safe_load(env.read_text())
        pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d)
        env_pins = _pins(pip)
        unpinned = [p for p in pip if not p.startswith("-") and "==" not in p]
        assert not unpinned, f"{env.name}: unpinned {unpinned}"
        for name, ver in env_pins.items():
            assert pins.get(name) == ver, f"{env.name}: {name}=={ver} but pyproject pins {pins.get(name)}"


def test_smoke_tier_outputs(smoke_run):
    summary = (smoke_run / "results/summary.md").read_text()
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    for study, c in cfg["studies"].items():
        if c.get("enabled", True):
            m = json.loads((smoke_run / f"results/{study}/metrics.json").read_text())
            assert m["study"] == study and m["tier"] == "smoke"
            # a physics yes/no, or null when a model did not learn (then the verdict names it)
            assert isinstance(m["holds"], bool) or m["verdict"]["text"].startswith("did not train: "), m["verdict"]
            assert f"| {study} |" in summary
            assert list((smoke_run / f"results/{study}/benchmarks").glob("*.tsv")), "per-rule benchmark files"
    assert re.search(r"\| (yes|no) \| [^|]* \| [\d.]+ \|", summary)


def test_smoke_dimuon_physics(smoke_run):
    m = json.loads((smoke_run / "results/dimuon/metrics.json").read_text())
    z = m["metrics"]["z"]
    assert abs(z["mass"] - 91.19) < 1.0
    assert m["holds"] is True
    assert (smoke_run / "results/dimuon/dimuon_spectrum.pdf").stat().st_size > 1000


def test_rerun_is_a_no_op(smoke_run, run_snakemake):
    proc = run_snakemake(smoke_run, "-n", configfiles=[REPO / "config/tiers/smoke.yaml"])
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_real_tier_dimuon_on_cms_open_data(shared_data, tmp_path, run_snakemake):
    (tmp_path / "shared").symlink_to(shared_data.parent)
    wd = tmp_path / "work"
    wd.mkdir()
    run_snakemake(wd, "results/dimuon/metrics.json", configfiles=[REPO / "config/tiers/real.yaml"])
    m = json.loads((wd / "results/dimuon/metrics.json").read_text())
    assert m["tier"] == "real" and m["metrics"]["real_data"] is True
    assert abs(m["key_metric"]["value"] - 91.19) < 1.0


def test_report_has_every_study_figure(smoke_run, run_snakemake):
    report = smoke_run / "report.html"
    only = [smoke_run / "only.yaml"] if (smoke_run / "only.yaml").exists() else []  # COLLIDERFLOW_SMOKE_STUDIES
    run_snakemake(smoke_run, "--report", str(report), configfiles=[REPO / "config/tiers/smoke.yaml", *only])
    html = report.read_text(errors="replace")
    assert "summary.md" in html
    # a caption docutils cannot parse (e.g. |eta|, an undefined substitution) shows as a system message
    assert "System Message" not in html and "Docutils" not in html, "a caption has reStructuredText errors"
    for png in sorted((smoke_run / "results").glob("*/*.png")):
        assert png.name in html, f"{png.name} missing from the report"
