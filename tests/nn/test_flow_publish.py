"""Flows published for reinterpretation (issue 17 item 5): a conditional zuko flow's log-density and its
sampler (the inverse transform) exported as ONNX through colliderflow.publish.publish_flow, and onnxruntime
agreeing with torch on new inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from colliderflow.nn.flows import StandardizedFlow
from colliderflow.publish import publish_flow


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
                       training_data={"generator": "this test"})
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
