"""Decay-aware multi-task event classification (arXiv:2212.08759). The claim
is checked on the smoke-tier outputs (``smoke_run``); the shared encoder in
tests/core/test_eventclass.py."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from colliderflow.data.toy_nanoaod import write_process
from colliderflow.errors import InputError
from colliderflow.eventclass import common
from colliderflow.studies.decay_aware import core as decay_aware
from colliderflow.study import run_job

from ..conftest import study_config


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    d = tmp_path_factory.mktemp("eventclass")
    files = {}
    for p in ("ttbar", "zprime_tt"):
        files[p] = d / f"{p}.root"
        write_process(files[p], p, 600, seed=1)
    return files


def test_bad_inputs(toy, tmp_path, capfd):
    tables = {"ttbar": pd.DataFrame()}
    with pytest.raises(InputError, match="zprime"):
        common.labelled(tables, "zprime_tt", "ttbar")
    # a signal that is not among the rule's inputs: exit status 2 and one line naming the config key
    cfg = {**study_config("decay_aware"), "signal": "qcd"}
    out = {k: str(tmp_path / f) for k, f in (("metrics", "metrics.json"), ("png", "auc.png"), ("pdf", "auc.pdf"),
                                             ("model", "enc.pt"), ("model_json", "enc.json"))}
    toy_files = [str(toy["zprime_tt"]), str(toy["ttbar"])]
    job = {"step": "decay_aware.train", "cfg": cfg, "seed": 0, "tier": "smoke",
           "input": {"all": toy_files, "named": {"toy": toy_files}},
           "output": {"all": list(out.values()), "named": out}, "log": str(tmp_path / "train.log")}
    assert run_job(job) == 2
    err = capfd.readouterr().err
    assert "error:" in err and "studies.decay_aware.signal" in err and "qcd" in err


def _metrics(smoke_run, study):
    return json.loads((smoke_run / "results" / study / "metrics.json").read_text())


def test_smoke_decay_aware(smoke_run):
    """Aux head beats chance clearly; multi-task not worse than the MLP at the
    smallest size (tolerance from config); every AUC better than random."""
    m = _metrics(smoke_run, "decay_aware")
    v = m["metrics"]["verdict"]
    assert v["aux_balanced_accuracy"] > 0.5 + v["aux_margin"]
    assert v["multitask_minus_mlp_smallest"] > -v["auc_tolerance"]
    for model in decay_aware.MODELS:
        for s in m["metrics"]["sizes"]:
            assert m["metrics"]["auc"][model][str(s)]["mean"] > 0.55
    # a network that never beat its initial validation loss makes the study 'did not train', not a physics yes/no
    untrained = [k for k, t in m["training"].items() if not t["trained"]]
    assert m["holds"] == (None if untrained else v["holds"]), m["verdict"]
    assert (smoke_run / "results" / "decay_aware" / "auc_vs_size.pdf").exists()
