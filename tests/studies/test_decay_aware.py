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
from colliderflow.studies import decay_aware as spec
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
    """The verdict block names the BDT, the MLP and the no-aux-head null over
    paired seeds; every AUC better than random; the aux head learns."""
    m = _metrics(smoke_run, "decay_aware")
    comps = {c["competitor"]: c for c in m["verdict"]["comparisons"] if c["required"]}
    named = {"BDT (engineered features)", "plain MLP (flat objects)", "same set network, no auxiliary head"}
    assert named <= set(comps)
    assert all(c["over"] == "paired seeds" and c["n"] >= 3 for k, c in comps.items() if not k.startswith("chance"))
    for model in decay_aware.MODELS:
        for s in m["metrics"]["sizes"]:
            assert m["metrics"]["auc"][model][str(s)]["mean"] > 0.55
    # a network that never beat its initial validation loss makes the study 'did not train', not a physics yes/no
    untrained = [k for k, t in m["training"].items() if not t["trained"]]
    assert m["holds"] == (None if untrained else all(c["holds"] for c in comps.values())), m["verdict"]
    assert (smoke_run / "results" / "decay_aware" / "auc_vs_size.pdf").exists()


# ------------------------------------------------------------------ verdict (issue 17)
def _cfg():
    from colliderflow.study import build_config

    return build_config(spec.Config, study_config("decay_aware"), "studies.decay_aware")


def _fake(multitask, bdt, mlp, set_, bacc=(0.8, 0.82, 0.81)):
    """metrics with per-seed AUCs at two sizes (the same at both)."""
    auc = {k: {s: {"mean": sum(v) / len(v), "values": list(v)} for s in ("100", "400")}
           for k, v in (("multitask", multitask), ("bdt", bdt), ("mlp", mlp), ("set", set_))}
    return {"sizes": [100, 400], "auc": auc, "aux_head": {"400": {"balanced_accuracy_values": list(bacc)}}}


def test_verdict_needs_the_bdt_the_mlp_and_the_aux_head():
    good = _fake([0.85, 0.86, 0.84], [0.80, 0.81, 0.80], [0.70, 0.72, 0.71], [0.81, 0.82, 0.80])
    assert spec.verdict(good, _cfg()).holds
    # the paper's headline competitor wins: holds is false (the defect: the BDT was left out)
    bdt_wins = _fake([0.85, 0.86, 0.84], [0.88, 0.88, 0.87], [0.70, 0.72, 0.71], [0.81, 0.82, 0.80])
    v = spec.verdict(bdt_wins, _cfg())
    assert not v.holds and [c.competitor for c in v.comparisons if not c.holds][0] == "BDT (engineered features)"
    # an aux head that learned nothing
    assert not spec.verdict(_fake([0.85, 0.86, 0.84], [0.80, 0.81, 0.80], [0.70, 0.72, 0.71], [0.81, 0.82, 0.80],
                                  bacc=(0.52, 0.55, 0.5)), _cfg()).holds


def test_no_auxiliary_head_fails_the_null_control(toy):
    """The power check on the study's real evaluation: with aux_weight 0 the
    'multi-task' network is the set network without the auxiliary head, so
    the null comparison has zero effect and the verdict must say no."""
    import torch

    torch.set_num_threads(1)
    c = _cfg()
    m = decay_aware.run({p: str(f) for p, f in toy.items()}, "zprime_tt", "ttbar", [100, 300], [0, 1, 2],
                        common.encoder_hp(c.encoder), 0.0, common.train_config(0), 15, 5, bdt_trees=20)
    v = spec.verdict(m, c)
    null = next(x for x in v.comparisons if x.null)
    assert abs(null.effect) < 1e-9 and not null.holds and not v.holds
