"""``python -m colliderflow``: run or list study steps outside Snakemake.

    python -m colliderflow list                              every study and its steps
    python -m colliderflow step logs/omnijet/backbone.job.json [--threads N] [--no-log]
    python -m colliderflow readme-table benchmarks/results/default-<date>.md [--check]

``readme-table`` rewrites the last column of README.md's studies table
(default tier holds, effect ± error vs each competitor) from a default-tier
summary (``results/summary.md`` or a ``make bench`` report); ``--check``
only says whether the README agrees (exit 1 if not).

``step`` reruns one job exactly as Snakemake ran it (inputs, outputs, config
section, seed, tier, wildcards; the record is written beside the job's log),
for debugging from a shell. ``--no-log`` prints to the terminal instead of
the log file. Exit status: 0, 2 for bad input (one line naming the file and
field), 1 for a failure.
"""

from __future__ import annotations

import argparse
import json
import sys

from .study import ensure_hash_seed, load, run_job, study_names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m colliderflow", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every study and its steps")
    st = sub.add_parser("step", help="rerun one job from its record (logs/<study>/<step>.job.json)")
    st.add_argument("job", help="the job record written beside the job's log")
    st.add_argument("--threads", type=int, default=None, help="override the job's threads")
    st.add_argument("--no-log", action="store_true", help="print to the terminal, not to the job's log")
    rt = sub.add_parser("readme-table", help="README's studies table from a default-tier summary")
    rt.add_argument("summary", help="results/summary.md, or a make bench report that embeds it")
    rt.add_argument("--readme", default="README.md")
    rt.add_argument("--check", action="store_true", help="only compare; exit 1 when the README differs")
    a = ap.parse_args(argv)
    if a.command == "readme-table":
        from pathlib import Path

        from .metrics import readme_table

        readme = Path(a.readme).read_text()
        try:
            new = readme_table(readme, Path(a.summary).read_text())
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if a.check:
            if new != readme:
                print(f"{a.readme}: the studies table differs from {a.summary} (run without --check)",
                      file=sys.stderr)
                return 1
            return 0
        Path(a.readme).write_text(new)
        return 0
    if a.command == "list":
        for name in ("data", "shared", *study_names()):
            spec = load(name)
            print(f"{name}: {spec.title}")
            for s in spec.steps:
                gpu = ", gpu" if s.gpu else ""
                print(f"  {spec.rule_name(s.name):28s} {spec.package}.steps.{s.name}  [{s.env}{gpu}]")
        return 0
    if argv is None:  # a command line, not a call from Python: rerun with the jobs' hash seed
        ensure_hash_seed(["-m", "colliderflow", *sys.argv[1:]])
    try:
        with open(a.job) as fh:
            job = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        print(f"error: {a.job}: not a job record ({exc})", file=sys.stderr)
        return 2
    if a.threads:
        job["threads"] = a.threads
    if a.no_log:
        job["log"] = None
    return run_job(job)


if __name__ == "__main__":
    sys.exit(main())
