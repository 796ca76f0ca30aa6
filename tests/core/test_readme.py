"""The README's studies table says what the code computes: its 'default tier
holds' column must equal the newest committed default-tier run's summary
(benchmarks/results/default-<date>.md, written by `make bench`)."""

from pathlib import Path

import pytest

from colliderflow.metrics import readme_table

REPO = Path(__file__).resolve().parents[2]


def test_readme_table_matches_the_newest_default_tier_run():
    runs = sorted((REPO / "benchmarks" / "results").glob("default-*.md"))
    if not runs:
        pytest.skip("no committed default-tier run (make bench) to check README.md's studies table against")
    readme = (REPO / "README.md").read_text()
    assert readme_table(readme, runs[-1].read_text()) == readme, (
        f"README.md's studies table differs from {runs[-1].name}: run "
        f"`python -m colliderflow readme-table {runs[-1].relative_to(REPO)}`")
