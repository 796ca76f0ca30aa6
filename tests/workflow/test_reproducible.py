"""Same seed, same bytes: a small DAG run twice, in two working directories,
writes identical files (issue 21 item 4).

The DAG covers every kind of writer the pipeline uses: ROOT through uproot
(a toy NanoAOD process), pandas/PyTables HDF5 (the LHCO toy and its prepared
table), h5py (the calorimeter toy), a torch state dict with its JSON
(R-ANODE's background flow, trained), numpy, PNG, PDF and metrics.json (the
worked example). The full comparison of every study is
benchmarks/reproducibility.py (``make repro``).

The only files not compared byte for byte are those in
:data:`colliderflow.reproducible.EXCLUDED` (logs, Snakemake's bookkeeping,
benchmarks: they record time), and files whose only difference is a value
under a measured-time key (``cpu_seconds`` ...), listed in ``TIMING_OK`` with
the reason.
"""

from __future__ import annotations

import pytest
import yaml

from colliderflow.reproducible import EXCLUDED, TIMING_KEY, compare, compare_file

from ..conftest import REPO, snakemake

pytestmark = [pytest.mark.workflow]

SMOKE = REPO / "config" / "tiers" / "smoke.yaml"
TARGETS = (
    "resources/nanoaod/toy/qcd.root",
    "resources/calo/toy/train.h5",
    "results/ranode/models/background_flow.pt",
    "results/example/metrics.json",
)
#: files that may differ in measured time only, and why they hold it
TIMING_OK = {
    "results/ranode/models/background_flow.json": "the flow's hyper-parameters record its training CPU seconds, "
                                                  "reported as the cost of each method",
}


def _only_example(path):
    names = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["studies"]
    studies = {n: {"enabled": n in ("example", "ranode")} for n in names}
    studies["example"].update({"n_events": 50, "n_experiments": 400, "n_bootstrap": 50})
    path.write_text(yaml.safe_dump({"studies": studies}))
    return path


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    runs = []
    for name in ("a", "b"):
        wd = tmp_path_factory.mktemp(f"repro_{name}")
        snakemake(wd, *TARGETS, "--cores", "1", configfiles=[SMOKE, _only_example(wd.parent / f"{name}.yaml")])
        runs.append(wd)
    return runs


def test_same_seed_same_bytes(two_runs):
    a, b = two_runs
    results = compare(a, b)
    kinds = {r.path.rsplit(".", 1)[-1] for r in results}
    assert {"root", "h5", "pt", "json", "npy", "png", "pdf"} <= kinds, kinds  # every writer was exercised
    bad = [r for r in results if r.status == "differ" or r.status == "missing"
           or (r.status == "timing" and r.path not in TIMING_OK)]
    assert not bad, "\n".join(f"{r.path}: {r.status} {r.detail}" for r in bad)
    assert sum(r.status == "same" for r in results) >= len(results) - len(TIMING_OK)


def test_the_comparison_sees_a_changed_byte_and_a_changed_time(tmp_path):
    """The checker itself: one flipped bit is a difference; a changed
    measured time is reported as such; a changed number beside it is not."""
    import json

    import numpy as np

    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
    (a / "x.bin").write_bytes(b"\x00\x01")
    (b / "x.bin").write_bytes(b"\x00\x03")
    (a / "m.json").write_text(json.dumps({"auc": 0.8, "cpu_seconds": 1.0}))
    (b / "m.json").write_text(json.dumps({"auc": 0.8, "cpu_seconds": 2.0}))
    (a / "n.json").write_text(json.dumps({"auc": 0.8, "cpu_seconds": 1.0}))
    (b / "n.json").write_text(json.dumps({"auc": 0.81, "cpu_seconds": 1.0}))
    np.savez(a / "z.npz", v=np.arange(3.0), wall_seconds=1.0)
    np.savez(b / "z.npz", v=np.arange(3.0), wall_seconds=2.0)
    status = {r.path: r.status for r in compare(a, b)}
    assert status == {"x.bin": "differ", "m.json": "timing", "n.json": "differ", "z.npz": "timing"}
    assert compare_file(a / "m.json", a / "m.json", "m.json").status == "same"
    for key in ("cpu_seconds", "cpu_seconds_per_method", "wall_seconds", "cpu_ms_per_shower",
                "generation_ms_per_shower_cpu", "cpu_time", "write_compile_seconds"):
        assert TIMING_KEY.search(key), key
    for key in ("seconds_of_arc", "cpus", "threads", "walltime_budget"):
        assert not TIMING_KEY.search(key), key
    assert all(reason for _, reason in EXCLUDED)
