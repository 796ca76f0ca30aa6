"""A study that still runs toy data in a tier says so in metrics.json's tier,
with the reason; an unknown study in `toy_data` is a one-line config error."""

from __future__ import annotations

from pathlib import Path

import yaml

from colliderflow import dag

REPO = Path(__file__).resolve().parents[2]


def test_tier_label_names_the_toy_and_why():
    cfg = {"tier": "real", "toy_data": {"fab": "no dataset"}}
    assert dag.tier_label(cfg, "fab") == "real (toy data: no dataset)"
    assert dag.tier_label(cfg, "dimuon") == "real"
    assert dag.tier_label({"tier": "default"}, "fab") == "default"


def test_every_rule_passes_the_label_to_its_job():
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["tier"], cfg["toy_data"] = "real", {"fab": "no dataset"}
    rule = dag.StepRule("fab", "train", config=cfg, basedir=str(REPO))
    assert rule.params["tier"] == "real (toy data: no dataset)"


def test_unknown_study_in_toy_data_is_a_config_error():
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["toy_data"] = {"not_a_study": "why"}
    msg = dag.config_error(cfg, str(REPO), [str(REPO / "config" / "config.yaml")], {})
    assert msg == "config/config.yaml: toy_data.not_a_study: not a study" or msg.endswith(
        "toy_data.not_a_study: not a study")


def test_the_real_tier_labels_its_toy_studies():
    real = yaml.safe_load((REPO / "config" / "tiers" / "real.yaml").read_text())
    assert {"tails_abcd", "bsm_scan", "fab"} <= set(real["toy_data"])
    assert all(isinstance(v, str) and v for v in real["toy_data"].values())
