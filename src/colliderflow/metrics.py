"""The per-study ``metrics.json`` contract and the summary table.

Every study writes one ``results/<study>/metrics.json`` through
:func:`write_metrics`::

    {
      "study": "dimuon",                  # folder name under results/
      "paper": "arXiv:2312.11629",        # arXiv id, else the short name in PAPERS.md
      "title": "...",
      "key_metric": {"name": "...", "value": 91.1, "unit": "GeV"},
      "claim": "what the paper claims, in one sentence",
      "holds": true,                       # did the claim reproduce here? null: a model did not train
      "verdict": {                         # the standard verdict block (colliderflow.verdict)
        "text": "holds",                   # "holds", "does not hold" or "did not train: <models>"
        "claim": "...",
        "comparisons": [{"competitor": "CATHODE", "statistic": "max SIC", "method": 7.1, "other": 4.1,
                         "effect": 3.0, "error": 0.8, "margin": 0.0, "k": 2, "test": "effect - 2 SE > 0",
                         "n": 3, "over": "paired seeds", "null": false, "required": true, "holds": true,
                         "reason": "..."}]
      },
      "training": {...},                   # per model: initial/best/final validation loss, trained (health.py)
      "tier": "default",
      "metrics": {...}                     # every number the figures show
    }

``holds`` must be computed from the metrics by the study, never written by
hand; a claim that does not reproduce is reported with ``holds: false``. A
study whose training did not learn is no physics result: ``holds: null``
and verdict text ``"did not train: ..."`` (:mod:`colliderflow.health`).
The same seed gives the same bytes, so nothing measured (the CPU time of
the rules is in ``results/<study>/benchmarks/*.tsv`` and the summary) goes
in by default.
"""

from __future__ import annotations

import csv
import math
import re
import resource
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Self

from .errors import InputError
from .io import read_json, write_json

REQUIRED = ("study", "paper", "title", "key_metric", "claim", "holds", "metrics")


def cpu_seconds() -> float:
    """CPU seconds (user + system) used so far by this process and its children."""
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


class Stopwatch:
    """Wall and CPU time of a block: ``with Stopwatch() as sw: ...; sw.cpu``."""

    def __enter__(self) -> Self:
        self._w0, self._c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> bool:
        self.wall = time.perf_counter() - self._w0
        self.cpu = time.process_time() - self._c0
        return False


def write_metrics(path: str | Path, *, study: str, paper: str, title: str, key_metric: dict, claim: str,
                  holds: bool | None, metrics: dict, tier: str = "default", **extra) -> dict:
    """Validate and write a study's metrics.json; returns the dict written.
    ``holds`` is None only with a ``verdict`` saying why (a model did not train)."""
    if holds is None:
        if not verdict_text(extra).startswith("did not train"):
            raise TypeError("holds may be None only when a model did not train (verdict 'did not train: ...')")
    elif not isinstance(holds, bool):
        raise TypeError("holds must be a bool computed from the metrics")
    if "name" not in key_metric or "value" not in key_metric:
        raise ValueError("key_metric needs 'name' and 'value'")
    doc = {
        "study": study,
        "paper": paper,
        "title": title,
        "key_metric": key_metric,
        "claim": claim,
        "holds": holds,
        "tier": tier,
        "metrics": metrics,
        **extra,
    }
    write_json(path, doc)
    return doc


def verdict_text(doc: dict) -> str:
    """The verdict's text ("holds", "does not hold", "did not train: ...")."""
    v = doc.get("verdict", "")
    return str(v.get("text", "") if isinstance(v, dict) else v)


def comparisons_text(doc: dict) -> str:
    """The summary's effect +- error column: each comparison in a few words."""
    from .verdict import describe

    v = doc.get("verdict")
    comps = v.get("comparisons", []) if isinstance(v, dict) else []
    return "<br>".join(describe(c) for c in comps) if comps else "(no comparison)"


def read_metrics(path: str | Path) -> dict:
    doc = read_json(path)
    missing = [k for k in REQUIRED if k not in doc]
    if missing:
        raise InputError(path, missing[0], "required metrics field missing")
    return doc


def benchmark_cpu_seconds(paths: Iterable[str | Path]) -> float:
    """Sum of the ``cpu_time`` column over Snakemake ``benchmark:`` TSV files."""
    total = 0.0
    for p in paths:
        with open(p, newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                try:
                    v = float(row.get("cpu_time", "nan"))
                except ValueError:
                    continue
                if math.isfinite(v):
                    total += v
    return total


def _fmt(value: object, unit: str | None) -> str:
    if isinstance(value, float):
        text = f"{value:.4g}"
    else:
        text = str(value)
    return f"{text} {unit}" if unit else text


def _holds(doc: dict) -> str:
    if doc["holds"] is None:  # the models by name; their losses are in metrics.json
        from .health import untrained

        return "did not train: " + ", ".join(untrained(doc.get("training"))) if doc.get("training") else \
            "did not train"
    return "yes" if doc["holds"] else "no"


def summary_markdown(docs: list[dict], cpu_by_study: dict[str, float] | None = None) -> str:
    """The results/summary.md table: one row per study."""
    cpu_by_study = cpu_by_study or {}
    lines = [
        "# colliderflow summary",
        "",
        "| paper | study | key metric | value | paper's claim | holds | effect +- error vs competitor | "
        "CPU s (all rules) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d in sorted(docs, key=lambda d: d["study"]):
        km = d["key_metric"]
        cpu = cpu_by_study.get(d["study"])
        lines.append(
            "| {paper} | {study} | {name} | {value} | {claim} | {holds} | {comp} | {cpu} |".format(
                paper=d["paper"].replace("|", "/"),
                study=d["study"],
                name=km["name"].replace("|", "/"),
                value=_fmt(km["value"], km.get("unit")).replace("|", "/"),
                claim=d["claim"].replace("|", "/"),
                holds=_holds(d),
                comp=comparisons_text(d).replace("|", "/"),
                cpu="" if cpu is None else f"{cpu:.1f}",
            )
        )
    n_yes = sum(d["holds"] is True for d in docs)
    n_untrained = sum(d["holds"] is None for d in docs)
    lines += ["", f"{n_yes} of {len(docs)} claims hold in this run (tier: "
              f"{', '.join(sorted({d.get('tier', '?') for d in docs}))})."
              + (f" {n_untrained} not judged: a model did not train." if n_untrained else "")]
    return "\n".join(lines) + "\n"


def write_summary(metrics_paths: Iterable[str | Path], out_path: str | Path,
                  benchmark_root: str | Path = "results") -> str:
    """Gather metrics files and per-rule benchmark TSVs into the summary table."""
    from .io import atomic_path

    docs = [read_metrics(p) for p in metrics_paths]
    cpu = {}
    for d in docs:
        tsvs = sorted(Path(benchmark_root, d["study"], "benchmarks").glob("*.tsv"))
        if tsvs:
            cpu[d["study"]] = benchmark_cpu_seconds(tsvs)
    text = summary_markdown(docs, cpu)
    with atomic_path(out_path) as tmp:
        tmp.write_text(text)
    return text


# --------------------------------------------------------------------------- README's studies table

README_COLUMN = "default tier holds"


def parse_summary(text: str) -> dict[str, tuple[str, str]]:
    """``study -> (holds, comparisons)`` from a results/summary.md table (or a
    ``make bench`` report that embeds one)."""
    rows: dict[str, tuple[str, str]] = {}
    header: list[str] | None = None
    for line in text.splitlines():
        if not line.startswith("| "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[:2] == ["paper", "study"]:
            header = cells
            continue
        if header is None or set(cells[0]) <= {"-", ":"} or len(cells) != len(header):
            continue
        row = dict(zip(header, cells, strict=True))
        rows[row["study"]] = (row["holds"], row.get("effect +- error vs competitor", ""))
    return rows


def _short(comparisons: str) -> str:
    """``vs CATHODE (max SIC): +1.2 +- 0.3, needs ...: yes`` -> ``vs CATHODE: +1.2 ± 0.3 ✓``; a comparison
    shown for context only (not part of the claim) is marked ``(context)``."""
    out = []
    for c in comparisons.split("<br>"):
        m = re.match(r"vs (.+?) \((.+?)\): ([^,]+?) \+- ([^,]+), .*: (yes|no)$", c.strip())
        if m:
            ctx = " (context)" if ", context only:" in c else ""
            out.append(f"vs {m[1]}: {m[3]} ± {m[4]} {'✓' if m[5] == 'yes' else '✗'}{ctx}")
    return "; ".join(out)


def readme_table(readme: str, summary: str) -> str:
    """README.md with its studies table's last column (:data:`README_COLUMN`)
    regenerated from a default-tier summary: the holds of each study and its
    comparisons (effect ± error vs each competitor). Raises ValueError for a
    study in the README missing from the summary (or the reverse)."""
    rows = parse_summary(summary)
    lines = readme.splitlines(keepends=True)
    seen = set()
    in_table = False
    for i, line in enumerate(lines):
        if line.startswith("| study |") and line.rstrip().endswith(f"| {README_COLUMN} |"):
            in_table = True
            continue
        if in_table and not line.startswith("|"):
            break
        if in_table and line.startswith("| `"):
            cells = line.rstrip("\n").split("|")
            study = cells[1].strip().strip("`")
            if study not in rows:
                raise ValueError(f"README.md: study {study} is not in the summary")
            holds, comps = rows[study]
            short = _short(comps)
            cells[-2] = f" {holds}{' (' + short + ')' if short else ''} "
            lines[i] = "|".join(cells) + "\n"
            seen.add(study)
    if not in_table:
        raise ValueError(f"README.md: no studies table with a '{README_COLUMN}' column")
    missing = sorted(set(rows) - seen - {"example"})
    if missing:
        raise ValueError(f"README.md: the studies table has no row for {', '.join(missing)}")
    return "".join(lines)

