"""BitHEP: BitLinear layers (binary / ternary, STE, memory) and the three tasks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from colliderflow.errors import InputError
from colliderflow.nn import bitlinear as bl
from colliderflow.studies import bithep as spec
from colliderflow.studies.bithep import core as bithep
from colliderflow.study import build_config


def _cfg(**over):
    """A small typed config (colliderflow.studies.bithep.Config) of :func:`_section`."""
    return build_config(spec.Config, _section(**over), "studies.bithep")


def _section(**over):
    cfg = dict(enabled=True, excerpt="", n_constituents=16, test_fraction=0.3, auc_loss_max=0.02, keep_first_last=True,
               act_bits=8,
               full_norm=True,
               tagging=dict(classes=["q", "g"], hidden=32, phi_layers=2, rho_layers=2, epochs=12, batch_size=128,
                            lr=0.003, max_jets=0),
               regression=dict(hidden=32, phi_layers=2, rho_layers=2, epochs=3, batch_size=128, lr=0.003, max_jets=0,
                               min_mass=1.0),
               generation=dict(transforms=1, hidden=[16, 16, 16], bins=4, epochs=2, batch_size=128, lr=0.003,
                               max_jets=0))
    cfg.update(over)
    return cfg


# ------------------------------------------------------------------ layers
@pytest.mark.parametrize("mode", bl.MODES)
def test_weights_take_only_the_allowed_values(mode):
    torch.manual_seed(0)
    layer = bl.BitLinear(40, 30, mode=mode)
    levels, scale = layer.quantized()
    allowed = {-1.0, 1.0} if mode == "binary" else {-1.0, 0.0, 1.0}
    assert set(levels.unique().tolist()) == allowed
    assert torch.isclose(scale, layer.weight.abs().mean())
    if mode == "ternary":
        # absmean rounding zeroes |w| < mean|w| / 2: about 30-40 % of a uniform init
        assert 0.15 < float((levels == 0).float().mean()) < 0.5
    # the forward pass uses exactly scale * levels on LayerNorm + 8-bit absmax inputs
    x = torch.randn(7, 40)
    xq = bl.quantize_activations(nn.functional.layer_norm(x, (40,)), 8)
    assert len(torch.unique(torch.round(xq[0] * 128 / xq[0].abs().max()))) <= 256
    torch.testing.assert_close(layer(x), nn.functional.linear(xq, scale * levels, layer.bias))


def test_ste_gradient_reaches_the_latent_weights():
    torch.manual_seed(1)
    for mode in bl.MODES:
        layer = bl.BitLinear(6, 4, mode=mode)
        x = torch.randn(5, 6, requires_grad=True)
        g_out = torch.randn(5, 4)
        (layer(x) * g_out).sum().backward()
        xq = bl.quantize_activations(nn.functional.layer_norm(x.detach(), (6,)), 8)
        # straight through: dL/dW = dL/dW_q = g_out^T x_q (a plain sign() would give zero)
        torch.testing.assert_close(layer.weight.grad, g_out.T @ xq)
        assert x.grad is not None and x.grad.abs().sum() > 0
        assert layer.bias.grad is not None


def test_quantise_without_norm_or_activation_bits_is_weight_only():
    torch.manual_seed(2)
    layer = bl.BitLinear(5, 3, mode="ternary", act_bits=None, norm=False)
    x = torch.randn(4, 5)
    levels, scale = layer.quantized()
    torch.testing.assert_close(layer(x), nn.functional.linear(x, scale * levels, layer.bias))
    with pytest.raises(ValueError, match="mode"):
        bl.BitLinear(3, 3, mode="quaternary")


def test_memory_accounting():
    model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))
    full = bl.weight_bits(model)
    assert full["total_bits"] == full["full_bits"] == 32 * (200 + 20 + 100 + 5) and full["ratio"] == 1.0
    for mode, bits in (("binary", 1.0), ("ternary", math.log2(3))):
        m = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))
        assert bl.swap_linear(m, mode) == ["0", "2"]
        mem = bl.weight_bits(m)
        assert mem["quantised_weights"] == 300 and mem["float_params"] == 25 and mem["quantised_layers"] == 2
        assert mem["total_bits"] == pytest.approx(300 * bits + 2 * 32 + 25 * 32)
    kept = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))
    bl.swap_linear(kept, "ternary", keep=["2"])
    assert bl.weight_bits(kept)["total_bits"] == pytest.approx(200 * math.log2(3) + 32 + 32 * (20 + 100 + 5))


def test_swap_keeps_weights_masks_and_attention():
    from colliderflow.nn.jets import JetTransformer

    torch.manual_seed(3)
    model = JetTransformer(5, dim=16, heads=2, layers=1, n_out=1)
    x, mask = torch.randn(3, 6, 5), torch.ones(3, 6, dtype=torch.bool)
    swapped = bl.swap_linear(model, "binary", keep=["head"])
    assert "blocks.0.linear1" in swapped and "head" not in swapped
    assert not any("self_attn" in s for s in swapped), "MultiheadAttention reads its weights directly"
    assert model(x, mask).shape == (3, 1)
    with pytest.raises(ValueError, match="keep"):
        bl.swap_linear(model, "ternary", keep=["nope"])


def test_full_mode_is_the_float_reference_with_the_same_norm():
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 2))
    ref = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 2))
    ref.load_state_dict(model.state_dict())
    assert bl.swap_linear(model, "full", keep=["0"]) == ["2"]
    x = torch.randn(4, 8)
    h = ref[1](ref[0](x))
    torch.testing.assert_close(model(x), ref[2](nn.functional.layer_norm(h, (6,))))
    mem = bl.weight_bits(model)
    assert mem["total_bits"] == mem["full_bits"] and mem["quantised_layers"] == 0


def test_quantised_flow_stays_autoregressive():
    """zuko's masked layers keep their mask: the Jacobian stays triangular."""
    from colliderflow.nn.flows import StandardizedFlow

    torch.manual_seed(4)
    flow = StandardizedFlow(3, kind="maf", transforms=1, hidden=(16, 16))
    n = len(bl.swap_linear(flow, "ternary", act_bits=None, norm=False))
    assert n == 3
    layer = next(m for m in flow.modules() if isinstance(m, bl.BitLinear))
    levels, _ = layer.quantized()
    assert torch.all(levels[~layer.mask] == 0)
    jac = torch.autograd.functional.jacobian(lambda v: flow.latent(v[None])[0], torch.randn(3))
    assert torch.all(jac.triu(1) == 0) and torch.all(jac.diagonal() != 0)


@pytest.mark.parametrize("mode", bl.LAYER_MODES)
def test_frozen_layer_is_the_eval_forward_with_quantised_constants(mode):
    """The export form: same outputs as the trained layer (masked, with
    activation bits), its weight buffer holds only scale * levels."""
    torch.manual_seed(6)
    mask = torch.rand(7, 9) > 0.3
    layer = bl.BitLinear(9, 7, mode=mode, act_bits=6, mask=mask)
    frozen = bl.freeze(nn.Sequential(layer, nn.ReLU()))
    assert isinstance(frozen[0], bl.FrozenBitLinear) and isinstance(layer, bl.BitLinear), "the model is left as it is"
    x = torch.randn(3, 4, 9)
    with torch.no_grad():
        torch.testing.assert_close(frozen(x), torch.relu(layer(x)), atol=1e-6, rtol=0)
    values = set(frozen[0].weight.unique().tolist())
    if mode == "full":
        assert len(values) > 3
    else:
        s = float(layer.quantized()[1])
        assert len(values) <= 3 and all(min(abs(v - a) for a in (-s, 0.0, s)) < 1e-7 for v in values)  # 0: masked
        assert torch.all(frozen[0].weight.T[~mask] == 0)


def test_rounding_margin_finds_activation_ties():
    """Absmax 2-bit (Q = 2) on [1, 0.25]: u = [2, 0.5], 0.5 is an exact tie;
    [1, 0.3] gives u = 0.6, 0.1 from the tie; float layers have none."""
    layer = bl.BitLinear(2, 1, mode="ternary", act_bits=2, norm=False)
    x = torch.tensor([[[1.0, 0.25], [1.0, 0.3]], [[1.0, 0.3], [1.0, 0.3]]])
    torch.testing.assert_close(bl.rounding_margin(layer, x), torch.tensor([0.0, 0.1]))
    mask = torch.tensor([[False, True], [True, True]])
    torch.testing.assert_close(bl.rounding_margin(bl.freeze(layer), x, token_mask=mask), torch.tensor([0.1, 0.1]))
    assert torch.isinf(bl.rounding_margin(bl.BitLinear(2, 1, mode="full"), x)).all()


# ------------------------------------------------------------------ study helpers
def test_resolution_girth_and_bad_config(tmp_path):
    true = np.full(10000, 50.0)
    pred = true * (1 + np.random.default_rng(0).normal(0.02, 0.1, 10000))
    r = bithep.resolution(pred, true)
    assert r["resolution"] == pytest.approx(0.1, rel=0.05) and r["bias"] == pytest.approx(0.02, abs=0.005)
    jet = np.array([[[30.0, 0.1, 0.0], [10.0, 0.0, -0.2], [0.0, 0.0, 0.0]]])
    assert bithep.jet_girth(jet)[0] == pytest.approx((30 * 0.1 + 10 * 0.2) / 40)
    # single values are the schema's: it rejects them before any step runs
    import jsonschema

    from colliderflow.dag import validator

    schema = validator("bithep")
    schema.validate(_section())
    for key, value in (("n_constituents", 1), ("test_fraction", 1.5), ("auc_loss_max", 0.0), ("act_bits", 1)):
        with pytest.raises(jsonschema.ValidationError) as err:
            schema.validate(_section(**{key: value}))
        assert key in err.value.json_path
    bad = _section()
    bad["regression"]["epochs"] = 0
    with pytest.raises(jsonschema.ValidationError) as err:
        schema.validate(bad)
    assert err.value.json_path == "$.regression.epochs"
    with pytest.raises(InputError, match="does not exist"):
        bithep.run_task("tagging", tmp_path / "missing.h5", _cfg(), 0, tmp_path / "t.json", tmp_path / "t.npz")
    with pytest.raises(InputError, match="task"):
        bithep.run_task("dance", tmp_path / "missing.h5", _cfg(), 0, tmp_path / "t.json", tmp_path / "t.npz")


@pytest.fixture(scope="module")
def qg_jets(tmp_path_factory):
    from colliderflow.data import jet_constituents as jc

    path = tmp_path_factory.mktemp("bithep") / "jets.h5"
    jc.write_jets(path, jc.generate_toy(2400, 16, seed=5, classes=("q", "g", "W")), "toy")
    return path


def test_ternary_tagging_within_the_auc_loss(qg_jets, tmp_path):
    """The paper's classification claim on a tiny q/g toy: ternary loses at most
    auc_loss_max AUC against full precision (+ 2 sigma of the paired bootstrap)."""
    torch.set_num_threads(1)
    cfg = _cfg()
    doc = bithep.run_task("tagging", qg_jets, cfg, 0, tmp_path / "t.json", tmp_path / "t.npz")
    res = doc["results"]
    assert doc["n_train"] + doc["n_test"] == 1600, "the W jets are not used"
    assert res["full"]["auc"] > 0.85, "the full-precision tagger learned"
    tern = res["ternary"]
    print({p: r["auc"] for p, r in res.items()}, tern["auc_loss_err"])
    assert tern["auc_loss"] <= cfg.auc_loss_max + 2 * tern["auc_loss_err"], tern
    mem_ratio = {p: res[p]["memory"]["ratio"] for p in ("binary", "ternary")}
    assert mem_ratio["ternary"] > 4 and mem_ratio["binary"] > mem_ratio["ternary"]
    assert spec.claim_holds(doc, 1.0) and not spec.claim_holds(doc, tern["auc_loss"] - 1e-6)


def test_regression_and_generation_run_on_tiny_inputs(qg_jets, tmp_path):
    torch.set_num_threads(1)
    cfg = _cfg()
    reg = bithep.run_task("regression", qg_jets, cfg, 0, tmp_path / "r.json", tmp_path / "r.npz")
    assert reg["n_train"] + reg["n_test"] > 2000  # every class
    assert all(0 < r["resolution"] < 1 for r in reg["results"].values())
    gen = bithep.run_task("generation", qg_jets, cfg, 0, tmp_path / "g.json", tmp_path / "g.npz")
    for r in gen["results"].values():
        assert 0.4 < r["classifier_auc"] <= 1 and r["finite_fraction"] > 0.99
    with np.load(tmp_path / "g.npz") as z:
        assert z["gen_ternary"].shape[1] == 3 and np.all(z["gen_ternary"][:, 1] == np.floor(z["gen_ternary"][:, 1]))


@pytest.fixture(scope="module")
def tiny_taggers(qg_jets, tmp_path_factory):
    """The tagging task on 600 jets, 2 epochs, saving its three networks."""
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("bithep_models")
    section = _section()
    section["tagging"].update(epochs=2, max_jets=600)
    cfg = build_config(spec.Config, section)
    paths = [d / f"tagging_{p}.pt" for p in bithep.PRECISIONS]
    doc = bithep.run_task("tagging", qg_jets, cfg, 0, d / "tagging.json", d / "tagging.npz", paths)
    return d, doc, dict(zip(bithep.PRECISIONS, paths))


def test_saved_taggers_reload_and_publish(qg_jets, tiny_taggers, tmp_path):
    """Saved -> reloaded taggers give the study's test scores; the full and
    ternary ONNX exports reproduce torch (also at another batch size); the
    ternary graph stores three values {-s, 0, +s} per quantised layer and
    quantises the activations at run time; the card states float32 storage
    and the packed size of the study's memory count."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    d, doc, paths = tiny_taggers
    with np.load(d / "tagging.npz") as z:
        scores = {k: z[k] for k in z.files}
    jets = bithep.load_jets(qg_jets, "tagging", ["q", "g"], 600, 0)
    _, te = bithep.train_test(len(jets["labels"]), 0.3, 0)
    x, m = bithep._inputs(jets, 16)
    models = {}
    for prec, path in paths.items():
        models[prec], hp = bithep.load_deepsets(path)
        assert hp["precision"] == prec and hp["memory"] == doc["results"][prec]["memory"]
        np.testing.assert_allclose(bithep._predict(models[prec], x[te], m[te])[:, 0], scores[f"score_{prec}"],
                                   atol=1e-6)
    rec = bithep.publish({p: paths[p] for p in spec.PUBLISHED}, d / "tagging.json", qg_jets, tmp_path, n_val=40)
    assert rec["exported"] and rec["passed"], rec
    # jets and a batch size the export never saw, away from activation rounding ties
    tie_free = bl.rounding_margin(models["ternary"], x[te], m[te], token_mask=m[te]) >= bithep.TIE_MARGIN
    sel = te[tie_free.numpy()][-7:]
    for prec in spec.PUBLISHED:
        r = rec["models"][prec]
        assert r["passed"] and r["max_abs_diff"] <= 1e-5 and r["export_vs_training_forward"] <= 1e-5
        assert r["training_forward_vs_study_scores"] <= 1e-5 and r["unfiltered"]["n"] == 40
        card = json.loads((tmp_path / prec / "model_card.json").read_text())
        assert set(card["inputs"]) == {"particles", "mask"} and set(card["outputs"]) == {"score"}
        assert card["inputs"]["particles"]["shape"] == ["batch", 16, 5] and card["training_data"]["n_train"] == 420
        mem = doc["results"][prec]["memory"]
        assert card["metrics"]["weight_memory"]["packed_kbit"] == pytest.approx(mem["total_bits"] / 1e3)
        sess = ort.InferenceSession(str(tmp_path / prec / "model.onnx"), providers=["CPUExecutionProvider"])
        got = sess.run(None, {"particles": x[sel].numpy(), "mask": m[sel].float().numpy()})[0]
        with torch.no_grad():
            ref = models[prec](x[sel], m[sel]).numpy()
        assert got.shape == (7, 1)
        np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)
        graph = onnx.load(str(tmp_path / prec / "model.onnx")).graph
        inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        quantised = [k for k, mod in models[prec].named_modules()
                     if isinstance(mod, bl.BitLinear) and mod.mode != "full"]
        assert r["quantised_layers"] == quantised
        if prec == "full":
            assert not quantised and len(np.unique(inits["phi.2.weight"])) > 3, "float weights: many values"
            continue
        assert quantised == ["phi.2", "rho.0"] and "1.58" in card["description"]
        assert "float32" in card["description"] and f"{mem['total_bits'] / 1e3:.1f} kbit" in card["description"]
        for name in quantised:
            s = float(models[prec].get_submodule(name).quantized()[1])
            w = inits[f"{name}.weight"]
            assert w.dtype == np.float32 and w.shape == (32, 32)
            np.testing.assert_allclose(np.unique(w), [-s, 0.0, s], rtol=1e-6)
            assert r["onnx_weight_distinct_values"][name] == 3
        assert "Round" in {n.op_type for n in graph.node}, "absmax activation quantisation runs in the graph"


def test_load_deepsets_names_a_missing_hyper_parameter(tiny_taggers, tmp_path):
    d, _, paths = tiny_taggers
    hp = json.loads((d / "tagging_ternary.json").read_text())
    del hp["act_bits"]
    (tmp_path / "t.pt").write_bytes(paths["ternary"].read_bytes())
    (tmp_path / "t.json").write_text(json.dumps(hp))
    with pytest.raises(InputError, match="act_bits"):
        bithep.load_deepsets(tmp_path / "t.pt")
    with pytest.raises(InputError, match="out-models"):
        bithep.run_task("tagging", d / "none.h5", _cfg(), 0, tmp_path / "a.json", tmp_path / "a.npz",
                        [tmp_path / "a.pt"])


@pytest.mark.real
def test_quarkgluon_excerpt_has_the_tagging_classes(shared_data):
    from colliderflow.data import jet_constituents as jc

    jets = jc.read_part_excerpt(shared_data / "jets_part_samples" / "quarkgluon", 64, class_names=("g", "q"))
    qg = jc.select_classes(jets, ["q", "g"])
    obs = bithep.generation_features(qg["constituents"])
    assert np.all(np.isfinite(obs)) and len(qg["labels"]) == len(jets["labels"])
    assert obs[qg["labels"] == 1, 1].mean() > obs[qg["labels"] == 0, 1].mean(), "gluons have more constituents"


# ------------------------------------------------------------------ smoke tier
def test_smoke_outputs(smoke_run):
    doc = json.loads((smoke_run / "results/bithep/metrics.json").read_text())
    m = doc["metrics"]
    assert doc["study"] == "bithep" and isinstance(doc["holds"], bool)
    assert doc["holds"] == all(c["holds"] for c in doc["verdict"]["comparisons"] if c["required"])
    assert {c["over"] for c in doc["verdict"]["comparisons"]} == {"bootstrap"}
    assert doc["key_metric"]["value"] == pytest.approx(m["tagging_auc"]["full"] - m["tagging_auc"]["ternary"], abs=1e-4)
    v = spec.verdict(m, _cfg(auc_loss_max=m["auc_loss_max"]))
    assert doc["holds"] == v.holds and doc["key_metric"] == v.key_metric and doc["claim"] == v.claim
    for task in bithep.TASKS:
        mem = m["memory_kbit"][task]
        assert mem["full"] > mem["ternary"] > mem["binary"] > 0
    assert all(0.5 < a <= 1 for a in m["tagging_auc"].values())
    assert all(np.isfinite(v) for v in m["regression_resolution"].values())
    for suffix in ("png", "pdf"):
        assert (smoke_run / f"results/bithep/bithep.{suffix}").stat().st_size > 1000
    pub = m["published"]
    assert pub["exported"] and pub["passed"] and set(pub["models"]) == set(spec.PUBLISHED)
    for prec, r in pub["models"].items():
        assert r["max_abs_diff"] <= 1e-5 and r["training_forward_vs_study_scores"] <= 1e-5
        assert r["packed_weight_kbit"] == pytest.approx(m["memory_kbit"]["tagging"][prec])
        for f in ("model.onnx", "model_card.json", "validation.npz"):
            assert (smoke_run / "results/bithep/published" / prec / f).exists()
    tern = pub["models"]["ternary"]["onnx_weight_distinct_values"]
    assert tern and all(v == 3 for v in tern.values())
    for prec in bithep.PRECISIONS:
        assert (smoke_run / f"results/bithep/models/tagging_{prec}.pt").stat().st_size < 1e6


# ------------------------------------------------------------------ verdict (issue 17)
def _arrays(rng, quantised_regression_noise=0.25, binary_is_full=False, ternary_scores=None):
    """Task arrays shaped like the task steps' .npz: a q/g tagger whose quark
    score grows with a latent that multiplicity only weakly tracks, a mass
    regression with per-precision noise, generated samples around the truth."""
    n = 1500
    y = (rng.uniform(size=n) < 0.5).astype(float)
    latent = rng.normal(size=n) + 1.6 * y
    mult = np.round(30 - 3 * latent + rng.normal(0, 6, n)).clip(2)
    full = latent + rng.normal(0, 0.3, n)
    scores = {"full": full, "ternary": full + rng.normal(0, 0.05, n),
              "binary": full if binary_is_full else full + rng.normal(0, 0.1, n)}
    if ternary_scores is not None:
        scores["ternary"] = ternary_scores(mult, n)
    mass = rng.uniform(10, 100, n)
    pred = {"full": mass * (1 + rng.normal(0, 0.08, n)), "ternary": mass * (1 + rng.normal(0, 0.1, n))}
    pred["binary"] = pred["full"] if binary_is_full else mass * (1 + rng.normal(0, quantised_regression_noise, n))
    truth = rng.normal(size=(1500, 3))
    gen = {"full": rng.normal(size=(1500, 3)), "ternary": rng.normal(0.05, 1, size=(1500, 3))}
    gen["binary"] = gen["full"] if binary_is_full else rng.normal(0.4, 1.3, size=(1500, 3))
    return {"tagging": {"y_test": y, "multiplicity_test": mult, **{f"score_{p}": s for p, s in scores.items()}},
            "regression": {"mass_test": mass, **{f"pred_{p}": v for p, v in pred.items()}},
            "generation": {"truth": truth, **{f"gen_{p}": v for p, v in gen.items()}}}


def _verdict(arrays):
    m = {"comparisons": bithep.comparisons(arrays, n_boot=100), "tagging_auc_loss": {"ternary": 0.0}}
    return spec.verdict(m, _cfg())


def test_verdict_passes_a_competitive_tagger_with_limited_binary_regression_and_generation():
    v = _verdict(_arrays(np.random.default_rng(0)))
    assert v.holds, [c.as_json() for c in v.comparisons]
    assert {c.competitor for c in v.comparisons if c.null} == {"constituent multiplicity alone"}
    assert all(c.over == "bootstrap" and 0 < c.error < 0.05 for c in v.comparisons)


def test_verdict_fails_when_binary_weights_change_nothing():
    """The 'limits' half can fail: binary networks identical to full precision
    (no quantisation) give no regression or generation degradation."""
    v = _verdict(_arrays(np.random.default_rng(0), binary_is_full=True))
    assert not v.holds
    failed = {c.statistic.split(" (")[0] for c in v.comparisons if c.required and not c.holds}
    assert failed == {"jet-mass relative resolution", "generated vs truth mean W1 / spread"}


def test_verdict_fails_a_ternary_tagger_no_better_than_multiplicity():
    """The null control: a 'ternary tagger' that is the multiplicity itself
    (which also loses more than the tolerance against full precision)."""
    v = _verdict(_arrays(np.random.default_rng(0), ternary_scores=lambda mult, n: -mult))
    assert not v.holds
    null = next(c for c in v.comparisons if c.null)
    assert not null.holds and abs(null.effect) < 1e-12
