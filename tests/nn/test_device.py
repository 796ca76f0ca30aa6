"""Device selection: one setting (resources.device / COLLIDERFLOW_DEVICE), honoured by the shared loop."""

import pytest
import torch

from colliderflow import dag
from colliderflow.nn.device import ENV, select, setting
from colliderflow.nn.train import TrainConfig, fit, load_state, save_model


def _fit(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 3, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(512, generator=g)
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    hist = fit(model, lambda m, b: ((m(b[0]).squeeze(-1) - b[1]) ** 2).mean(), (x, y),
               TrainConfig(epochs=5, batch_size=64, lr=0.05, progress=False, desc="lin", seed=1))
    save_model(model, tmp_path / "m.pt", {})
    return model, hist


def test_setting_is_checked_and_cpu_is_the_cpu(monkeypatch):
    monkeypatch.setenv(ENV, "cpu")
    assert setting() == "cpu" and select().type == "cpu"
    monkeypatch.setenv(ENV, "gpu0")
    with pytest.raises(ValueError, match="COLLIDERFLOW_DEVICE='gpu0': not auto, cpu, cuda or cuda:N"):
        setting()
    monkeypatch.delenv(ENV)
    assert setting() == "auto"
    assert select().type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: asking for it is no error")
def test_cuda_without_a_gpu_is_an_error_not_a_silent_fallback(monkeypatch):
    monkeypatch.setenv(ENV, "cuda")
    with pytest.raises(RuntimeError, match="torch sees no CUDA device"):
        select()


def test_cpu_training_is_unchanged_by_the_setting(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, "cpu")
    m1, h1 = _fit(tmp_path)
    monkeypatch.setenv(ENV, "auto")
    if torch.cuda.is_available():
        pytest.skip("auto is CUDA here (the CUDA test covers it)")
    m2, h2 = _fit(tmp_path)
    assert h1.device == h2.device == "cpu" and h1.health()["device"] == "cpu"
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_training_matches_the_cpu_and_saves_on_the_cpu(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, "cpu")
    _, h_cpu = _fit(tmp_path)
    monkeypatch.setenv(ENV, "cuda")
    model, h = _fit(tmp_path)
    assert h.device.startswith("cuda") and next(model.parameters()).device.type == "cpu"
    assert h.best_val == pytest.approx(h_cpu.best_val, rel=0.05, abs=1e-3)
    state, _ = load_state(tmp_path / "m.pt")
    assert all(v.device.type == "cpu" for v in state.values())


def test_a_bad_device_in_config_is_one_line_before_any_job():
    from pathlib import Path

    import yaml

    repo = Path(__file__).resolve().parents[2]
    cfg = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    cfg["resources"]["device"] = "gpu"
    msg = dag.config_error(cfg, str(repo), [str(repo / "config" / "config.yaml")], {})
    assert msg is not None and "resources.device: " in msg and "\n" not in msg, msg
