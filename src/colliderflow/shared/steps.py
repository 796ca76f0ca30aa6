"""Shared steps (rules of the same name)."""

from __future__ import annotations

from pathlib import Path

from ..metrics import write_summary
from ..study import Context


def summary(ctx: Context) -> None:
    """Every enabled study's metrics.json -> results/summary.md (with per-study CPU seconds)."""
    out = Path(ctx.output[0])
    print(write_summary(list(ctx.input), out, benchmark_root=out.parent))
