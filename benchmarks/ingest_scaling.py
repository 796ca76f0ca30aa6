#!/usr/bin/env python
"""Per-file NanoAOD ingestion against one serial job, for 1, 2, 4, 8 files.

    python benchmarks/ingest_scaling.py [--file PATH] [--counts 1 2 4 8] [--cores 2]

Per-file: the workflow's ``dimuon_ingest`` jobs (one per file) and the
``dimuon_merge`` job, run by ``snakemake --cores N`` in a fresh workdir
(``source: file`` on N copies of --file). Serial: one process reading the
same files' muons one after the other and writing the same merged file
(what a single job does). Reported: wall seconds, CPU seconds (user + system
of the process and all its children: load stretches CPU time much less than
wall time) and the load average before each run. Also, with --remote, read
throughput of the file from local disk, over HTTP (a server on 127.0.0.1:
download + read) and over XRootD (Debian's xrootd on 127.0.0.1, streamed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO.parent / "shared/data/cms_opendata/Run2012BC_DoubleMuParked_Muons_first100k.root"
SERIAL = """
import sys
from colliderflow.data import ingest
files, out = sys.argv[1:-1], sys.argv[-1]
parts, reports = [], []
for i, f in enumerate(files):
    parts.append(f"{out}/parts/{i}.root"); reports.append(f"{out}/parts/{i}.json")
    ingest.ingest(f, parts[-1], reports[-1], source="file")
ingest.merge(parts, reports, f"{out}/muons.root", f"{out}/muons.json")
"""


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed(cmd: list[str], env: dict) -> tuple[float, float, float]:
    load = os.getloadavg()[0]
    cpu0, t0 = _children_cpu(), time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t0, _children_cpu() - cpu0, load


def scaling(src: Path, counts: list[int], cores: int, work: Path) -> list[dict]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
    rows = []
    for n in counts:
        files = []
        for i in range(n):
            files.append(work / f"in{n}" / f"f{i}.root")
            files[-1].parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, files[-1])
        cfg = work / f"c{n}.yaml"
        cfg.write_text(yaml.safe_dump({"data": {"dimuon": {"source": "file", "files": list(map(str, files))}}}))
        wd = work / f"per_file{n}"
        wall, cpu, load = _timed([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(wd),
                                  "--cores", str(cores), "resources/dimuon/file/muons.root",
                                  "--configfile", str(REPO / "config/tiers/smoke.yaml"), str(cfg)], env)
        rows.append({"files": n, "mode": f"per-file jobs (snakemake --cores {cores})", "wall_s": wall, "cpu_s": cpu,
                     "load": load})
        wall, cpu, load = _timed([sys.executable, "-c", SERIAL, *map(str, files), str(work / f"serial{n}")], env)
        rows.append({"files": n, "mode": "one serial job", "wall_s": wall, "cpu_s": cpu, "load": load})
        print(json.dumps(rows[-2]), json.dumps(rows[-1]), sep="\n", flush=True)
    return rows


def throughput(src: Path, work: Path, repeats: int) -> list[dict]:
    """Local vs HTTP (download + read) vs XRootD (streamed) reads of the muons of ``src``."""
    import functools
    import http.server
    import threading

    sys.path.insert(0, str(REPO / "src"))
    from colliderflow.data import nanoaod, remote

    rows = []

    def best(fn) -> tuple[float, float]:
        walls, cpus = [], []
        for _ in range(repeats):
            c0, t0 = time.process_time(), time.perf_counter()
            n = fn()
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        return min(walls), min(cpus), n

    def read(path: str) -> int:
        return len(nanoaod.read_nanoaod(path)["Muon"])

    size = src.stat().st_size
    w, c, n = best(lambda: read(str(src)))
    rows.append({"via": "local file", "wall_s": w, "cpu_s": c, "events": n, "MB_s": size / w / 1e6})

    www = work / "www"
    www.mkdir()
    shutil.copyfile(src, www / src.name)
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(www))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/{src.name}"

    def http_read() -> int:
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            return read(str(remote.fetch(url, Path(tmp) / src.name, retries=0)))

    w, c, n = best(http_read)
    rows.append({"via": "HTTP (download + read)", "wall_s": w, "cpu_s": c, "events": n, "MB_s": size / w / 1e6})
    httpd.shutdown()

    if shutil.which("xrootd"):
        os.environ.setdefault("XRD_CONNECTIONRETRY", "1")
        export = Path(tempfile.mkdtemp(prefix="cf-xrd-"))
        export.chmod(0o755)
        shutil.copyfile(src, export / src.name)
        (export / src.name).chmod(0o644)
        admin = export / "admin"
        admin.mkdir()
        admin.chmod(0o777)
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        (admin / "x.cfg").write_text(f"xrd.port {port}\nall.export /\noss.localroot {export}\n"
                                     f"all.adminpath {admin}\nall.pidpath {admin}\n")
        cmd = ["xrootd", "-c", str(admin / "x.cfg"), "-l", str(admin / "log"), "-n", "bench"]
        if os.geteuid() == 0:
            cmd[1:1] = ["-R", "nobody"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            w, c, n = best(lambda: read(f"root://127.0.0.1:{port}//{src.name}"))
            rows.append({"via": "XRootD (streamed)", "wall_s": w, "cpu_s": c, "events": n, "MB_s": size / w / 1e6})
        finally:
            proc.terminate()
            proc.wait(10)
            shutil.rmtree(export, ignore_errors=True)
    for r in rows:
        print(json.dumps(r), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--file", type=Path, default=DEFAULT)
    ap.add_argument("--counts", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--remote", action="store_true", help="also local vs HTTP vs XRootD read throughput")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if not args.file.is_file():
        sys.exit(f"{args.file}: not found (pass --file, e.g. a toy from colliderflow.data.toy_nanoaod)")
    with tempfile.TemporaryDirectory(prefix="cf-ingest-") as tmp:
        rows = scaling(args.file, args.counts, args.cores, Path(tmp))
        if args.remote:
            throughput(args.file, Path(tmp), args.repeats)
    print("\n| files | mode | wall s | CPU s | load at start |\n|---:|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['files']} | {r['mode']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['load']:.1f} |")


if __name__ == "__main__":
    main()
