"""The metrics.json contract and the summary table."""

from __future__ import annotations

import json

import pytest

from colliderflow.errors import InputError
from colliderflow.metrics import benchmark_cpu_seconds, read_metrics, write_metrics, write_summary


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
