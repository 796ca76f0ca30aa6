"""torch.compile in the shared loop (resources.compile / COLLIDERFLOW_COMPILE): the compiled training of a zuko
flow follows the eager one to float rounding, repeats bit for bit, reuses its graph for a new model of the same
architecture, and is off unless the run asks for it or where no C++ compiler exists."""

from __future__ import annotations

import logging
import os

import pytest
import torch

from colliderflow.nn.flows import StandardizedFlow
from colliderflow.nn.train import COMPILE_ENV, TrainConfig, fit
from colliderflow.study import device_for_jobs


def _data():
    g = torch.Generator().manual_seed(3)
    c = torch.rand(1000, 1, generator=g)
    x = torch.randn(1000, 2, generator=g) * (0.5 + c) + torch.cat([2 * c, -c], 1)
    return x, c


def _fit(seed: int = 0, **cfg):
    """A small conditional NSF: 800 training events in batches of 96 (8 full batches, the last of 32 eager)."""
    x, c = _data()
    torch.manual_seed(seed)
    flow = StandardizedFlow.fitted_to(x, c, kind="nsf", transforms=2, hidden=(16, 16), bins=4)
    hist = fit(flow, lambda m, b: m.nll(b), (x, c),
               TrainConfig(epochs=4, batch_size=96, lr=3e-3, seed=seed, progress=False, desc="compile test", **cfg))
    return flow, hist


@pytest.fixture
def compiling(monkeypatch):
    monkeypatch.setenv(COMPILE_ENV, "1")
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def test_compiled_training_follows_eager_repeats_and_reuses_its_graph(compiling, monkeypatch):
    from torch._dynamo.utils import counters

    flow_c, hist_c = _fit()
    graphs = counters["stats"]["unique_graphs"]
    again, hist_again = _fit()
    monkeypatch.setenv(COMPILE_ENV, "0")
    flow_e, hist_e = _fit()

    assert hist_c.compiled and hist_c.as_dict()["compiled"] and hist_c.health()["compiled"]
    assert not hist_e.compiled and "compiled" not in hist_e.as_dict() and "compiled" not in hist_e.health()
    assert graphs > 0 and counters["stats"]["unique_graphs"] == graphs  # the second model compiled nothing new
    # the same training: the losses agree to float rounding, epoch by epoch ...
    assert hist_c.train_loss == pytest.approx(hist_e.train_loss, rel=1e-4, abs=1e-5)
    assert hist_c.val_loss == pytest.approx(hist_e.val_loss, rel=1e-4, abs=1e-5)
    assert hist_c.health()["trained"] and hist_c.val_loss[-1] < hist_c.initial_val - 0.1
    # ... and the compiled one repeats bit for bit (same seed, same bytes)
    assert hist_again.train_loss == hist_c.train_loss
    assert all(torch.equal(a, b) for a, b in zip(flow_c.state_dict().values(), again.state_dict().values(),
                                                 strict=True))


def test_compile_is_off_unless_the_run_asks(monkeypatch):
    monkeypatch.delenv(COMPILE_ENV, raising=False)
    assert not _fit(compile=True)[1].compiled  # the run's setting (unset: off) wins over the TrainConfig
    monkeypatch.setenv(COMPILE_ENV, "1")
    assert not _fit(compile=False)[1].compiled  # a training that opts out stays eager


def test_no_cxx_compiler_trains_eagerly_with_a_warning(monkeypatch, caplog):
    monkeypatch.setenv(COMPILE_ENV, "1")
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    with caplog.at_level(logging.WARNING, logger="colliderflow.nn.train"):
        _, hist = _fit()
    assert not hist.compiled and hist.health()["trained"]
    assert "no C++ compiler" in caplog.text and "compile test" in caplog.text


@pytest.mark.parametrize("config, preset, expected", [
    ({}, None, "0"),
    ({"resources": {"compile": True}}, None, "1"),
    ({"resources": {"compile": False}}, None, "0"),
    ({"resources": {"compile": False}}, "1", "1"),  # the environment (a batch node, the command line) wins
])
def test_the_snakefile_passes_resources_compile_to_the_jobs(monkeypatch, config, preset, expected):
    for name in ("COLLIDERFLOW_DEVICE", COMPILE_ENV):  # set first, so that teardown restores what was there
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)
    if preset is not None:
        monkeypatch.setenv(COMPILE_ENV, preset)
    device_for_jobs(config)
    assert os.environ[COMPILE_ENV] == expected


def test_a_compiler_failure_trains_on_eagerly_with_a_warning(compiling, monkeypatch, caplog):
    def broken_backend(gm, example_inputs):
        raise RuntimeError("inductor could not lower this graph")

    real = torch.compile
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: real(fn, backend=broken_backend, **kw))
    with caplog.at_level(logging.WARNING, logger="colliderflow.nn.train"):
        _, hist = _fit()
    monkeypatch.setenv(COMPILE_ENV, "0")
    _, eager = _fit()
    assert not hist.compiled and hist.health()["trained"]
    assert "compile test: torch.compile failed (RuntimeError: inductor could not lower this graph)" in caplog.text
    assert hist.train_loss == eager.train_loss  # every step ran eagerly, the failed attempt changed nothing


def test_a_masked_loss_compiles_a_few_graphs_not_one_per_batch(compiling):
    """A loss that selects by a data-dependent mask (decay_aware's pair loss, OmniJet-alpha's GPT) breaks the
    graph; the part after the break sees a new size each batch and is recompiled once with a symbolic size."""
    from torch._dynamo.utils import counters

    g = torch.Generator().manual_seed(5)
    x = torch.randn(1200, 4, generator=g)
    y = (x[:, 0] + 0.3 * torch.randn(1200, generator=g) > 0).float()
    keep = torch.rand(1200, generator=g) > 0.3  # which entries count: a different number in every batch

    def masked_bce(m, b):
        ok = b[2]
        return torch.nn.functional.binary_cross_entropy_with_logits(m(b[0]).squeeze(-1)[ok], b[1][ok])

    before = counters["stats"]["unique_graphs"]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    hist = fit(model, masked_bce, (x, y, keep), TrainConfig(epochs=3, batch_size=100, lr=1e-2, progress=False,
                                                            desc="masked"))
    assert hist.compiled and hist.health()["trained"] and hist.steps == 30
    assert 0 < counters["stats"]["unique_graphs"] - before <= 4
