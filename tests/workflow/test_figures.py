"""Every study's figures, as the smoke tier draws them, pass the layout check
(``colliderflow.plotting.check_figure``): no two texts overlap, no text hides
inside another panel, no axis label runs past its panel, and every panel
with data has its axis labels (or shares them, tick labels hidden)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from colliderflow.study import load

from ..conftest import FIGURE_CHECK_ENV, FIGURE_CHECK_FILE, REPO


def _records(path: Path) -> dict[Path, list[str]]:
    """{figure PNG: problems} from a check file (the last record of a figure wins)."""
    assert path.is_file(), f"no figure check was recorded ({path} is missing)"
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            out[Path(rec["path"]).resolve()] = rec["problems"]
    return out


def _enabled(configfiles: list[Path]) -> list[str]:
    """The studies a run with these config files (over config/config.yaml) enables."""
    sections = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["studies"]
    enabled = {n: s.get("enabled", True) for n, s in sections.items()}
    for f in configfiles:
        for n, s in (yaml.safe_load(f.read_text()).get("studies") or {}).items():
            if "enabled" in (s or {}):
                enabled[n] = s["enabled"]
    return [n for n, on in enabled.items() if on]


def _expected(workdir: Path, studies: list[str]) -> list[Path]:
    return [(workdir / "results" / n / f"{fig}.png").resolve() for n in studies for fig in load(n).figures]


def _report(records: dict[Path, list[str]], workdir: Path) -> str:
    return "\n".join(f"{p.relative_to(workdir.resolve())}: {msg}" for p, msgs in records.items() for msg in msgs)


def test_smoke_tier_figures_pass_the_layout_check(smoke_run):
    configfiles = [REPO / "config" / "tiers" / "smoke.yaml", *[p for p in [smoke_run / "only.yaml"] if p.exists()]]
    studies = _enabled(configfiles)
    assert len(studies) > 1
    records = _records(smoke_run / FIGURE_CHECK_FILE)
    expected = _expected(smoke_run, studies)
    missing = [str(p.relative_to(smoke_run.resolve())) for p in expected if p not in records]
    assert not missing, f"figures saved without the check (not through plotting.save?): {missing}"
    bad = {p: msgs for p, msgs in records.items() if msgs}
    assert not bad, "figure layout problems:\n" + _report(bad, smoke_run)


def test_example_figure_passes_the_layout_check(tmp_path, run_snakemake):
    """The worked example (not in the smoke tier) is the figure new studies copy."""
    names = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["studies"]
    only = tmp_path / "only.yaml"
    only.write_text(yaml.safe_dump({"studies": {n: {"enabled": n == "example"} for n in names}}))
    run_snakemake(tmp_path, configfiles=[only], env={FIGURE_CHECK_ENV: str(tmp_path / FIGURE_CHECK_FILE)})
    records = _records(tmp_path / FIGURE_CHECK_FILE)
    expected = _expected(tmp_path, ["example"])
    assert set(expected) <= set(records)
    assert not any(records[p] for p in expected), _report(records, tmp_path)
