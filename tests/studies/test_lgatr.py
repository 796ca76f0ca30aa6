"""L-GATr (arXiv:2411.00446): Lorentz transforms, the invariant tagger vs the
plain transformer under boosts and rotations, metrics, bad config, smoke outputs."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from colliderflow.data import jet_constituents as jc
from colliderflow.data.kinematics import MINKOWSKI, apply_lorentz, boost_matrix, random_lorentz, rotation_matrix
from colliderflow.errors import InputError
from colliderflow.study import build_config

from ..conftest import REPO, study_config

torch = pytest.importorskip("torch")
torch = pytest.importorskip("torch")
lg = pytest.importorskip("colliderflow.studies.lgatr.core")
spec = pytest.importorskip("colliderflow.studies.lgatr")


def _minkowski(a, b):
    return a[..., 0] * b[..., 0] - (a[..., 1:] * b[..., 1:]).sum(-1)


@pytest.fixture(scope="module")
def jets():
    d = jc.select_classes(jc.generate_toy(66, 16, seed=5, classes=jc.FINE_CLASSES), ["t", "q", "g"])
    return {"p4": jc.four_vectors(d["constituents"][:, :8]), "mask": jc.constituent_mask(d["constituents"][:, :8]),
            "y": (d["labels"] == 0).astype(np.float32)}


# ------------------------------------------------------------- kinematics
def test_lorentz_matrices_preserve_the_metric_and_match_vector():
    import vector

    rng = np.random.default_rng(1)
    lam = random_lorentz(rng, 20, 2.5)
    np.testing.assert_allclose(np.swapaxes(lam, 1, 2) @ MINKOWSKI @ lam, np.broadcast_to(MINKOWSKI, lam.shape),
                               atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(lam), 1.0, rtol=1e-9)  # proper
    assert np.all(lam[:, 0, 0] >= 1.0)  # orthochronous
    np.testing.assert_allclose(lam[:, 0, 0], math.cosh(2.5), rtol=1e-12)  # gamma of the boost (rotation first)
    # a boost along z agrees with scikit-hep vector's
    b = boost_matrix(0.8, [0.0, 0.0, 1.0]) @ np.array([10.0, 1.0, 2.0, 3.0])
    v = vector.obj(E=10.0, px=1.0, py=2.0, pz=3.0).boost_beta3(vector.obj(x=0.0, y=0.0, z=math.tanh(0.8)))
    np.testing.assert_allclose(b, [v.E, v.px, v.py, v.pz], rtol=1e-12)
    # rapidities add along one axis; rotations keep E and |p|
    n = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(boost_matrix(0.3, n) @ boost_matrix(1.1, n), boost_matrix(1.4, n), atol=1e-12)
    r = rotation_matrix([0.2, 0.3, -1.0], 1.3) @ np.array([5.0, 1.0, 2.0, 3.0])
    assert r[0] == 5.0 and math.isclose(np.linalg.norm(r[1:]), math.sqrt(14), rel_tol=1e-12)


def test_apply_lorentz_keeps_every_pair_invariant(jets):
    p = jets["p4"]
    q = apply_lorentz(random_lorentz(np.random.default_rng(2), len(p), 1.5), p)
    assert q.shape == p.shape and np.all(q[~jets["mask"]] == 0)
    pairs = _minkowski(p[:, :, None], p[:, None, :])
    scale = p[..., 0].max() ** 2
    np.testing.assert_allclose(_minkowski(q[:, :, None], q[:, None, :]), pairs, atol=1e-9 * scale)
    assert np.abs(q - p).max() > 0.1 * p[..., 0].max()  # the components did change


def test_global_scale_is_one_lorentz_invariant_number(jets):
    p, m = jets["p4"], jets["mask"]
    s = lg.global_scale(p, m)
    jet = p.sum(1)
    mass = np.sqrt(np.clip(_minkowski(jet, jet), 0, None))
    assert math.isclose(s, np.median(mass) / p.shape[1], rel_tol=1e-9)  # median jet mass / N
    q = apply_lorentz(random_lorentz(np.random.default_rng(3), len(p), 2.0), p)
    assert math.isclose(lg.global_scale(q, m), s, rel_tol=1e-9)
    with pytest.raises(InputError, match="scale"):
        lg.global_scale(np.zeros((3, 4, 4)), np.zeros((3, 4), bool))


# ------------------------------------------------------------- invariance
def float64_tol(rapidity: float) -> float:
    """Largest float64 rounding shift of an invariant output, relative to its
    spread, after a boost of this rapidity: the boost scales the momenta by up
    to cosh(w) and Minkowski products cancel terms of size cosh(w)^2, so the
    rounding of one product grows like eps * cosh(w)^2; 2^22 covers the
    accumulation through the network's layers (a broken invariance moves the
    output by percents of its spread, 6 orders above this at rapidity 3).
    Derived from the precision, not from one machine's result."""
    return 2**22 * np.finfo(np.float64).eps * math.cosh(rapidity) ** 2


def _shift(model, p4, mask, rapidity, seed=0):
    lam = random_lorentz(np.random.default_rng(seed), len(p4), rapidity)
    return np.abs(lg.predict(model, apply_lorentz(lam, p4), mask) - lg.predict(model, p4, mask))


@pytest.mark.parametrize("readout", lg.READOUTS)
def test_lgatr_invariant_under_boosts_and_rotations_baseline_not(jets, readout):
    """The issue's test: boost (rapidity up to 3, beta <= 0.995) and rotate all
    constituents of each jet; L-GATr's logit moves by less than float64
    rounding grown by the boost (float64_tol, 1e-9 to 1e-7 of its spread) in
    float64 and < 1e-3 in float32 up to rapidity 1 (beta 0.76); the plain
    transformer's moves by more than 5 % of its spread."""
    p, m = jets["p4"], jets["mask"]
    hp = dict(blocks=2, mv_channels=4, s_channels=4, heads=2, mlp_ratio=2, readout=readout)
    torch.manual_seed(0)
    model = lg.LGATrTagger(lg.global_scale(p, m), **hp).eval()
    with torch.no_grad():  # larger than initial weights, so the outputs spread and the test has teeth
        for par in model.parameters():
            par.mul_(3.0)
    ref32 = lg.predict(model, p, m)
    spread32 = ref32.std()
    assert spread32 > 1e-3, "outputs must depend on the jet"
    lo32 = np.concatenate([_shift(model, p, m, w, k) for k, w in enumerate((0.0, 0.5, 1.0))])
    assert np.median(lo32) < 1e-3 * spread32
    model64 = model.double()
    spread64 = lg.predict(model64, p, m).std()
    for k, w in enumerate((0.0, 0.5, 1.0, 2.0, 3.0)):
        assert _shift(model64, p, m, w, k).max() < float64_tol(w) * spread64, f"rapidity {w}"
    torch.manual_seed(0)
    base = lg.BaselineTagger(*lg.component_stats(p, m), dim=16, heads=2, layers=1).eval()
    b_spread = lg.predict(base, p, m).std()
    for w in (0.0, 1.0, 3.0):  # rotations alone already change it
        assert np.median(_shift(base, p, m, w)) > 0.05 * b_spread


def test_spurions_break_the_symmetry_down_to_rotations_about_the_beam(jets):
    """The paper's tagging setup (beam x-y plane and time references) keeps
    only rotations about z: those leave the output unchanged, a boost does not."""
    p, m = jets["p4"], jets["mask"]
    torch.manual_seed(2)
    model = lg.LGATrTagger(lg.global_scale(p, m), blocks=1, mv_channels=4, s_channels=4, heads=1,
                           spurions=True).double().eval()
    with torch.no_grad():
        for par in model.parameters():
            par.mul_(3.0)
    ref = lg.predict(model, p, m)
    rot_z = rotation_matrix(np.broadcast_to([0.0, 0.0, 1.0], (len(p), 3)), np.linspace(0.3, 6.0, len(p)))
    assert np.abs(lg.predict(model, apply_lorentz(rot_z, p), m) - ref).max() < float64_tol(0.0) * ref.std()
    assert np.median(_shift(model, p, m, 1.0)) > 1e-3 * ref.std()


def test_padding_and_order_do_not_matter(jets):
    p, m = jets["p4"], jets["mask"]
    torch.manual_seed(1)
    model = lg.LGATrTagger(lg.global_scale(p, m), blocks=1, mv_channels=2, s_channels=4, heads=1, readout="token")
    model = model.double().eval()
    ref = lg.predict(model, p, m)
    # extra zero-padded slots are masked out of the attention
    wide = np.concatenate([p, np.zeros_like(p[:, :3])], 1)
    np.testing.assert_allclose(lg.predict(model, wide, np.concatenate([m, np.zeros_like(m[:, :3])], 1)), ref,
                               atol=1e-10)
    perm = np.random.default_rng(0).permutation(p.shape[1])
    np.testing.assert_allclose(lg.predict(model, p[:, perm], m[:, perm]), ref, atol=1e-10)


def test_parameter_counts_are_comparable(jets):
    cfg = _cfg()
    a = lg.n_params(lg.LGATrTagger(1.0, **dataclasses.asdict(cfg.lgatr)))
    b = lg.n_params(lg.BaselineTagger(np.zeros(4), np.ones(4), **dataclasses.asdict(cfg.baseline)))
    c = lg.n_params(lg.PartTagger(lg.part_stats(jets["p4"]), **dataclasses.asdict(cfg.part)))
    assert 0.5 < a / b < 2.0 and 0.5 < a / c < 2.0, (a, b, c)


def test_part_inputs_from_four_momenta(jets):
    """The ParT-like baseline reads (pT, eta, phi) back from the jet-frame four-momenta; its logits are finite
    and do not depend on the padding slots' order."""
    d = jc.select_classes(jc.generate_toy(66, 16, seed=5, classes=jc.FINE_CLASSES), ["t", "q", "g"])
    c = d["constituents"][:, :8].astype(np.float64)
    np.testing.assert_allclose(lg.p4_to_constituents(jc.four_vectors(c)), c, atol=1e-5)
    torch.manual_seed(0)
    model = lg.PartTagger(lg.part_stats(jets["p4"]), dim=8, heads=2, layers=1)
    out = lg.predict(model, jets["p4"], jets["mask"])
    assert out.shape == (len(jets["p4"]),) and np.isfinite(out).all()


def test_part_features_once_give_the_per_batch_logits(jets):
    """Training and prediction compute the ParT features once per jet (PartTagger.features) and call
    forward_features on them: the logits are exactly those of forward(p4, mask), which derives the features
    batch by batch, bit for bit (same batches), and predict() gives them."""
    torch.manual_seed(1)
    model = lg.PartTagger(lg.part_stats(jets["p4"]), dim=8, heads=2, layers=1).eval()
    p4, mask = jets["p4"], jets["mask"].copy()
    mask[:, -1] = False  # the jets' own mask restricts the features' pT > 0 mask
    feats = lg.PartTagger.features(p4, mask)
    with torch.no_grad():
        per_batch = torch.cat([model(torch.as_tensor(p4[i:i + 7]), torch.as_tensor(mask[i:i + 7]))
                               for i in range(0, len(p4), 7)])
        once = torch.cat([model.forward_features(*(t[i:i + 7] for t in feats)) for i in range(0, len(p4), 7)])
    assert torch.equal(per_batch, once)
    np.testing.assert_array_equal(lg.predict(model, p4, mask, batch=7), once.double().numpy())


def test_train_model_records_health_and_bf16_is_ignored_on_the_cpu(jets, monkeypatch):
    """Every trained tagger adds a training-health record (device included); the opt-in bf16 autocast is a
    CUDA-only setting, so on the CPU it changes no bit of the trained model."""
    from colliderflow import health

    monkeypatch.setenv("COLLIDERFLOW_DEVICE", "cpu")
    health.clear()
    sec = lg.TrainSection(samples=40, max_epochs=2, batch_size=16, lr=0.005, patience=5)
    hp = {"dim": 8, "heads": 2, "layers": 1}
    out = {}
    for bf16 in (False, True):
        model, _ = lg.train_model("part", jets["p4"], jets["mask"], jets["y"], hp, dataclasses.replace(sec, bf16=bf16),
                                  seed=3, scale=1.0)
        out[bf16] = model.state_dict()
    assert all(torch.equal(out[False][k], out[True][k]) for k in out[False])
    assert [name for name, _ in health.RECORDS] == [f"part-n{len(jets['y'])}-s3"] * 2
    assert all(rec["device"] == "cpu" and rec["steps"] > 0 for _, rec in health.RECORDS)
    health.clear()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: the GPU path is checked where one is lent")
@pytest.mark.parametrize("kind", ["lgatr_sb", "part"])
def test_tiny_training_on_cuda(jets, kind, monkeypatch):
    """With device cuda the taggers train there (token readout, spurions and masks on the input's device),
    come back on the CPU and predict anywhere, also under bf16 autocast."""
    monkeypatch.setenv("COLLIDERFLOW_DEVICE", "cuda")
    sec = lg.TrainSection(samples=40, max_epochs=2, batch_size=16, lr=0.005, patience=5, bf16=True)
    hp = ({"dim": 8, "heads": 2, "layers": 1} if kind == "part" else
          dict(blocks=1, mv_channels=2, s_channels=4, heads=2, mlp_ratio=2, readout="token", spurions=True))
    model, info = lg.train_model(kind, jets["p4"], jets["mask"], jets["y"], hp, sec, seed=3, scale=10.0)
    assert next(model.parameters()).device.type == "cpu" and np.isfinite(info["best_val_loss"])
    assert np.isfinite(lg.predict(model, jets["p4"], jets["mask"])).all()


def _performance(lgatr_sb, part, sizes=(100, 400)):
    """lg.aggregate of per-seed result files with these AUCs (per size, per seed) for L-GATr with spurions
    and the ParT-like baseline (the other models at chance, unused by the claim)."""
    results = []
    for s in range(len(lgatr_sb[0])):
        runs = []
        for k, n in enumerate(sizes):
            for kind, auc in (("lgatr_sb", lgatr_sb[k][s]), ("part", part[k][s]), ("lgatr", 0.5), ("baseline", 0.5)):
                runs.append({"model": kind, "n_train": n, "n_params": 1, "cpu_s": 0.0, "auc": auc, "rejection": 1.0})
        results.append({"seed": s, "runs": runs})
    return {"performance": lg.aggregate(results)}


def test_verdict_passes_lgatr_better_small_not_worse_large():
    m = _performance([[0.95, 0.96, 0.955], [0.985, 0.986, 0.984]], [[0.92, 0.935, 0.93], [0.986, 0.985, 0.985]])
    v = spec.verdict(m, _cfg())
    assert v.holds, [c.as_json() for c in v.comparisons if not c.holds]


def test_verdict_rejects_a_worse_or_merely_equal_lgatr():
    """Power: an L-GATr 0.02 AUC below the ParT-like baseline at the largest size fails non-inferiority, and
    one equal to it at the smallest size (the old 'within 1 sigma' rule passed both) fails 'better with few
    training jets'. Invariance plays no part: the metrics carry no invariance scan."""
    worse = _performance([[0.95, 0.96, 0.955], [0.965, 0.966, 0.964]], [[0.92, 0.935, 0.93], [0.986, 0.985, 0.985]])
    v = spec.verdict(worse, _cfg())
    assert not v.holds and not v.comparisons[1].holds and v.comparisons[0].holds
    equal = _performance([[0.93, 0.925, 0.935], [0.985, 0.986, 0.984]], [[0.93, 0.935, 0.925], [0.986, 0.985, 0.985]])
    v = spec.verdict(equal, _cfg())
    assert not v.holds and not v.comparisons[2].holds


# ------------------------------------------------------------- metrics
def test_roc_summary_separation_and_chance():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(500), np.zeros(2000)]
    perfect = lg.roc_summary(y, y + 0.01 * rng.random(len(y)), 0.5)
    assert perfect["auc"] == 1.0 and perfect["rejection"] == 2000  # no background passes: lower bound n_B
    chance = lg.roc_summary(y, rng.random(len(y)), 0.5)
    assert abs(chance["auc"] - 0.5) < 0.05 and 1.6 < chance["rejection"] < 2.5  # 1/eps_B = 1/eps_S


# ------------------------------------------------------------- bad input
def _section(**over):
    """The default-tier config section (a dict, as the rule passes it) with ``over`` changed."""
    return dict(study_config("lgatr"), **over)


def _cfg(**over):
    """The typed config (colliderflow.studies.lgatr.Config) of :func:`_section`."""
    return build_config(spec.Config, _section(**over), "studies.lgatr")


def test_bad_config_and_input_raise_input_error(tmp_path):
    import jsonschema

    from colliderflow.dag import validator

    path = tmp_path / "jets.h5"
    jc.write_jets(path, jc.generate_toy(110, 16, seed=0, classes=jc.FINE_CLASSES), "toy")
    good = _section(n_test=10, train_sizes=[10, 20], n_constituents=8)
    bad = [({"train_sizes": [20, 10]}, "train_sizes"), ({"background": ["t"]}, "background"),
           ({"signal": "top"}, "class_names"), ({"n_constituents": 32}, "constituents"),
           ({"n_test": 30}, "n_test"), ({"train_sizes": [10, 500]}, "train_sizes"),
           ({"lgatr": dict(good["lgatr"], readout="max")}, "readout")]
    for change, field in bad:
        with pytest.raises(InputError, match=field):
            lg.run_seed(path, tmp_path / "out", build_config(spec.Config, dict(good, **change)), 0, 0)
    with pytest.raises(InputError, match="does not exist"):
        lg.run_seed(tmp_path / "missing.h5", tmp_path / "out", build_config(spec.Config, good), 0, 0)
    # single values are the schema's: it rejects them before any step runs
    schema = validator("lgatr")
    schema.validate(good)
    for change, field in (({"efficiency": 1.5}, "efficiency"), ({"train_sizes": [5, 20]}, "train_sizes"),
                          ({"lgatr": dict(good["lgatr"], readout="max")}, "readout")):
        with pytest.raises(jsonschema.ValidationError) as err:
            schema.validate(dict(good, **change))
        assert field in err.value.json_path, err.value.json_path
    # the step through its job record: one line naming the field, exit status 2
    out = tmp_path / "out"
    outputs = {"result": "result.json", "lgatr": "lgatr.pt", "lgatr_sb": "lgatr_sb.pt", "baseline": "baseline.pt"}
    job = {"step": "lgatr.train", "cfg": dict(good, train_sizes=[20, 10]), "seed": 0, "tier": "test",
           "input": {"all": [str(path)], "named": {"jets": str(path)}},
           "output": {"all": [str(out / f) for f in outputs.values()],
                      "named": {k: str(out / f) for k, f in outputs.items()}},
           "wildcards": {"seed": "0"}, "log": None}
    (tmp_path / "job.json").write_text(json.dumps(job))
    proc = subprocess.run([sys.executable, "-m", "colliderflow", "step", str(tmp_path / "job.json")],
                          capture_output=True, text=True, env={"PYTHONPATH": str(REPO / "src"), "PATH": ""})
    assert proc.returncode == 2 and "train_sizes" in proc.stderr and "Traceback" not in proc.stderr


# ------------------------------------------------------------- publishing
def test_publish_onnx_checked_and_the_exported_lgatr_is_lorentz_invariant(tmp_path, one_torch_thread):
    """Tiny trained models of one seed -> ONNX + cards: onnxruntime reproduces
    torch on the frozen inputs and on another batch size; the TorchScript
    exporter's failure on lgatr's layers is recorded; the exported L-GATr's
    logit does not move under a rotation + boost of its inputs (float64, at
    rounding level), the exported baseline's does."""
    import onnxruntime as ort

    path = tmp_path / "jets.h5"
    jc.write_jets(path, jc.generate_toy(75, 16, seed=0, classes=("t", "q", "g")), "toy")
    cfg = _cfg(n_test=30, train_sizes=[40], n_constituents=8,
               lgatr=dict(blocks=1, mv_channels=2, s_channels=4, heads=1, mlp_ratio=2, readout="mean"),
               baseline=dict(dim=8, heads=1, layers=1),
               train=dict(samples=40, max_epochs=1, batch_size=20, lr=5e-3, patience=1))
    lg.run_seed(path, tmp_path / "seed0", cfg, 0, 0)
    rec = lg.publish(tmp_path / "seed0", path, tmp_path / "pub", cfg, 0, n_val=25)
    assert set(rec) == set(lg.PUBLISHED)
    for kind, r in rec.items():
        assert r["exported"] and r["passed"] and r["max_abs_diff"] <= 1e-5, (kind, r)
        card = json.loads((tmp_path / "pub" / kind / "model_card.json").read_text())
        assert list(card["inputs"]) == ["p4", "mask"] and list(card["outputs"]) == ["logit"]
        assert card["inputs"]["p4"]["shape"] == ["batch", 8, 4] and card["inputs"]["p4"]["units"] == "GeV"
        assert 0.0 <= card["metrics"]["test_auc"] <= 1.0 and card["training_data"]["n_train"] == 40
    # lgatr's layer norm takes its normalized_shape from a traced tensor shape: TorchScript cannot export it
    ts = rec["lgatr"]["torchscript_export"]
    assert rec["lgatr"]["exporter"] == "dynamo" and not ts["exported"] and "Error" in ts["error"]
    assert rec["baseline"]["exporter"] == "torchscript" and "torchscript_export" not in rec["baseline"]

    task = lg.load_task(path, cfg.signal, cfg.background, 8)
    p4, mask = task["p4"][:7], task["mask"][:7]  # another batch size than the frozen 25
    sess = {k: ort.InferenceSession(str(tmp_path / "pub" / k / "model.onnx"), providers=["CPUExecutionProvider"])
            for k in lg.PUBLISHED}

    def run(kind, q, dtype):
        return sess[kind].run(["logit"], {"p4": q.astype(dtype), "mask": mask.astype(dtype)})[0].astype(np.float64)

    lgatr64 = lg.load_model(tmp_path / "seed0" / "lgatr.pt").double()
    base = lg.load_model(tmp_path / "seed0" / "baseline.pt")
    ref, ref_b = lg.predict(lgatr64, p4, mask), lg.predict(base, p4, mask)
    np.testing.assert_allclose(run("lgatr", p4, np.float64), ref, atol=1e-9)
    np.testing.assert_allclose(run("baseline", p4, np.float32), ref_b, atol=1e-5)
    for w in (1.0, 3.0):
        q = apply_lorentz(random_lorentz(np.random.default_rng(int(w)), len(p4), w), p4)
        assert np.abs(run("lgatr", q, np.float64) - ref).max() < float64_tol(w) * ref.std(), w
        assert np.median(np.abs(run("baseline", q, np.float32) - ref_b)) > 0.05 * ref_b.std(), w
    b = rec["lgatr"]["boost"], rec["baseline"]["boost"]
    assert b[0]["max_abs_shift"] < float64_tol(3.0) * b[0]["logit_std"]
    assert b[1]["median_abs_shift"] > 0.05 * b[1]["logit_std"]


# ------------------------------------------------------------- smoke outputs
def test_smoke_outputs(smoke_run):
    out = smoke_run / "results" / "lgatr"
    doc = json.loads((out / "metrics.json").read_text())
    for name in ("lgatr_performance", "lgatr_invariance"):
        assert (out / f"{name}.png").stat().st_size > 0 and (out / f"{name}.pdf").stat().st_size > 0
    m, cfg = doc["metrics"], _cfg()
    inv, tol = m["invariance"], cfg.invariance
    smoke_sizes = m["performance"]["lgatr"]["n_train"]
    assert len(smoke_sizes) >= 2 and len(m["seeds"]) >= 2
    # the invariance numbers themselves: float64 L-GATr at rounding level, the baseline clearly not invariant
    assert max(inv["lgatr_float64"]["relative_max"]) < tol.tol_float64
    assert min(inv["baseline"]["relative_median"]) > tol.baseline_min_shift
    # the published ONNX models: checked in onnxruntime, the exported L-GATr invariant under a boost
    check = json.loads((out / "published_check.json").read_text())
    assert m["published"] == check
    for kind in lg.PUBLISHED:
        assert check[kind]["passed"], check[kind]
        for f in ("model.onnx", "model_card.json", "model_card.md", "validation.npz"):
            assert (out / "published" / kind / f).stat().st_size > 0
    b = check["lgatr"]["boost"], check["baseline"]["boost"]
    assert b[0]["max_abs_shift"] < tol.tol_float64 * b[0]["logit_std"]
    assert b[1]["median_abs_shift"] > tol.baseline_min_shift * b[1]["logit_std"]
    assert max(inv["lgatr_float32"]["relative_median"]) < 1e3 * max(inv["lgatr_float64"]["relative_max"]) + 1e-2
    # trained taggers separate top from QCD on the toy
    for kind in ("lgatr", "baseline"):
        assert min(m["performance"][kind]["auc"]) > 0.8, kind
    assert 0.5 < m["n_params"]["lgatr"] / m["n_params"]["baseline"] < 2.0
    # invariance is a check of the package (recorded, not the claim); holds follows from the comparisons
    assert m["invariance_within_tolerance"] and m["baseline_not_invariant"]
    assert spec.invariance_ok(inv, tol) and spec.baseline_breaks(inv, tol)
    assert doc["holds"] == spec.verdict(m, cfg).holds and doc["key_metric"] == spec.verdict(m, cfg).key_metric
    assert m["performance"]["part"]["n_train"] == smoke_sizes, "the ParT-like baseline at every training size"
