"""``python -m colliderflow``: run or list study steps outside Snakemake.

    python -m colliderflow list                              every study and its steps
    python -m colliderflow step logs/omnijet/backbone.job.json [--threads N] [--no-log]

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
    a = ap.parse_args(argv)
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
