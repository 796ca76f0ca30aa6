"""Sophon-style signature pre-training (arXiv:2405.12972): unit tests on tiny
inputs, a small end-to-end transfer on a tiny toy, and checks of the smoke
outputs (``smoke_run``)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from colliderflow.data import jet_constituents as jc
from colliderflow.errors import InputError
from colliderflow.studies import sophon
from colliderflow.studies.sophon import core, export, steps
from colliderflow.study import Context, Paths, build_config

from ..conftest import REPO

CFG = build_config(sophon.Config, dict(
    heldout="X2p40", exclude=[], target="toy", n_target_per_class=20, n_constituents=12, dim=16, heads=2, layers=1,
    n_test=20,
    pretrain_qcd_fraction=0.5,
    n_pretrain_per_class=0, pretrain_epochs=2, batch_size=64, lr=0.003, finetune_lr=0.001, sizes=[4, 8], seeds=[1, 2],
    target_steps=4, max_epochs=4, probe_c=1.0))


def _ctx(step: str, inputs: dict, outputs: dict, cfg=CFG, seed: int = 3) -> Context:
    def paths(d):
        return Paths([str(v) for v in d.values()], {k: str(v) for k, v in d.items()})

    return Context(study=sophon.STUDY, step=sophon.STUDY.step(step), input=paths(inputs), output=paths(outputs),
                   cfg=cfg, seed=seed, tier="test")


@pytest.fixture(scope="module")
def tiny_jets(tmp_path_factory):
    path = tmp_path_factory.mktemp("sophon") / "jets.h5"
    jc.write_jets(path, jc.generate_toy(11 * 60, 16, seed=5, classes=jc.FINE_CLASSES), "toy")
    return path


@pytest.fixture(scope="module")
def tiny_pretrained(tiny_jets):
    out = tiny_jets.parent / "pretrained.pt"
    info = core.pretrain(tiny_jets, out, CFG, seed=3)
    return out, info


def _tagger(n_out=3, seed=0):
    d = jc.generate_toy(12, 10, seed=seed, classes=jc.FINE_CLASSES)
    x, m, p = core.inputs(d["constituents"], 10)
    torch.manual_seed(seed)
    return core.Tagger(dict(dim=16, heads=2, layers=2, n_out=n_out, n_constituents=10),
                         core.feature_stats(x, m, p)).eval(), (x, m, p)


def test_partition_disjoint_and_heldout_unseen():
    d = jc.generate_toy(11 * 40, 8, seed=1, classes=jc.FINE_CLASSES)
    names, lab = d["class_names"], d["labels"]
    part = core.partition(lab, names, "H", n_test=10, pretrain_qcd_fraction=0.5, seed=0)
    sets = [set(part[k].tolist()) for k in ("pretrain", "test", "pool")]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert names.index("H") not in set(lab[part["pretrain"]].tolist()), "held-out class never pre-trained on"
    qcd = [names.index(b) for b in core.BACKGROUND]
    assert np.isin(lab[part["pretrain"]], qcd).sum() == 40, "half of the 80 q/g jets go to pre-training"
    assert np.isin(lab[part["test"]], qcd).sum() == 10 and (lab[part["test"]] == names.index("H")).sum() == 10
    again = core.partition(lab, names, "H", 10, 0.5, 0)
    assert all(np.array_equal(part[k], again[k]) for k in ("pretrain", "test", "pool"))
    capped = core.cap_per_class(part["pretrain"], lab, 5, 0)
    assert np.bincount(lab[capped]).max() == 5
    ex = core.partition(lab, names, "t", 10, 0.5, 0, exclude=("X3p400",))
    rows = np.concatenate([ex[k] for k in ("pretrain", "test", "pool")])
    assert names.index("X3p400") not in set(lab[rows].tolist()), "an excluded class is in no set"
    assert names.index("t") not in set(lab[ex["pretrain"]].tolist())
    cfg = dataclasses.replace(CFG, heldout="X3p50", exclude=("t", "X3p400"))
    rows = core.pretrain_rows(lab, names, cfg, 0)
    assert not np.isin(lab[rows], [names.index("t"), names.index("X3p400")]).any()


def test_toy_target_file(tmp_path):
    """The toy transfer target: its own file of q, g and the held-out class, equal numbers each."""
    cfg = dataclasses.replace(CFG, heldout="X3p50", n_target_per_class=20)
    core.make_target(tmp_path / "t.h5", cfg, 12, seed=1)
    d = jc.read_jets(tmp_path / "t.h5")
    assert d["class_names"] == ["q", "g", "X3p50"] and np.bincount(d["labels"]).tolist() == [20, 20, 20]
    part = core.target_partition(d["labels"], d["class_names"], "X3p50", 5, 0)
    assert (d["labels"][part["test"]] == 2).sum() == 5 and part["n_pool_signal"] == 15


def test_rejection_at_half_efficiency():
    y = np.array([1, 1, 0, 0, 0, 0])
    s = np.array([0.9, 0.5, 0.95, 0.3, 0.2, 0.1])  # 50 % signal passes with 1 of 4 background jets
    assert core.rejection_at(y, s) == (4.0, False)
    rej, sat = core.rejection_at(y, np.array([0.9, 0.8, 0.1, 0.2, 0.3, 0.4]))
    assert sat and rej == 4.0, "no background passes: the bound n_background"


def _pad(t, axis, k=3):
    """k extra zero (padding) slots along ``axis``."""
    return torch.cat([t, torch.zeros(*t.shape[:axis], k, *t.shape[axis + 1:], dtype=t.dtype)], axis)


def test_tagger_symmetries_and_eval_is_finite():
    """Constituent order does not matter, padding does not matter, no NaN in
    the inference path (torch's fused path is switched off in Tagger.embed)."""
    model, (x, m, p) = _tagger()
    with torch.no_grad():
        out = model(x, m, p)
        assert torch.isfinite(out).all() and out.shape == (12, 3)
        perm = torch.randperm(10, generator=torch.Generator().manual_seed(1))
        permuted = model(x[:, perm], m[:, perm], p[:, perm][:, :, perm])
        torch.testing.assert_close(permuted, out, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(model(_pad(x, 1), _pad(m, 1), _pad(_pad(p, 1), 2)), out, atol=1e-5, rtol=1e-4)


def test_probe_head_reproduces_the_probe(tmp_path):
    model, (x, m, p) = _tagger(n_out=1)
    y = np.arange(12) % 2
    emb = core.embeddings(model, x, m, p)
    clf = core.fit_probe(emb, y, 1.0)
    core.probe_head(model, clf)
    np.testing.assert_allclose(core.scores(model, x, m, p), clf.decision_function(emb), atol=1e-4)
    core.save_tagger(model, tmp_path / "t.pt", {"heldout": "H"})
    back, info = core.load_tagger(tmp_path / "t.pt")
    assert info == {"heldout": "H"}
    np.testing.assert_allclose(core.scores(back, x, m, p), core.scores(model, x, m, p), atol=1e-6)


@pytest.mark.parametrize("field,value", [
    ("heldout", "q"), ("heldout", "nope"), ("sizes", (50, 10)), ("sizes", (10, 10)), ("seeds", (1, 1)), ("dim", 15),
    ("exclude", ("nope",)), ("exclude", ("g",)),
])
def test_bad_config_is_input_error(field, value):
    """What the schema cannot check (fields together, the jets file; the held-out class against the
    transfer target's classes) -> InputError naming the field."""
    with pytest.raises(InputError, match=f"studies.sophon.{field}"):
        core.check_config(dataclasses.replace(CFG, **{field: value}), jc.FINE_CLASSES,
                          target_file=value == "nope" and field == "heldout")


@pytest.mark.parametrize("field,value", [
    ("sizes", []), ("sizes", [1]), ("seeds", [1]), ("lr", -1.0), ("pretrain_qcd_fraction", 1.0),
    ("n_constituents", 0), ("n_pretrain_per_class", -1), ("probe_c", "x"), ("nope", 1),
])
def test_bad_single_values_fail_the_schema(field, value):
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    good = json.loads(json.dumps(dataclasses.asdict(CFG))) | {"enabled": True}
    validate(dict(good), str(sophon.STUDY.schema))
    with pytest.raises(WorkflowError):
        validate(good | {field: value}, str(sophon.STUDY.schema))


def test_config_and_bad_files(tmp_path, tiny_jets, tiny_pretrained):
    with pytest.raises(InputError, match="probe_c"):
        build_config(sophon.Config, {k: v for k, v in dataclasses.asdict(CFG).items() if k != "probe_c"},
                     "studies.sophon")
    with pytest.raises(InputError, match="does not exist"):
        core.load_tagger(tmp_path / "none.pt")
    with pytest.raises(InputError, match="info.heldout"):
        core.transfer(tiny_jets, tiny_pretrained[0], dataclasses.replace(CFG, heldout="H"), seed=3)
    with pytest.raises(InputError, match="sizes"):
        core.transfer(tiny_jets, tiny_pretrained[0], dataclasses.replace(CFG, sizes=(4, 500)), seed=3)


def test_tiny_pipeline_end_to_end(tmp_path, tiny_jets, tiny_pretrained):
    """Pre-train -> transfer -> publish -> report on a tiny toy: every method,
    size and seed has finite metrics; the ONNX encoder reproduces torch."""
    path, info = tiny_pretrained
    assert "X2p40" not in info["classes"] and len(info["classes"]) == 10
    steps.transfer(_ctx("transfer", {"jets": tiny_jets, "pretrained": path}, {"transfer": tmp_path / "transfer.json"}))
    t = json.loads((tmp_path / "transfer.json").read_text())
    for method in sophon.METHODS:
        for size in CFG.sizes:
            runs = t["runs"][method][str(size)]
            assert len(runs) == 2 and all(0 <= r["auc"] <= 1 and r["rejection"] >= 1 for r in runs)
    pub = export.publish(path, tiny_jets, tmp_path / "published", n_val=16)
    assert pub["exported"] and pub["passed"], pub
    card = json.loads((tmp_path / "published" / "model_card.json").read_text())
    assert set(card["inputs"]) == {"particles", "mask", "pairs"} and card["training_data"]["heldout"] == "X2p40"
    (tmp_path / "pub.json").write_text(json.dumps(pub))
    steps.report(_ctx("report", {"transfer": tmp_path / "transfer.json", "publish": tmp_path / "pub.json"},
                      {"metrics": tmp_path / "metrics.json", "png": tmp_path / "rejection_vs_labelled.png",
                       "pdf": tmp_path / "rejection_vs_labelled.pdf"}))
    m = json.loads((tmp_path / "metrics.json").read_text())
    if m["holds"] is None:  # a tiny fine-tune may not learn: then it says so instead of a physics no
        assert m["verdict"]["text"].startswith("did not train: ")
        assert not all(t["trained"] for t in m["training"].values())
    else:
        assert m["holds"] == sophon.verdict(m["metrics"], None).holds
    assert [c["competitor"] for c in m["verdict"]["comparisons"]][:2] == [
        "trained from scratch", "linear probe on a random-init encoder"]
    assert (tmp_path / "rejection_vs_labelled.png").exists() and (tmp_path / "rejection_vs_labelled.pdf").exists()


def test_shared_frozen_probe_gives_the_per_method_results(tiny_jets, tiny_pretrained):
    """The transfer step embeds the test set once and fits each labelled set's probe once for the probe
    and the fine-tune; each method alone (recomputing both) gets the same numbers."""
    path, _ = tiny_pretrained
    jets = core.read_jets(tiny_jets)
    part = core.partition(jets["labels"], jets["class_names"], CFG.heldout, CFG.n_test, CFG.pretrain_qcd_fraction, 3)
    sig = jets["class_names"].index(CFG.heldout)
    data = {}
    for name in ("pool", "test"):
        x, mask, pairs = core.inputs(jets["constituents"][part[name]], CFG.n_constituents)
        data[name] = {"x": x, "mask": mask, "pairs": pairs, "y": (jets["labels"][part[name]] == sig).astype(np.int64)}
    enc, _ = core.load_tagger(path)
    for size, s in ((4, 1), (8, 2)):
        idx = core._balanced(data["pool"]["y"], size, np.random.default_rng([s, size]))
        shared = core.frozen_probe(enc, data, idx, CFG)
        for method in ("probe", "finetune"):
            fresh = {k: {f: a for f, a in v.items() if f != "emb"} for k, v in data.items()}  # no cached embedding
            alone = core.transfer_one(method, path, fresh, idx, CFG, s)
            assert core.transfer_one(method, path, data, idx, CFG, s, shared) == alone


# ------------------------------------------------------------ smoke outputs

def _metrics(smoke_run):
    return json.loads((smoke_run / "results" / "sophon" / "metrics.json").read_text())


def test_smoke_finetune_beats_scratch_at_smallest_size(smoke_run):
    """Physics: with the fewest labelled jets the pre-trained, fine-tuned
    tagger separates the unseen resonance from QCD better than the same
    network from scratch: mean test AUC higher by more than 0.02."""
    m = _metrics(smoke_run)
    s = str(m["metrics"]["sizes_per_class"][0])
    summ = m["metrics"]["summary"]
    assert summ["finetune"][s]["auc"]["mean"] > summ["scratch"][s]["auc"]["mean"] + 0.02
    assert summ["probe"][s]["auc"]["mean"] > 0.6, "the frozen embedding alone separates the unseen resonance"


def test_smoke_outputs_consistent(smoke_run):
    m = _metrics(smoke_run)
    assert m["study"] == "sophon" and m["paper"] == sophon.STUDY.paper and isinstance(m["holds"], bool)
    summ = m["metrics"]["summary"]
    assert m["holds"] == sophon.verdict(m["metrics"], None).holds
    assert all(c["n"] == len(m["metrics"]["seeds"]) for c in m["verdict"]["comparisons"])
    assert m["metrics"]["heldout"] not in m["metrics"]["pretrain"]["classes"]
    for method in sophon.METHODS:
        for d in summ[method].values():
            assert len(d["auc"]["values"]) == len(m["metrics"]["seeds"])
    pub = m["metrics"]["published_encoder"]
    assert pub["exported"] and pub["passed"] and pub["max_abs_diff"] < 1e-4
    res = smoke_run / "results" / "sophon"
    assert (res / "rejection_vs_labelled.png").exists() and (res / "published" / "model.onnx").exists()


# ------------------------------------------------------------ verdict power

def _summary(finetune, scratch, probe, probe_random, size=10):
    """core.summarise of transfer runs with these per-seed rejections (AUC alongside, unused by the verdict)."""
    runs = {m: {str(size): [{"rejection": r, "auc": 0.8, "saturated": False, "seed": s}
                             for s, r in enumerate(v)]}
            for m, v in (("finetune", finetune), ("scratch", scratch), ("probe", probe),
                         ("probe_random", probe_random))}
    return {"summary": core.summarise({"runs": runs}), "sizes_per_class": [size]}


def test_verdict_passes_a_transfer_gain_over_paired_seeds():
    v = sophon.verdict(_summary([30, 26, 35], [12, 10, 15], [20, 18, 24], [6, 5, 8]), None)
    assert v.holds and all(c.holds for c in v.comparisons if c.required)


def test_verdict_rejects_no_pretraining_and_seed_noise():
    """Power: without pre-training the fine-tune is the scratch network and the probe a random-init probe
    (identical numbers): no; a mean gain of +6 inside the per-seed noise (paired differences +12, -3, +9:
    not > 2 SE): no."""
    same = [12.0, 10.0, 15.0]
    assert not sophon.verdict(_summary(same, same, same, same), None).holds
    v = sophon.verdict(_summary([24, 7, 24], [12, 10, 15], [20, 18, 24], [6, 5, 8]), None)
    assert not v.holds and not v.comparisons[0].holds and v.comparisons[1].holds


def test_default_target_is_not_a_pretraining_topology():
    """The issue's defect: the unseen class was the 2-prong generator at a new mass (X2p40 beside W, Z, H,
    X2p300). The default tier's held-out class must have a prong topology (number of decay pairs) that no
    pre-training class has."""
    import yaml

    from colliderflow.data.jet_constituents import _TOY

    c = yaml.safe_load((REPO / "config/config.yaml").read_text())["studies"]["sophon"]
    classes = yaml.safe_load((REPO / "config/config.yaml").read_text())["data"]["jetclass"]["toy"]["classes"]

    def topology(name):
        return (_TOY[name]["mass"] > 0, len(_TOY[name].get("pairs", ())))

    pre = [n for n in classes if n != c["heldout"] and n not in c["exclude"]]
    assert topology(c["heldout"]) not in {topology(n) for n in pre}, (c["heldout"], pre)


def test_pretrain_rule_is_cached_on_code_and_config():
    """The pre-trained encoder is a between-workflow cached artifact: one
    output, no benchmark, `cache: S.cache`; the cache keys on its params (the
    config section whole and the code hash, see colliderflow.dag)."""
    from colliderflow.dag import StepRule

    step = sophon.STUDY.step("pretrain")
    assert step.cached and step.outputs == ("model",)
    text = (REPO / "workflow/rules/jets.smk").read_text()
    body = text.split("rule sophon_pretrain:")[1].split("\nrule ")[0]
    assert "cache: S.cache" in body and "benchmark:" not in body
    assert body.split("output:")[1].split("params:")[0].count('"') == 2, "exactly one output"
    import yaml

    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    rule = StepRule("sophon", "pretrain", config=config, basedir=str(REPO))
    assert rule.cache == "omit-software" and "code" in rule.params and rule.params["cfg"] is config["studies"]["sophon"]


@pytest.mark.real
def test_real_toplandscape_target(shared_data, tmp_path, tiny_jets):
    """The real tier's transfer target: TopLandscape top vs QCD (ParT-format excerpt) after pre-training on
    the toy without any 3-prong class; every method gives finite test metrics."""
    jets = jc.read_part_excerpt(shared_data / "jets_part_samples" / "toplandscape", 16, class_names=("QCD", "t"))
    jc.write_jets(tmp_path / "tl.h5", jets, "file")
    cfg = dataclasses.replace(CFG, heldout="t", exclude=("X3p400",), target="toplandscape", n_test=100,
                              sizes=(5,), seeds=(1, 2))
    core.pretrain(tiny_jets, tmp_path / "pre.pt", cfg, seed=3)
    t = core.transfer(tmp_path / "tl.h5", tmp_path / "pre.pt", cfg, seed=3)
    assert t["background"] == ["QCD"] and t["target"] == "toplandscape"
    for method in sophon.METHODS:
        assert all(0 <= r["auc"] <= 1 for r in t["runs"][method]["5"])
    with pytest.raises(InputError, match="heldout"):
        core.transfer(tmp_path / "tl.h5", tmp_path / "pre.pt", dataclasses.replace(cfg, heldout="H"), seed=3)


def test_finetune_validation_rows_are_held_out_of_its_probe():
    """The fine-tune's probe is fitted on its training rows only: the split is
    disjoint, covers every row and holds out a quarter of each class (the probe
    had seen the validation rows, so its starting validation loss was biased)."""
    y = np.array([0] * 10 + [1] * 10)
    tr, va = core.split_validation(y, 0.25, seed=3)
    assert not set(tr) & set(va) and sorted([*tr, *va]) == list(range(20))
    assert [int(np.sum(y[va] == k)) for k in (0, 1)] == [round(0.25 * 10)] * 2
    assert np.array_equal(core.split_validation(y, 0.25, seed=3)[1], va)
