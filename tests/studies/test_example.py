"""The worked example study (docs/adding-a-study.md): it runs through
Snakemake in seconds, its claim holds on Gaussian data, and its verdict
rejects the naive case where the claim is false (Cauchy data)."""

from __future__ import annotations

import pytest
import yaml

from colliderflow.studies.example import Config, verdict

from ..conftest import REPO, strict_metrics

SMALL = {"n_events": 50, "n_experiments": 1000, "n_bootstrap": 100, "margin": 3.0}


def _only_example(tmp_path, **overrides):
    names = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["studies"]
    studies = {n: {"enabled": False} for n in names}
    studies["example"] = {"enabled": True, **SMALL, **overrides}
    cfg = tmp_path / "example.yaml"
    cfg.write_text(yaml.safe_dump({"studies": studies}))
    return cfg


@pytest.mark.parametrize("distribution, holds", [("gaussian", True), ("cauchy", False)])
def test_example_study_runs_and_its_verdict_can_fail(distribution, holds, tmp_path, run_snakemake):
    run_snakemake(tmp_path, configfiles=[_only_example(tmp_path, distribution=distribution)])
    m = strict_metrics(tmp_path / "results/example/metrics.json")
    assert m["holds"] is holds and m["tier"] == "default"
    assert (tmp_path / "results/example/estimators.png").stat().st_size > 1000
    assert (tmp_path / "logs/example/estimate.job.json").is_file()
    comps = {c["competitor"]: c for c in m["verdict"]["comparisons"]}
    if distribution == "gaussian":  # sqrt(pi/2) = 1.25; 1000 experiments: about +-0.05
        assert m["metrics"]["spread_ratio"] == pytest.approx(1.2533, abs=0.2)
        assert all(c["holds"] for c in comps.values())
    else:  # the mean of Cauchy draws is as wide as one draw: the null comparison fails
        assert not comps["a single draw (no averaging)"]["holds"]
    assert "example" in (tmp_path / "results/summary.md").read_text()


def test_verdict_needs_the_margin():
    cfg = Config(distribution="gaussian", n_events=1, n_experiments=10, n_bootstrap=10, margin=3.0, tolerance=0.2)
    base = {"spread_ratio": 1.25, "spread_ratio_single_draw": 7.0, "spread_ratio_single_draw_error": 0.3,
            "n_bootstrap": 10, "expected_ratio_gaussian": 1.2533}
    assert verdict({**base, "spread_ratio_error": 0.05}, cfg).holds
    assert not verdict({**base, "spread_ratio_error": 0.09}, cfg).holds  # 0.25 < 3 SE
    assert not verdict({**base, "spread_ratio": 1.05, "spread_ratio_error": 0.01}, cfg).holds  # not sqrt(pi/2)
    v = verdict({**base, "spread_ratio_error": 0.05, "spread_ratio_single_draw": 1.02}, cfg)  # averaging useless
    assert not v.holds and [c.holds for c in v.comparisons if c.null] == [False]
