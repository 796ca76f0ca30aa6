"""Self-supervised pre-training, fine-tuned on small labelled sets
(arXiv:2312.06909). The claim is checked on the smoke-tier outputs
(``smoke_run``); the shared encoder in tests/core/test_eventclass.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

from colliderflow.data.toy_nanoaod import write_process
from colliderflow.eventclass.encoder import load_encoder
from colliderflow.nn.train import TrainConfig
from colliderflow.studies.pretraining import core as pretraining
from colliderflow.study import run_job

from ..conftest import study_config

HP = {"dim": 16, "heads": 2, "layers": 1, "out_dim": 8}


def test_pretraining_reads_real_doublemu(shared_data, tmp_path):
    """The real DoubleMu excerpt goes through the same reader as the toy:
    muons only (jets/electrons empty), and the encoder pre-trains on it."""
    f = shared_data / "cms_opendata" / "Run2012BC_DoubleMuParked_Muons_first100k.root"
    raw, mask = pretraining.unlabelled_events([f], "file", 400, 0)
    assert raw.shape[0] == 400
    assert mask[:, 6:8].any(1).mean() > 0.9 and not mask[:, :6].any() and not mask[:, 8:10].any()
    info = pretraining.pretrain([f], "file", 400, HP, TrainConfig(epochs=1, batch_size=128, progress=False),
                                tmp_path / "enc.pt", 0.2, 0.05, 0.1)
    assert info["source"] == "file" and info["n_events"] == 400 and np.isfinite(info["final_val_loss"])
    assert load_encoder(tmp_path / "enc.pt")[1]["files"] == [str(f)]


@pytest.mark.usefixtures("one_torch_thread")
def test_encoder_step_on_toy_mixture(tmp_path):
    """The encoder step (rule pretraining_encoder) on a toy process mixture:
    the unlabelled part of every file, the encoder hyper-parameters from the config."""
    files = []
    for p in ("ttbar", "qcd"):
        files.append(str(tmp_path / f"{p}.root"))
        write_process(files[-1], p, 500, seed=2)
    cfg = study_config("pretraining")
    cfg.update(encoder=HP, pretrain_epochs=1, unlabelled={"source": "toy", "files": [], "n_events": 300})
    out = {"model": str(tmp_path / "enc.pt"), "model_json": str(tmp_path / "enc.json")}
    job = {"step": "pretraining.encoder", "cfg": cfg, "seed": 0, "tier": "smoke",
           "input": {"all": files, "named": {"toy": files}}, "output": {"all": list(out.values()), "named": out},
           "log": str(tmp_path / "encoder.log")}
    assert run_job(job) == 0, (tmp_path / "encoder.log").read_text()
    enc, hp = load_encoder(out["model"])
    assert hp["source"] == "toy" and hp["files"] == files and hp["n_events"] == 300
    assert {k: hp[k] for k in HP} == HP and hp["epochs"] == 1


def _metrics(smoke_run, study):
    return json.loads((smoke_run / "results" / study / "metrics.json").read_text())


def test_smoke_pretraining(smoke_run):
    """What the smoke tier shows with a margin its seed spread cannot cross.

    Measured on the smoke toy (encoder of seed 42, fine-tuning seeds 0-11 at
    N=60, 0-7 at N=600): at N=60 one seed's gain of pre-training scatters by
    0.039 (mean 0.013 +- 0.011), so the claim itself (a gain at the smallest
    N) is decided by the verdict, which this test recomputes, and is not
    asserted: with the tier's two seeds it comes out either way (the old
    assertion failed at gain 0.0099). What is robust: with 600 labelled
    events both classifiers learn (AUC 0.791-0.812 over 16 trainings) and
    pre-training no longer matters (gain -0.006, per-seed spread 0.005)."""
    m = _metrics(smoke_run, "pretraining")
    a, v = m["metrics"]["auc"], m["metrics"]["verdict"]
    small, large = (str(s) for s in (m["metrics"]["sizes"][0], m["metrics"]["sizes"][-1]))
    assert (small, large) == ("60", "600")
    # the verdict follows from the numbers (paired per-seed gains, n - 1)
    gains = np.subtract(a["pretrained"][small]["values"], a["scratch"][small]["values"])
    se = gains.std(ddof=1) / np.sqrt(len(gains))
    assert v["gain_smallest"] == pytest.approx(gains.mean()) and v["gain_smallest_se"] == pytest.approx(se)
    gain_large = a["pretrained"][large]["mean"] - a["scratch"][large]["mean"]
    assert m["holds"] == v["holds"] == bool(gains.mean() > v["min_gain"] + se and gain_large < gains.mean())
    # with enough labels both learn and agree: margins of about 8 and 7 spreads of the two-seed numbers
    for kind in ("pretrained", "scratch"):
        assert min(a[kind][large]["values"]) > 0.75
    assert abs(gain_large) < 0.03
    assert (smoke_run / "resources" / "eventclass" / "pretrained_encoder.json").exists()
