"""The metrics.json contract and the summary table."""

from __future__ import annotations

import json

import pytest

from colliderflow.errors import InputError
from colliderflow.metrics import benchmark_cpu_seconds, read_metrics, summary_markdown, write_metrics, write_summary


def _write(path, study, holds):
    return write_metrics(path, study=study, paper="arXiv:0000.00000", title="t",
                         key_metric={"name": "max SIC", "value": 3.14159, "unit": ""}, claim="a | b",
                         holds=holds, metrics={"x": 1}, tier="smoke")


def test_holds_must_be_computed_bool(tmp_path):
    with pytest.raises(TypeError):
        write_metrics(tmp_path / "m.json", study="s", paper="p", title="t", key_metric={"name": "n", "value": 1},
                      claim="c", holds="yes", metrics={})


def test_summary_rows_and_cpu(tmp_path):
    _write(tmp_path / "a/metrics.json", "a", True)
    _write(tmp_path / "b/metrics.json", "b", False)
    (tmp_path / "a/benchmarks").mkdir()
    (tmp_path / "a/benchmarks/r.tsv").write_text("s\th:m:s\tmax_rss\tcpu_time\n1.0\t0:00:01\t10\t2.5\n")
    (tmp_path / "a/benchmarks/q.tsv").write_text("s\th:m:s\tmax_rss\tcpu_time\n1.0\t0:00:01\t10\t1.5\n")
    text = write_summary([tmp_path / "a/metrics.json", tmp_path / "b/metrics.json"], tmp_path / "summary.md",
                         benchmark_root=tmp_path)
    rows = [line for line in text.splitlines() if line.startswith("| arXiv")]
    assert rows[0].endswith("| yes | (no comparison) | 4.0 |") and "| a |" in rows[0]
    assert rows[1].endswith("| no | (no comparison) |  |")
    assert "a / b" in rows[0], "pipes in claims are escaped"
    assert "1 of 2 claims hold" in text
    assert benchmark_cpu_seconds([tmp_path / "a/benchmarks/r.tsv"]) == 2.5


def test_read_metrics_names_missing_field(tmp_path):
    p = tmp_path / "metrics.json"
    p.write_text(json.dumps({"study": "x"}))
    with pytest.raises(InputError, match="metrics.json.*paper"):
        read_metrics(p)


def _doc(study, holds, comps=()):
    from colliderflow.study import Verdict

    v = Verdict.of(list(comps), {"name": "m", "value": 1.0}) if comps else None
    block = v.block("c", "holds") if v else {"text": "holds", "claim": "c", "comparisons": []}
    return {"study": study, "paper": "p", "title": "t", "key_metric": {"name": "m", "value": 1.0}, "claim": "c",
            "holds": v.holds if v else holds, "tier": "default", "metrics": {}, "verdict": block}


def test_readme_table_is_regenerated_from_the_summary_and_drift_is_seen():
    from colliderflow.metrics import readme_table
    from colliderflow.verdict import Comparison

    c = Comparison.paired("CATHODE", "max SIC", [3.0, 3.2, 2.8], [2.0, 2.1, 1.9], reason="r")
    summary = summary_markdown([_doc("a", None, [c]), _doc("b", False)])
    readme = ("intro\n\n| study | paper | real tier | default tier holds |\n|---|---|---|---|\n"
              "| `a` | A | – | no |\n| `b` | B | – | yes (hand-written) |\n\nafter\n")
    new = readme_table(readme, summary)
    assert "| `a` | A | – | yes (vs CATHODE: +1 ± 0.058 ✓) |" in new
    assert "| `b` | B | – | no |" in new and new.startswith("intro") and new.endswith("after\n")
    assert new != readme and readme_table(new, summary) == new  # drift seen; a regenerated table is stable
    with pytest.raises(ValueError, match="no row for c"):
        readme_table(readme, summary_markdown([_doc("a", True), _doc("b", True), _doc("c", True)]))
