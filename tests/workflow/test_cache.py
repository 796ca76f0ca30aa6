"""Between-workflow output cache: a second workdir reuses the generated toy
datasets without recomputing them; a changed parameter recomputes."""

from __future__ import annotations

import pytest

from ..conftest import REPO

pytestmark = pytest.mark.workflow

SMOKE = REPO / "config" / "tiers" / "smoke.yaml"
ARTIFACTS = {  # cached rule -> (output, log)
    "dimuon_toy": ("resources/dimuon/toy/dimuon_nanoaod.root", "logs/data/dimuon_toy.log"),
    "lhco_toy": ("resources/lhco/toy/events_anomalydetection_v2.features.h5", "logs/data/lhco_toy.log"),
}


@pytest.fixture
def tiny(tmp_path):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("data:\n  dimuon:\n    toy:\n      n_events: 3000\n"
                   "  lhco:\n    toy:\n      n_background: 3000\n      n_signal: 300\n")
    return cfg


def _run(run_snakemake, wd, cache, cfg, **config):
    wd.mkdir()
    targets = [out for out, _ in ARTIFACTS.values()]
    return run_snakemake(wd, *targets, "--cache", configfiles=[SMOKE, cfg], config=config or None,
                         env={"SNAKEMAKE_OUTPUT_CACHE": str(cache)})


def test_second_workdir_reuses_cached_toys_and_new_seed_recomputes(tmp_path, run_snakemake, tiny):
    cache = tmp_path / "cache"
    cache.mkdir()
    first, second, third = tmp_path / "a", tmp_path / "b", tmp_path / "c"

    _run(run_snakemake, first, cache, tiny)
    for out, log in ARTIFACTS.values():
        assert "done:" in (first / log).read_text(), "generator logs its own timing (no benchmark: on cached rules)"
        assert (first / out).is_symlink() and cache in (first / out).resolve().parents, "stored in the cache"
    stored = sorted(p.name for p in cache.iterdir())
    assert len(stored) == 2

    proc = _run(run_snakemake, second, cache, tiny)
    for rule, (out, log) in ARTIFACTS.items():
        # snakemake touches the log of a job fetched from the cache; the generator never wrote to it
        assert not (second / log).exists() or not (second / log).read_text(), f"{rule} ran again"
        assert (second / out).resolve() == (first / out).resolve()
    assert (proc.stdout + proc.stderr).count("from cache") == 2
    assert sorted(p.name for p in cache.iterdir()) == stored

    _run(run_snakemake, third, cache, tiny, seed=7)  # a changed parameter
    for rule, (out, log) in ARTIFACTS.items():
        assert "done:" in (third / log).read_text(), f"{rule} did not recompute for a new seed"
        assert (third / out).resolve() != (first / out).resolve()
        assert (third / out).read_bytes() != (first / out).read_bytes()
    assert len(list(cache.iterdir())) == 4


def test_cached_rules_key_on_the_generator_code():
    """Code is part of the cache key (a `code` param: the hash of the step's
    package), not only the rule; cached rules have no benchmark:."""
    import yaml

    from colliderflow.dag import StepRule

    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    text = (REPO / "workflow/rules/data.smk").read_text()
    for rule in ARTIFACTS:
        body = text.split(f"rule {rule}:")[1].split("\nrule ")[0]
        assert "cache: S.cache" in body and "benchmark:" not in body
        step = StepRule("data", rule, config=config, basedir=str(REPO))
        assert step.cache == "omit-software" and len(step.params["code"]) == 16
