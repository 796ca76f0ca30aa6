"""The study contract: typed config sections, the context, one-line errors,
and the by-hand rerun of a job from its record."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import FrozenInstanceError, dataclass

import pytest

from colliderflow.errors import InputError
from colliderflow.study import Paths, build_config, job_file, load, resolve, run_job, study_names

from ..conftest import REPO


@dataclass(frozen=True)
class Inner:
    epochs: int
    lr: float


@dataclass(frozen=True)
class Outer:
    sizes: tuple[int, ...]
    train: Inner
    named: dict[str, Inner]


def test_build_config_makes_frozen_typed_dataclasses():
    cfg = build_config(Outer, {"enabled": True, "sizes": [1, 2], "train": {"epochs": 3, "lr": 1},
                               "named": {"a": {"epochs": 1, "lr": 0.5}}})
    assert cfg.sizes == (1, 2) and cfg.train == Inner(3, 1.0) and isinstance(cfg.train.lr, float)
    assert cfg.named["a"].epochs == 1
    with pytest.raises(FrozenInstanceError):
        cfg.train.epochs = 4
    with pytest.raises(TypeError):
        cfg.named["b"] = Inner(1, 1.0)


@pytest.mark.parametrize("section, key", [({"sizes": [], "train": {"epochs": 1}, "named": {}}, "train.lr"),
                                          ({"sizes": [], "train": {"epochs": 1, "lr": 1, "x": 2}, "named": {}},
                                           "train.x")])
def test_build_config_names_the_missing_or_unknown_key(section, key):
    with pytest.raises(InputError, match=rf"studies\.demo\.{key}"):
        build_config(Outer, section, "studies.demo")


def test_paths_by_name_position_and_iteration():
    p = Paths(["a.h5", "b.h5", "c.h5"], {"train": "a.h5", "rest": ["b.h5", "c.h5"]})
    assert p.train == "a.h5" and p.rest == ["b.h5", "c.h5"] and p[1] == "b.h5" and list(p) == ["a.h5", "b.h5", "c.h5"]
    with pytest.raises(AttributeError, match="named: train, rest"):
        p.model


def test_every_study_package_declares_its_spec():
    names = study_names()
    assert {"dimuon", "example"} <= set(names)
    for name in names:
        spec = load(name)
        assert spec.caption.is_file() and spec.schema.is_file(), name
        assert spec.verdict is not None and spec.config is not None, name
        for step in spec.steps:  # every step function exists (imports the study's science)
            assert callable(spec.function(step.name)), f"{name}.{step.name}"
    spec, step = resolve("data.lhco_toy")
    assert spec.rule_name(step.name) == "lhco_toy" and step.cached


def _job(tmp_path, **cfg):
    events = tmp_path / "events.npy"
    return {"step": "example.estimate", "cfg": {"distribution": "gaussian", "n_events": 5, "n_experiments": 20,
                                                "n_bootstrap": 10, "margin": 3.0, "tolerance": 0.2, **cfg},
            "seed": 1, "tier": "test", "params": {}, "threads": 1, "wildcards": {},
            "input": {"all": [str(events)], "named": {"events": str(events)}},
            "output": {"all": [str(tmp_path / "m.json")], "named": {"metrics": str(tmp_path / "m.json"),
                                                                    "png": str(tmp_path / "f.png")}},
            "log": str(tmp_path / "logs" / "estimate.log")}


def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path, capfd):
    import numpy as np

    np.save(tmp_path / "events.npy", np.array([[0.0, np.nan]] * 20))
    job = _job(tmp_path)
    assert run_job(job) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'events.npy'}: field 'events': holds NaN or inf"]
    assert "Traceback" not in (tmp_path / "logs" / "estimate.log").read_text()
    assert not (tmp_path / "m.json").exists()


def test_a_bug_is_one_line_with_the_traceback_in_the_log(tmp_path, capfd):
    job = _job(tmp_path)  # no events.npy: numpy's FileNotFoundError is not an InputError
    job["input"]["named"]["events"] = job["input"]["all"][0] = str(tmp_path / "missing" / "x.npy")
    assert run_job(job) == 1
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "step example.estimate failed" in err[0] and "estimate.log" in err[0]
    assert "Traceback" in (tmp_path / "logs" / "estimate.log").read_text()


def test_rerun_by_hand_from_the_job_record(tmp_path):
    import numpy as np

    np.save(tmp_path / "events.npy", np.random.default_rng(0).standard_normal((20, 5)))
    job = _job(tmp_path)
    record = job_file(job["log"])
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps(job))
    proc = subprocess.run([sys.executable, "-m", "colliderflow", "step", str(record), "--no-log"],
                          capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(REPO / "src")})
    assert proc.returncode == 0, proc.stderr
    assert "step example.estimate" in proc.stderr
    assert json.loads((tmp_path / "m.json").read_text())["study"] == "example"
    listing = subprocess.run([sys.executable, "-m", "colliderflow", "list"], capture_output=True, text=True,
                             env={"PYTHONPATH": str(REPO / "src")})
    assert "example_estimate" in listing.stdout and "colliderflow.studies.example.steps.estimate" in listing.stdout


def test_a_long_step_logs_a_heartbeat(tmp_path, monkeypatch):
    import numpy as np

    np.save(tmp_path / "events.npy", np.random.default_rng(0).standard_normal((2000, 400)))
    monkeypatch.setenv("COLLIDERFLOW_HEARTBEAT", "0.05")
    job = _job(tmp_path, n_bootstrap=400)
    assert run_job(job) == 0
    assert "still running example.estimate" in (tmp_path / "logs" / "estimate.log").read_text()


def test_threads_reach_torch_without_importing_it_early():
    """A step that never imports torch does not pay its import in run_job; one
    that imports it later gets the job's threads (and a running torch is set at once)."""
    code = ("import sys\nfrom colliderflow.study import set_threads\nset_threads(2)\n"
            "assert 'torch' not in sys.modules\nimport torch\nassert torch.get_num_threads() == 2\n"
            "set_threads(1)\nassert torch.get_num_threads() == 1\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO / "src")})
    assert proc.returncode == 0, proc.stderr


def test_every_hook_on_a_module_runs_after_its_import(tmp_path, monkeypatch):
    """Two hooks on one not-yet-imported module both run once, in order, after its import; a module
    already imported runs its hook at once (make_deterministic's torch seeding is such a hook)."""
    from colliderflow.study import when_imported

    (tmp_path / "cf_hooked_mod.py").write_text("VALUE = 7\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "cf_hooked_mod", raising=False)
    calls = []
    when_imported("cf_hooked_mod", lambda m: calls.append(("first", m.VALUE)))
    when_imported("cf_hooked_mod", lambda m: calls.append(("second", m.VALUE)))
    assert calls == []
    import cf_hooked_mod  # noqa: F401

    assert calls == [("first", 7), ("second", 7)]
    when_imported("cf_hooked_mod", lambda m: calls.append(("now", m.VALUE)))
    assert calls[-1] == ("now", 7) and len(calls) == 3
