"""Training health: the shared loop records whether a model learned, and a
study whose model did not learn is reported as `did not train`, never as a
physics result."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from colliderflow import health
from colliderflow.metrics import write_metrics, write_summary
from colliderflow.nn.train import TrainConfig, fit
from colliderflow.study import context


@pytest.fixture(autouse=True)
def _fresh_records():
    health.clear()
    yield
    health.clear()


def _regression(n: int = 800, seed: int = 0):
    """y = x . a + noise (sd 0.1): a linear model starting at zero weights has
    a validation MSE of ~|a|^2 = 5.25 and can reach ~0.01."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x @ np.array([2.0, -1.0, 0.5]) + 0.1 * rng.normal(size=n)).astype(np.float32)
    model = torch.nn.Linear(3, 1)
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    return model, (torch.from_numpy(x), torch.from_numpy(y))


def _mse(m, b):
    return torch.mean((m(b[0]).squeeze(-1) - b[1]) ** 2)


def test_normal_training_is_flagged_trained():
    model, data = _regression()
    hist = fit(model, _mse, data, TrainConfig(epochs=30, batch_size=64, lr=0.05, progress=False, desc="linear"))
    h = hist.health()
    assert h["initial"] > 4.0 and h["best"] < 0.1, h  # falls from ~5.25 to ~0.01
    assert h["trained"] and h["improvement"] == pytest.approx(h["initial"] - h["best"], abs=1e-5)
    assert h["steps"] == 10 * len(hist.val_loss)  # 640 training events / 64
    assert health.RECORDS == [("linear", h)]


@pytest.mark.parametrize("change", [{"lr": 0.0}, {"epochs": 0}])
def test_untrainable_setup_is_flagged_not_trained(change):
    model, data = _regression()
    cfg = TrainConfig(**{"epochs": 5, "batch_size": 64, "lr": 0.05, "progress": False, "desc": "linear", **change})
    h = fit(model, _mse, data, cfg).health()
    assert not h["trained"], h
    assert h["improvement"] == pytest.approx(0.0, abs=1e-9) and h["initial"] > 4.0
    assert h["steps"] == (0 if change.get("epochs") == 0 else 50)


@pytest.mark.parametrize("lr", [0.05, 0.0])
def test_tiny_validation_set_is_judged_on_the_training_loss(lr):
    """Issue 21: the smoke tier's 10-40-event validation sets flip the validation-loss check. Below
    SMALL_VALIDATION events the training loss decides; a broken training (lr 0) still fails it."""
    from colliderflow.nn.train import SMALL_VALIDATION

    model, data = _regression(n=60)  # 12 validation events
    cfg = TrainConfig(epochs=20, batch_size=16, lr=lr, progress=False, desc="tiny")
    h = fit(model, _mse, data, cfg).health()
    assert h["validation"]["n"] == 12 < SMALL_VALIDATION and "training loss" in h["criterion"]
    assert h["steps"] > 0 and h["initial"] > 2.0, h  # the training MSE of zero weights
    if lr:
        assert h["trained"] and h["final"] < 0.5, h
    else:
        assert not h["trained"] and h["improvement"] == pytest.approx(0.0, abs=1e-9), h
    # a large validation set keeps the validation-loss criterion
    big, big_data = _regression(n=1500)  # 300 validation events
    crit = fit(big, _mse, big_data, TrainConfig(epochs=1, progress=False)).health()["criterion"]
    assert crit.startswith("validation loss falls"), crit


def test_min_steps_raises_the_epochs_of_a_small_sample():
    """640 training events in batches of 64: 10 steps per epoch; 2 epochs
    would be 20 steps, min_steps=95 needs 10 epochs (no early stop: patience)."""
    model, data = _regression()
    hist = fit(model, _mse, data, TrainConfig(epochs=2, batch_size=64, lr=0.01, patience=100, min_steps=95,
                                              progress=False))
    assert len(hist.val_loss) == 10 and hist.steps == 100


def test_block_summarises_folds_and_names_the_untrained():
    ok = health.record(2.0, 1.0, 1.1, 10)
    flat = health.record(2.0, 2.0, 2.0, 10)
    block = health.block([("anode", ok), ("anode", ok), ("ranode", ok), ("ranode", flat)])
    assert block["anode"]["trained"] and block["anode"]["n"] == 2 and block["anode"]["improved"] == 1.0
    assert not block["ranode"]["trained"] and block["ranode"]["n_trained"] == 1
    assert health.untrained(block) == ["ranode"]
    assert health.did_not_train(block).startswith("did not train: ranode (1/2 trained")
    assert health.did_not_train({"anode": block["anode"]}) is None
    assert health.record(float("inf"), 3.0, 3.0, 10)["trained"]  # from an infinite loss to a finite one: learned
    assert not health.record(float("nan"), 3.0, 3.0, 10)["trained"]


def _example_job(tmp_path):
    return {"step": "example.estimate", "cfg": {"distribution": "gaussian", "n_events": 5, "n_experiments": 20,
                                                "n_bootstrap": 10, "margin": 3.0, "tolerance": 0.2},
            "seed": 1, "tier": "test", "params": {}, "threads": 1, "wildcards": {},
            "input": {"all": [], "named": {}},
            "output": {"all": [str(tmp_path / "m.json")], "named": {"metrics": str(tmp_path / "m.json")}},
            "log": None}


# metrics of the worked example whose verdict says "holds" (effect 10 standard errors)
HOLDS = {"spread_ratio": 1.25, "spread_ratio_minus_one": 0.25, "spread_ratio_error": 0.025,
         "spread_ratio_single_draw": 10.0, "spread_ratio_single_draw_error": 0.5, "n_bootstrap": 10,
         "expected_ratio_gaussian": 1.2533}


@pytest.mark.parametrize("lr", [0.0, 0.05])
def test_verdict_says_did_not_train_never_no(tmp_path, lr):
    """A study whose model did not learn: holds null, verdict 'did not train',
    the summary says so; the same study with a trained model: holds true."""
    model, data = _regression()
    fit(model, _mse, data, TrainConfig(epochs=5, batch_size=64, lr=lr, progress=False, desc="estimator"))
    ctx = context(_example_job(tmp_path))
    doc = ctx.write_metrics(dict(HOLDS))
    written = json.loads((tmp_path / "m.json").read_text())
    assert written["training"]["estimator"]["trained"] is (lr > 0)
    if lr == 0:
        assert written["holds"] is None and written["verdict"]["text"].startswith("did not train: estimator")
        text = write_summary([tmp_path / "m.json"], tmp_path / "summary.md", benchmark_root=tmp_path)
        assert "| did not train: estimator" in text and "0 of 1 claims hold" in text and "1 not judged" in text
    else:
        assert written["holds"] is True and written["verdict"]["text"] == "holds"
    assert doc["holds"] == written["holds"]


def test_holds_none_needs_the_did_not_train_verdict(tmp_path):
    with pytest.raises(TypeError):
        write_metrics(tmp_path / "m.json", study="s", paper="p", title="t", key_metric={"name": "n", "value": 1},
                      claim="c", holds=None, metrics={})


def test_trainings_upstream_reach_the_report_once(tmp_path):
    """A model trained in one job, evaluated in a second and reported in a
    third: its record travels in the sidecars beside the outputs and lands in
    metrics.json's training block once, even when the report reads both the
    model and the evaluation (two paths to the same record)."""
    model_file, scores = tmp_path / "model.pt", tmp_path / "eval"
    model_file.write_text("weights")
    fit(*_regression()[:1], _mse, _regression()[1], TrainConfig(epochs=3, batch_size=64, lr=0.0, progress=False,
                                                                desc="tagger"))
    own = health.with_origin(health.RECORDS, str(model_file))
    assert health.save_beside([model_file, tmp_path / "missing"], own) == [health.sidecar(model_file)]
    health.clear()
    scores.mkdir()  # an output folder keeps its records inside
    health.save_beside([scores], health.load_beside([model_file]))
    assert health.sidecar(scores) == scores / ".health.json"
    job = _example_job(tmp_path)
    job["input"] = {"all": [str(model_file), str(scores)], "named": {}}
    written = context(job).write_metrics(dict(HOLDS))
    assert written["training"]["tagger"]["n"] == 1 and written["training"]["tagger"]["trained"] is False
    assert written["holds"] is None and written["verdict"]["text"].startswith("did not train: tagger")
    assert health.REPORTED


def test_a_broken_sidecar_is_one_line(tmp_path):
    f = tmp_path / "model.pt"
    f.write_text("w")
    health.sidecar(f).write_text("{not json")
    from colliderflow.errors import InputError
    with pytest.raises(InputError, match=r"\.model\.pt\.health\.json: field 'records': not a training-health file"):
        health.load_beside([f])


def test_history_of_a_large_validation_set_reads_as_before():
    """The small-validation fields stay out of a normal history (JSON bytes unchanged for those studies)."""
    model, data = _regression(n=1500)
    d = fit(model, _mse, data, TrainConfig(epochs=1, progress=False)).as_dict()
    assert not {"n_val", "initial_train", "final_train"} & set(d)
    model, data = _regression(n=60)
    d = fit(model, _mse, data, TrainConfig(epochs=1, progress=False)).as_dict()
    assert d["n_val"] == 12 and d["final_train"] < d["initial_train"]
    json.dumps(d, allow_nan=False)
