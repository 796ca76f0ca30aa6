"""The rules follow the study contract: one rule per step, named after it,
directives from the step (no shell strings, no copied config values), few
rule files and one entry point."""

from __future__ import annotations

import re

import pytest

from colliderflow.study import load, study_names

from ..conftest import REPO

RULE_FILES = sorted((REPO / "workflow" / "rules").glob("*.smk"))
BLOCK = re.compile(r'(?ms)^S = step\("(\w+)", "(\w+)"(?:, "[^"]*")?\)\n+(?:#[^\n]*\n)*rule (\w+):\n(.*?)(?=^\S|\Z)')


def _rules() -> dict[str, tuple[str, str, str]]:
    out = {}
    for f in RULE_FILES:
        for study, step, rule, body in BLOCK.findall(f.read_text()):
            assert rule not in out, f"rule {rule} defined twice"
            out[rule] = (study, step, body)
    return out


def _keys(body: str, directive: str) -> set[str]:
    m = re.search(rf"(?ms)^    {directive}:\n(.*?)(?=^    \w+:|\Z)", body)
    return set(re.findall(r"(?m)^        (\w+)=", m.group(1))) if m else set()


def test_few_rule_files_and_one_entry_point():
    assert len(RULE_FILES) <= 6, [f.name for f in RULE_FILES]
    scripts = sorted(p.name for p in (REPO / "workflow" / "scripts").iterdir() if p.suffix == ".py")
    assert len(scripts) <= 2, scripts


def test_no_shell_strings_in_rules():
    for f in RULE_FILES:
        text = f.read_text()
        assert not re.search(r"(?m)^\s+(shell|run):", text), f"{f.name}: rules run steps through script: S.script"


def test_every_rule_is_a_step_and_every_step_has_a_rule():
    rules = _rules()
    n_rule_lines = sum(len(re.findall(r"(?m)^rule \w+:", f.read_text())) for f in RULE_FILES)
    assert len(rules) == n_rule_lines, "every rule follows `S = step(study, step)`"
    steps = {}
    for name in ("data", "shared", *study_names()):
        spec = load(name)
        for step in spec.steps:
            steps[spec.rule_name(step.name)] = (spec, step)
    assert set(rules) == set(steps)
    for rule, (study, step_name, body) in rules.items():
        spec, step = steps[rule]
        assert (spec.name, step.name) == (study, step_name), f"rule {rule} runs {study}.{step_name}"
        for directive in ("params", "log", "conda", "resources", "script"):
            assert re.search(rf"(?m)^    {directive}:", body), f"rule {rule} lacks {directive}:"
        assert "**S.params" in body and "S.script" in body and "S.log" in body, rule
        if step.cached:
            assert "cache: S.cache" in body and "benchmark:" not in body, rule
        else:
            assert "S.benchmark" in body and "cache:" not in body, rule
        for directive, declared in (("input", step.inputs), ("output", step.outputs)):
            named = _keys(body, directive)
            if "unpack(" in body and directive == "input":
                continue  # named by an input function (e.g. l2lflows: toy or file calorimeter data)
            if declared or named:
                assert named == set(declared), f"rule {rule} {directive}: {sorted(named)} vs step {declared}"


@pytest.mark.parametrize("f", RULE_FILES, ids=lambda p: p.name)
def test_no_config_value_is_copied_into_a_rule(f):
    """Params carry the config section whole (**S.params; another study's
    section, whole, where a step needs it); a rule may read config values
    only to choose input paths."""
    for m in re.finditer(r"(?ms)^    params:\n(.*?)(?=^    \w+:)", f.read_text()):
        extra = [line.strip() for line in m.group(1).splitlines()
                 if line.strip() and "**S.params" not in line and not line.strip().startswith("#")]
        for line in extra:
            value = line.split("=", 1)[1].rstrip(",")
            assert re.fullmatch(r'config\["(studies|data)"\]\["\w+"\](\["source"\])?', value), f"{f.name}: {line}"
