#!/usr/bin/env python
"""Time a tier of the workflow in a fresh working directory and write a
markdown report: wall time, CPU time (user + system of snakemake and every job
it ran), load average at the start and the end, peak memory of the whole
process tree, the per-study CPU table (from the rules' benchmark files) and
the critical path of the run (from Snakemake's job metadata).

    python benchmarks/pipeline_timing.py                    # dry-run + smoke tier
    python benchmarks/pipeline_timing.py --tier default     # the default tier (make bench)
    python benchmarks/pipeline_timing.py --tier smoke --out report.md --keep /tmp/wd
    python benchmarks/pipeline_timing.py --tier smoke results/fpga_tagging/metrics.json   # one study
    python benchmarks/pipeline_timing.py --tier default --profile   # + where the CPU goes (py-spy; make bench-profile)

The report goes to ``benchmarks/results/<tier>-<UTC date and time>.md`` unless
``--out`` says otherwise, and is printed. Budgets (issues 3 and 22): dry-run
< 3 s, default tier <= 15 min wall on an idle 2-core machine. Nothing here
asserts a time: a loaded machine is said so in the report (load average).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

TIERS = {"smoke": ["--configfile", str(REPO / "config/tiers/smoke.yaml")], "default": []}
BUDGET_S = {"smoke": None, "default": 15 * 60}


class PeakRSS:
    """Peak of the summed resident memory of a process and its descendants,
    sampled every ``every`` seconds in a thread (psutil, a Snakemake dependency)."""

    def __init__(self, pid: int, every: float = 1.0) -> None:
        self.pid, self.every, self.peak = pid, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop.wait(self.every):
            total = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                return
            for p in procs:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _env() -> dict:
    """This checkout's package first (jobs import colliderflow from it, not from another install)."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])))


#: py-spy's sampling rate (per second of CPU) under ``--profile``
PROFILE_RATE = 20


def snakemake(workdir: Path, *args: str, cores: int = 2, profile: Path | None = None) -> dict:
    """Run snakemake once in ``workdir``: wall seconds, CPU seconds (user and
    system of snakemake and every job it ran), peak summed RSS, load averages.
    With ``profile``, ``py-spy record --subprocesses`` is attached to snakemake
    and writes its raw (collapsed) stacks there; py-spy's own CPU is not counted
    (it reads the processes' memory without stopping them)."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", str(cores),
           *args]
    env = _env()
    if "COLLIDERFLOW_YOSYS_CACHE" not in os.environ:  # a first run: no Yosys result from an earlier run
        env["COLLIDERFLOW_YOSYS_CACHE"] = str(workdir / ".yosys-cache")
    if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:  # ... and, where the run compiles, no compiled kernel
        env["TORCHINDUCTOR_CACHE_DIR"] = str(workdir / ".inductor-cache")
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    with open(workdir / "snakemake.out", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        spy = None
        if profile is not None:  # attached, not wrapping: snakemake stays our child, so its CPU is its own
            exe = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
            if exe is None:
                proc.kill()
                raise SystemExit("--profile needs py-spy (pip install py-spy)")
            spy = subprocess.Popen([exe, "record", "--pid", str(proc.pid), "--subprocesses", "--nonblocking", "--rate",
                                    str(PROFILE_RATE), "--format", "raw", "--output", str(profile)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with PeakRSS(proc.pid) as peak:
            _, status, ru = os.wait4(proc.pid, 0)  # the rusage of snakemake and every job it waited for
            proc.returncode = rc = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        if spy is not None:
            spy.wait()
    if rc:
        print((workdir / "snakemake.out").read_text()[-3000:])
        raise SystemExit(f"snakemake failed (rc {rc}): {' '.join(args)}; log in {workdir / 'snakemake.out'}")
    return {"wall": wall, "user": ru.ru_utime, "system": ru.ru_stime,
            "peak_rss_mb": peak.peak / 2**20, "load_start": load0, "load_end": os.getloadavg()}


def cpu_table(workdir: Path) -> list[tuple[str, int, float, float]]:
    """Per study: benchmark files (jobs with a benchmark), CPU seconds, summed job wall seconds."""
    import csv

    rows = []
    for d in sorted(Path(workdir, "results").glob("*/benchmarks")):
        n, cpu, wall = 0, 0.0, 0.0
        for tsv in sorted(d.glob("*.tsv")):
            with open(tsv, newline="") as fh:
                for row in csv.DictReader(fh, delimiter="\t"):
                    n += 1
                    cpu += _num(row.get("cpu_time"))
                    wall += _num(row.get("s"))
        rows.append((d.parent.name, n, cpu, wall))
    return sorted(rows, key=lambda r: -r[2])


def _num(v: object) -> float:
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return x if x == x else 0.0


def jobs_from_metadata(workdir: Path) -> dict[int, dict]:
    """Snakemake's per-output metadata (.snakemake/metadata): one record per
    job (by job hash) with its rule, outputs, inputs, start and end time."""
    jobs: dict[int, dict] = {}
    root = Path(workdir, ".snakemake", "metadata")
    for f in root.rglob("*"):
        if not f.is_file():
            continue
        try:
            meta = json.loads(f.read_text())
            # urlsafe base64 of the output path, split in '@'-prefixed folders past NAME_MAX
            out = base64.urlsafe_b64decode("".join(p.lstrip("@") for p in f.relative_to(root).parts)).decode()
        except (ValueError, OSError):
            continue
        if meta.get("starttime") is None or meta.get("endtime") is None:
            continue
        j = jobs.setdefault(meta["job_hash"], {"rule": meta["rule"], "outputs": [], "inputs": set(meta["input"]),
                                               "start": meta["starttime"], "end": meta["endtime"]})
        j["outputs"].append(out)
    return jobs


def critical_path(jobs: dict[int, dict]) -> tuple[float, list[dict]]:
    """The longest chain of job durations through the DAG (inputs -> producing
    job): with unlimited cores the run could not be shorter than this."""
    producer = {o: h for h, j in jobs.items() for o in j["outputs"]}
    best: dict[int, tuple[float, int | None]] = {}

    def longest(h: int) -> float:
        if h not in best:
            dur = jobs[h]["end"] - jobs[h]["start"]
            preds = {producer[i] for i in jobs[h]["inputs"] if i in producer and producer[i] != h}
            prev = max(preds, key=longest, default=None)
            best[h] = (dur + (longest(prev) if prev is not None else 0.0), prev)
        return best[h][0]

    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))
    if not jobs:
        return 0.0, []
    end = max(jobs, key=longest)
    chain, h = [], end
    while h is not None:
        j = jobs[h]
        chain.append({"rule": j["rule"], "output": sorted(j["outputs"])[0], "seconds": j["end"] - j["start"]})
        h = best[h][1]
    return longest(end), chain[::-1]


#: (function, file) a thread waits in (a method's class dropped: ``Condition.wait`` is ``wait``); py-spy's
#: --nonblocking sampling counts some waiting threads as active (snakemake's scheduler and timer threads):
#: a stack whose innermost frame is one of these is left out
IDLE_LEAVES = {("wait", "threading.py"), ("acquire", "threading.py"), ("join", "threading.py"),
               ("_wait_for_tstate_lock", "threading.py"), ("select", "selectors.py"), ("poll", "selectors.py"),
               ("_try_wait", "subprocess.py"), ("wait", "subprocess.py"), ("communicate", "subprocess.py"),
               ("_communicate", "subprocess.py")}

#: where a sampled stack's CPU goes: the first test (in this order) that one of its frames passes
CATEGORIES = [
    ("imports (python modules, torch, torch._dynamo)", lambda fn, path: fn == "_find_and_load"),
    ("Yosys (pyosys, in-process; ABC runs apart, unsampled)", lambda fn, path: "pyosys" in fn),
    ("training: backward", lambda fn, path: fn == "backward" and path.startswith("torch/")),
    ("training: optimizer step", lambda fn, path: path.startswith("torch/optim/")),
    ("BDTs (xgboost: fit and predict)", lambda fn, path: path.startswith("xgboost/")),
    ("plotting (matplotlib, mplhep)", lambda fn, path: path.startswith(("matplotlib/", "mplhep/"))),
    ("training: forward and loop", lambda fn, path: path.startswith("colliderflow/") and (
        fn.startswith(("fit", "train", "_train", "_fit")) or fn.endswith(("_train", "_fit")))),
]


def _frames(stack: str) -> list[tuple[str, str]]:
    """(function, file) of each frame of a py-spy raw stack line, the process entries dropped."""
    out = []
    for fr in stack.split(";"):
        if fr.startswith("process "):
            continue
        fn, _, rest = fr.partition(" (")
        out.append((fn, rest.rsplit(":", 1)[0]))
    return out


def profile_table(raw: Path, rate: int = PROFILE_RATE) -> tuple[dict, dict, float]:
    """CPU seconds (samples / rate) of py-spy's raw stacks, by category (:data:`CATEGORIES`, else "other")
    and by study (the first ``colliderflow/studies/<study>/`` frame; "snakemake" for the scheduler's own
    process, "other" for job code outside a study: shared data generators, the summary), and the seconds
    left out as waiting (:data:`IDLE_LEAVES`, or a stack without frames)."""
    cats: dict[str, float] = {}
    studies: dict[str, float] = {}
    idle = 0.0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        sec = int(n) / rate
        frames = _frames(stack)
        if not frames or (frames[-1][0].rsplit(".", 1)[-1], frames[-1][1].rsplit("/", 1)[-1]) in IDLE_LEAVES:
            idle += sec
            continue
        cat = next((name for name, test in CATEGORIES if any(test(fn, path) for fn, path in frames)), "other")
        cats[cat] = cats.get(cat, 0.0) + sec
        study = next((path.split("/")[2] for _, path in frames if path.startswith("colliderflow/studies/")), None)
        if study is None:  # the sampled process is the last "process" entry (its parents come first)
            proc = [fr for fr in stack.split(";") if fr.startswith("process ")][-1:]
            study = "snakemake" if proc and "-m snakemake " in proc[0] else "other"
        studies[study] = studies.get(study, 0.0) + sec
    return cats, studies, idle


def yosys_state() -> str:
    """Which Yosys the study ran: native (pyosys), or YoWASP's WebAssembly with the state of its compiled
    module cache (a cold one costs the first Yosys run about 80 CPU s); and which result cache it used."""
    from importlib.util import find_spec

    env = os.environ.get("COLLIDERFLOW_YOSYS_CACHE")
    results = (f"; Yosys result cache {env} (set by the caller: results of earlier runs may be reused)" if env
               else "; Yosys result cache empty at the start (a first run: nothing reused)")
    if find_spec("pyosys") is not None:
        return "Yosys: native (pyosys)" + results
    d = Path(os.environ.get("YOWASP_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
             / "YoWASP")
    state = f"warm ({d})" if d.is_dir() and any(d.iterdir()) else f"cold ({d} absent or empty)"
    return f"Yosys: YoWASP WebAssembly, module cache {state} after the run" + results


def compile_state(tier: str) -> str:
    """Whether the trainings were compiled (``COLLIDERFLOW_COMPILE``, else the tier's ``resources.compile``) and
    which inductor cache they used."""
    env = os.environ.get("COLLIDERFLOW_COMPILE", "").strip()
    if env:
        on, origin = env == "1", f"COLLIDERFLOW_COMPILE={env}"
    else:
        import yaml

        cfgs = [REPO / "config" / "config.yaml"] + ([REPO / "config" / "tiers" / f"{tier}.yaml"]
                                                    if (REPO / "config" / "tiers" / f"{tier}.yaml").exists() else [])
        on = False
        for path in cfgs:
            on = ((yaml.safe_load(path.read_text()) or {}).get("resources") or {}).get("compile", on)
        origin = "resources.compile of the tier"
    if not on:
        return f"torch.compile: off ({origin}): every training eager"
    cache = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    return (f"torch.compile: on ({origin}); inductor cache "
            + (f"{cache} (set by the caller: kernels of earlier runs may be reused)" if cache
               else "empty at the start (a first run: every kernel compiled)"))


def git_rev() -> str:
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True,
                             text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        rev = "unknown"
    return rev


def profile_lines(raw: Path, cpu: float) -> list[str]:
    """The report's profile section (``--profile``)."""
    cats, studies, idle = profile_table(raw)
    total = sum(cats.values())
    lines = ["", f"Profile (py-spy, {PROFILE_RATE} samples per second of every active Python thread, raw stacks in "
             f"`{raw.name}`): {total:.0f} s sampled against the {cpu:.0f} CPU s measured (non-Python processes "
             "such as Yosys' ABC, g++ and Verilator's compilers are not sampled; a thread busy in torch's "
             f"native code is); {idle:.0f} s of threads waiting (innermost frame a wait, or no frame) left out.",
             "",
             "| where | CPU s | share of sampled |", "|---|---:|---:|"]
    lines += [f"| {k} | {v:.0f} | {v / total:.0%} |" for k, v in sorted(cats.items(), key=lambda kv: -kv[1])]
    lines += ["", "| study (sampled) | CPU s |", "|---|---:|"]
    lines += [f"| {k} | {v:.0f} |" for k, v in sorted(studies.items(), key=lambda kv: -kv[1])]
    return lines


def report(tier: str, run: dict, workdir: Path, cores: int, dryrun_s: float | None, profile: Path | None = None) -> str:
    rows = cpu_table(workdir)
    jobs = jobs_from_metadata(workdir)
    cp, chain = critical_path(jobs)
    cpu = run["user"] + run["system"]
    budget = BUDGET_S.get(tier)  # None for a subset of targets (the tier name then carries them)
    ld0, ld1 = (" / ".join(f"{x:.2f}" for x in run[k]) for k in ("load_start", "load_end"))
    lines = [
        f"# {tier} tier timing, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"- commit `{git_rev()}`, {platform.node()}, {os.cpu_count()} CPUs, `snakemake --cores {cores}`, "
        f"{len(jobs)} jobs (from .snakemake/metadata)",
        f"- load average (1 / 5 / 15 min): {ld0} at the start, {ld1} at the end"
        + ("  **(loaded machine: times are inflated)**" if run["load_start"][0] > 0.5 * cores else ""),
        f"- {yosys_state()}",
        f"- {compile_state(tier)}",
        "",
        "| measure | value |",
        "|---|---|",
        f"| wall time | {run['wall']:.0f} s ({run['wall'] / 60:.1f} min)"
        + (f"; budget {budget / 60:.0f} min: {'met' if run['wall'] <= budget else 'missed'}" if budget else "")
        + " |",
        f"| CPU time (user + system, all jobs) | {cpu:.0f} s = {run['user']:.0f} s user + {run['system']:.0f} s "
        f"system ({cpu / 60:.1f} CPU-min) |",
        f"| CPU / ({cores} x wall) | {cpu / (cores * run['wall']):.0%} of the cores kept busy |",
        f"| peak memory (summed RSS of the process tree, 1 s samples) | {run['peak_rss_mb']:.0f} MB |",
        f"| critical path (longest chain of job durations) | {cp:.0f} s |",
    ]
    if dryrun_s is not None:
        lines.append(f"| dry-run of the default DAG (best of 3) | {dryrun_s:.2f} s (budget 3 s) |")
    lines += ["", "Per study, from the rules' benchmark files. Their `cpu_time` samples a job's processes (every "
              "second for 30 s, then every 30 s), so it misses short-lived children (the g++ of an hls4ml C "
              "simulation, Verilator's compiler runs) and a job's last seconds: the CPU total above is the exact one.",
              "",
              "| study | jobs | CPU s | job wall s (sum) |", "|---|---:|---:|---:|"]
    lines += [f"| {s} | {n} | {c:.1f} | {w:.1f} |" for s, n, c, w in rows]
    lines.append(f"| **all** | {sum(r[1] for r in rows)} | {sum(r[2] for r in rows):.1f} | "
                 f"{sum(r[3] for r in rows):.1f} |")
    if profile is not None and profile.is_file():
        lines += profile_lines(profile, cpu)
    lines += ["", "Critical path:", "", "| rule | output | s |", "|---|---|---:|"]
    lines += [f"| {c['rule']} | `{c['output']}` | {c['seconds']:.1f} |" for c in chain]
    summary = workdir / "results" / "summary.md"
    if summary.is_file():  # the verdicts of the timed run, so the README's table can be checked against them
        lines += ["", "The run's `results/summary.md`:", "", summary.read_text().strip()]
    return "\n".join(lines) + "\n"


def dry_run(cores: int) -> float:
    with tempfile.TemporaryDirectory() as wd:
        cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", wd, "--cores", str(cores), "-n"]
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True, cwd=REPO, env=_env())
            best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tier", choices=sorted(TIERS), default="smoke", help="tier to time (default: smoke)")
    ap.add_argument("--default", action="store_true", help="same as --tier default (kept for old callers)")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--out", type=Path, help="markdown report (default benchmarks/results/<tier>-<date>.md)")
    ap.add_argument("--keep", type=Path, help="work in this (new, empty) directory and keep it")
    ap.add_argument("--no-dry-run", action="store_true", help="skip timing the dry-run")
    ap.add_argument("--profile", action="store_true",
                    help="run under py-spy (sampled stacks of every Python process, kept beside the report) and add "
                         "where the CPU goes to the report; py-spy's own CPU is not counted, but it slows the run")
    ap.add_argument("targets", nargs="*", help="snakemake targets (default: the whole tier)")
    a = ap.parse_args()
    tier = "default" if a.default else a.tier
    dryrun_s = None if a.no_dry_run else dry_run(a.cores)
    if a.keep:
        if a.keep.exists() and any(a.keep.iterdir()):
            raise SystemExit(f"--keep {a.keep}: not empty (the timing needs a fresh working directory)")
        a.keep.mkdir(parents=True, exist_ok=True)
        wd, tmp = a.keep.resolve(), None
    else:
        tmp = tempfile.mkdtemp(prefix=f"colliderflow-{tier}-")
        wd = Path(tmp)
    stem = f"profile-{tier}" if a.profile else tier  # a profiled run's times are no benchmark (make readme-table)
    out = a.out or REPO / "benchmarks" / "results" / f"{stem}-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    profile = out.with_suffix(".pyspy.txt") if a.profile else None
    try:
        run = snakemake(wd, *a.targets, *TIERS[tier], cores=a.cores, profile=profile)  # targets before --configfile
        text = report(tier + (f" ({' '.join(a.targets)})" if a.targets else "") + (" (profiled)" if profile else ""),
                      run, wd, a.cores, dryrun_s, profile)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    out.write_text(text)
    print(text)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
