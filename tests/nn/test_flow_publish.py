"""Flows published for reinterpretation (issue 17 item 5): a conditional zuko flow's log-density and its
sampler (the inverse transform) exported as ONNX through colliderflow.nn.flows.publish_flow, and onnxruntime
agreeing with torch on new inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from colliderflow.nn.flows import StandardizedFlow, publish_flow


def test_conditional_flow_log_prob_and_sampler_run_in_onnxruntime(tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is in the pinned environment (requirements.lock)")
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    c = rng.uniform(1, 2, (300, 1))
    x = np.column_stack([c[:, 0] + 0.1 * rng.standard_normal(300), rng.gamma(2.0, c[:, 0])]).astype(np.float32)
    torch.manual_seed(0)
    flow = StandardizedFlow.fitted_to(x, c, kind="nsf", transforms=2, hidden=(16, 16))
    for p in flow.parameters():  # away from zuko's near-identity initialisation: a non-trivial transform
        p.data += 0.3 * torch.randn_like(p)
    specs = {"x": {"units": "1", "preprocessing": "none"}, "c": {"units": "1", "preprocessing": "none"}}
    rec = publish_flow(flow, {"x": x[:64], "c": c[:64]}, tmp_path / "pub", name="toy", input_specs=specs,
                       training_data={"generator": "this test"}, sampler=True)
    assert rec["exported"] and rec["passed"], rec
    assert rec["sampler"]["exported"] and rec["sampler"]["passed"], rec["sampler"]
    card = json.loads((tmp_path / "pub" / "model_card.json").read_text())
    assert card["inputs"]["x"]["dtype"] == "float64" and list(card["outputs"]) == ["log_prob"]
    # new points, another batch size: onnxruntime = the torch flow (float64 export of a float32 flow)
    xn, cn = x[100:137].astype(np.float64), c[100:137]
    lp = ort.InferenceSession(str(tmp_path / "pub" / "model.onnx")).run(["log_prob"], {"x": xn, "c": cn})[0]
    with torch.no_grad():
        want = flow.log_prob(torch.as_tensor(xn, dtype=torch.float32), cn).numpy()
    assert np.max(np.abs(lp - want)) < 1e-3 and np.ptp(want) > 1.0
    # the sampler inverts the flow: decode(latent(x)) = x (draw z from N(0, 1) for samples)
    sess = ort.InferenceSession(str(tmp_path / "pub" / "sampler" / "model.onnx"))
    with torch.no_grad():
        z = flow.double().latent(torch.as_tensor(xn), cn).numpy()
    np.testing.assert_allclose(sess.run(["x"], {"z": z, "c": cn})[0], xn, atol=1e-6)


def _flow(x, c):
    torch.manual_seed(0)
    return StandardizedFlow.fitted_to(x, c, kind="nsf", transforms=2, hidden=(16, 16))


def test_bsm_scan_and_mle_calibration_publish_their_flows(tmp_path):
    """Each study's own publish call (issue 17 item 5): log p(x | theta), as the papers use the flows (fits)."""
    pytest.importorskip("onnxruntime", reason="onnxruntime is in the pinned environment (requirements.lock)")
    from colliderflow.studies.bsm_scan import core as bsm
    from colliderflow.studies.mle_calibration import core as mle

    torch.set_num_threads(1)
    x, th = bsm.generate([[1.5, 1.0]], 300, 0)
    cfg = {"grid_points": 3, "m_range": [1, 2], "g_range": [0.5, 1.5], "events_per_point": 300}
    metrics = {"coverage_1sigma_2d": 0.7, "pull_std": [1.0, 1.0], "flow_best_val_nll": 1.0}
    rec = bsm.publish({"flow": _flow(x, th), "x_obs": x, "truth": np.array([1.5, 1.0])}, cfg, tmp_path / "bsm",
                      metrics)
    assert rec["passed"] and "sampler" not in rec, rec
    rng = np.random.default_rng(0)
    e = rng.uniform(10, 100, 300)
    xs = np.log(e[:, None] * rng.uniform(0.1, 0.5, (300, 3))).astype(np.float32)
    res = {"flows": {"uniform": _flow(xs, np.log(e)[:, None])}, "x_test": xs, "e_test": e}
    cfg = {"n_train": 300, "e_min": 10, "e_max": 100, "n_layers": 3}
    rec = mle.publish(res, cfg, "uniform", tmp_path / "mle")
    assert rec["passed"], rec
    card = json.loads((tmp_path / "mle" / "model_card.json").read_text())
    assert list(card["inputs"]) == ["x", "log_e"] and card["inputs"]["log_e"]["dtype"] == "float64"
