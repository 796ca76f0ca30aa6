"""Convolutional L2LFlows (arXiv:2405.20407): layer shapes of the real
CaloChallenge geometries, the published tables, preprocessing, the
convolutional coupling flow, the baseline, the verdict, bad input and config,
and the smoke-tier claim. (The CaloChallenge data layout and its toy:
tests/data/test_calochallenge.py.)"""

from __future__ import annotations

import dataclasses
import json

import h5py
import numpy as np
import pytest
import torch

from colliderflow.data import calochallenge
from colliderflow.errors import InputError
from colliderflow.studies.l2lflows import STUDY, Config
from colliderflow.studies.l2lflows import core as l2lflows
from colliderflow.study import build_config, run_job

from ..conftest import schema_errors, study_config

GEOM = calochallenge.uniform_geometry(4, [0, 4, 8, 14, 22], 6)


def _showers(energies_gev, seed=0, geometry=GEOM):
    return calochallenge.generate(np.asarray(energies_gev, dtype=float), geometry, seed=seed)


def _cfg() -> Config:
    return build_config(Config, study_config("l2lflows"), "studies.l2lflows")


# ----------------------------------------------------------------------------- geometry


def test_layer_shape_of_real_geometries(shared_data):
    ref = shared_data / "calochallenge_reference"
    g2 = calochallenge.read_geometry(ref / "binning_dataset_2.xml")
    assert g2.layers[0].shape == (16, 9) and l2lflows.layer_shape(g2) == (16, 9)
    with pytest.raises(InputError, match="identical layers"):
        l2lflows.layer_shape(calochallenge.read_geometry(ref / "binning_dataset_1_photons.xml"))


def test_published_tables(shared_data):
    ref = shared_data / "calochallenge_reference"
    tables = l2lflows.reference_tables([ref / "CaloChallenge_results_ds2.hdf", ref / "CaloChallenge_results_ds3.hdf"])
    assert set(tables) == {"ds2", "ds3"}
    for rows in tables.values():
        g4 = [r for r in rows if r["name"] == "GEANT4"][0]
        assert abs(g4["auc_low"] - 0.5) < 0.01 and abs(g4["auc_high"] - 0.5) < 0.01  # GEANT4 vs GEANT4
        conv = [r for r in rows if r["name"] == "conv. L2LFlows"][0]
        assert g4["auc_low"] < conv["auc_low"] < 1.0


def test_carried_published_tables_match_the_files(shared_data):
    """The copy every tier's AUC figure draws is the published tables, to their rounding."""
    from colliderflow.studies.l2lflows import published

    ref = shared_data / "calochallenge_reference"
    files = l2lflows.reference_tables(sorted(ref.glob("CaloChallenge_results_*.hdf")))
    carried = published.tables()
    assert set(carried) == set(files) == {"ds1_photons", "ds1_pions", "ds2", "ds3"}
    for ds, rows in files.items():
        assert [r["name"] for r in carried[ds]] == [r["name"] for r in rows]
        for c, r in zip(carried[ds], rows):
            assert abs(c["auc_low"] - r["auc_low"]) < 1e-5 and abs(c["auc_high"] - r["auc_high"]) < 1e-5


# ----------------------------------------------------------------------------- preprocessing and model


def test_preprocessing_is_invertible():
    sh = _showers(np.geomspace(1, 100, 300), seed=5)
    inc = np.geomspace(1, 100, 300) * 1000
    pre = l2lflows.preprocess(inc, sh, GEOM, threshold=2.0, alpha=1e-6, seed=0)
    assert np.all(np.isfinite(pre["y"])) and pre["y"].shape == (300, 4, 24)
    e_layer = np.exp(pre["log_frac"]) * inc[:, None]
    for k, i in enumerate(GEOM.active):
        back = l2lflows.from_flow_space(pre["y"][:, k], e_layer[:, k], threshold=2.0, alpha=1e-6)
        np.testing.assert_allclose(back, GEOM.layer_voxels(sh, i), rtol=1e-6, atol=1e-6)
    # the dequantised zeros lie below the threshold, with a margin (noise_fraction)
    v = l2lflows.dequantize(GEOM.layer_voxels(sh, 0), 2.0, np.random.default_rng(0), 0.02)
    assert v[GEOM.layer_voxels(sh, 0) == 0].max() < 0.04


def test_conv_coupling_layer_flow():
    torch.manual_seed(0)
    shape = (6, 4)
    lf = l2lflows.LayerFlow(shape, previous=True, transforms=2, channels=4, bins=4)
    for p in lf.parameters():  # leave the zero-initialised identity start
        p.data.add_(0.1 * torch.randn_like(p))
    y, prev, s = torch.randn(16, 24), torch.randn(16, 24), torch.randn(16, 2)
    lp = lf.log_prob(y, s, prev)
    assert lp.shape == (16,) and torch.isfinite(lp).all()
    dist = lf.flow(lf.context(s, prev))
    z = dist.transform(y)
    np.testing.assert_allclose(dist.transform.inv(z).detach(), y, atol=1e-4)
    # the conditioner sees the previous layer: changing it changes the density
    assert not torch.allclose(lp, lf.log_prob(y, s, prev + 1.0))
    # a coupling transform leaves its mask half unchanged
    t = lf.flow.transform.transforms[0](lf.context(s, prev))
    mask = l2lflows.checkerboard(shape, 0)
    assert torch.allclose(t(y)[:, mask], y[:, mask])
    lf.nll((y, s, prev)).backward()
    assert lf.flow.transform.transforms[0].hyper.net[0].conv.weight.grad.abs().sum() > 0
    assert lf.sample(s, prev).shape == (16, 24)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_generation_runs_on_the_selected_device_and_leaves_the_model_on_the_cpu(device, monkeypatch):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    monkeypatch.setenv("COLLIDERFLOW_DEVICE", device)
    torch.manual_seed(0)
    small = {"transforms": 1, "hidden": [8], "bins": 4}
    model = l2lflows.L2LFlow(len(GEOM.active), (6, 4), small, {**small, "channels": 4, "mlp_hidden": [8]}).eval()
    inc = np.geomspace(1e3, 1e5, 10)
    sh, timing = l2lflows.generate(model, inc, GEOM, threshold=2.0, alpha=1e-6, batch_size=4, seed=1)
    assert sh.shape == (10, GEOM.n_voxels) and np.all(np.isfinite(sh)) and np.all(sh >= 0)
    assert timing["device"].startswith(device)
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert all(b.device.type == "cpu" for b in model.buffers())


def test_baseline_keeps_marginals_loses_correlations():
    inc = np.full(3000, 20.0)
    sh = _showers(inc, seed=6)
    base = l2lflows.independent_voxels(inc * 1000, sh, inc * 1000, n_bins=1, seed=0)
    se = sh.std(0) / np.sqrt(len(sh)) * np.sqrt(2) + 1e-9
    assert np.mean(np.abs(base.mean(0) - sh.mean(0)) / se < 4) > 0.95
    # the shower-axis fluctuation correlates neighbouring cells; independent sampling removes it
    c_ref = np.corrcoef(sh[:, 1], sh[:, 5])[0, 1]
    c_base = np.corrcoef(base[:, 1], base[:, 5])[0, 1]
    assert abs(c_base) < 0.06 < abs(c_ref)


# ----------------------------------------------------------------------------- bad input


def test_bad_input(tmp_path):
    with pytest.raises(InputError, match="threshold"):
        l2lflows.dequantize(np.array([[0.0, 0.5, 3.0]]), 2.0, np.random.default_rng(0))
    with pytest.raises(InputError, match="results table"):
        l2lflows.reference_tables([tmp_path / "none.hdf"])
    with pytest.raises(InputError, match="at least 20 showers"):
        l2lflows.split_test(10)


def _set(section: dict, path: str, value) -> dict:
    *parents, key = path.split(".")
    node = section
    for p in parents:
        node = node[p]
    node[key] = value
    return section


def test_bad_config_is_rejected_by_the_schema():
    assert schema_errors("l2lflows", study_config("l2lflows")) == []
    for path, value in (("alpha", 0.5), ("threshold_mev", 0.0), ("layer_flow.transforms", 3),
                        ("energy_flow.hidden", [])):
        assert path in schema_errors("l2lflows", _set(study_config("l2lflows"), path, value)), path


def test_step_reports_a_missing_config_key_in_one_line(tmp_path, capfd):
    cfg = study_config("l2lflows")
    del cfg["alpha"]
    paths = {"train": str(tmp_path / "tr.h5"), "test": str(tmp_path / "te.h5"), "geometry": str(tmp_path / "b.xml")}
    out = {k: str(tmp_path / f"{k}.out") for k in ("model", "hparams", "generated", "summary")}
    job = {"step": "l2lflows.train", "cfg": cfg, "seed": 0, "tier": "smoke",
           "input": {"all": list(paths.values()), "named": paths}, "output": {"all": list(out.values()), "named": out}}
    assert run_job(job) == 2
    err = capfd.readouterr().err
    assert "studies.l2lflows.alpha" in err and "Traceback" not in err


def test_calo_inputs_follow_the_data_source():
    from colliderflow.studies.l2lflows import calo_inputs

    toy = {"data": {"calo": {"source": "toy", "files": [], "geometry": ""}}}
    assert calo_inputs(toy)["geometry"] == "resources/calo/toy/binning.xml"
    real = {"data": {"calo": {"source": "file", "files": ["a.h5", "b.h5"], "geometry": "g.xml"}}}
    assert calo_inputs(real) == {"train": "a.h5", "test": "b.h5", "geometry": "g.xml"}
    real["data"]["calo"]["files"] = ["a.h5"]
    with pytest.raises(InputError, match="data.calo.files"):
        calo_inputs(real)


def test_mlp_conditioner_ablation_layer_flow():
    """The ablation: the same checkerboard spline couplings with zuko's MLP hyper-network; invertible, the
    mask half unchanged, conditioned on the previous layer, and many more parameters than the conv one."""
    torch.manual_seed(0)
    shape = (6, 4)
    lf = l2lflows.LayerFlow(shape, previous=True, transforms=2, channels=4, bins=4, mlp_hidden=(32, 32))
    for p in lf.parameters():
        p.data.add_(0.1 * torch.randn_like(p))
    y, prev, s = torch.randn(16, 24), torch.randn(16, 24), torch.randn(16, 2)
    lp = lf.log_prob(y, s, prev)
    assert lp.shape == (16,) and torch.isfinite(lp).all()
    assert not torch.allclose(lp, lf.log_prob(y, s, prev + 1.0))
    t = lf.flow.transform.transforms[0](lf.context(s, prev))
    mask = l2lflows.checkerboard(shape, 0)
    assert torch.allclose(t(y)[:, mask], y[:, mask])
    dist = lf.flow(lf.context(s, prev))
    np.testing.assert_allclose(dist.transform.inv(dist.transform(y)).detach(), y, atol=1e-4)
    assert not any(isinstance(m, l2lflows.CylinderConditioner) for m in lf.modules())
    conv = l2lflows.LayerFlow(shape, previous=True, transforms=2, channels=4, bins=4)
    assert sum(p.numel() for p in lf.parameters()) > 3 * sum(p.numel() for p in conv.parameters())


@pytest.fixture(scope="module")
def toy_samples():
    """Reference showers (halves A and B of one toy test set), the independent-voxel generator for B's
    incident energies, and a 'smeared' generator (B's showers with 30% voxel noise: right energies,
    wrong shapes)."""
    rng = np.random.default_rng(5)
    e_train, e_test = rng.uniform(1, 100, 2000), rng.uniform(1, 100, 1600)
    tr, te = _showers(e_train, seed=1), _showers(e_test, seed=2)
    a, b = l2lflows.split_test(len(e_test))
    inc = e_test * 1e3
    base = l2lflows.independent_voxels(e_train * 1e3, tr, inc[b], 5, seed=3)
    smeared = te[b] * rng.lognormal(0.0, 0.3, te[b].shape)
    return {"reference": (inc[a], te[a]), "reference_b": (inc[b], te[b]), "baseline": (inc[b], base),
            "smeared": (inc[b], smeared)}


def _judge(toy_samples, method, ablation):
    """The report's evaluation (AUCs with bootstrap errors, shower-shape W1 with paired-bootstrap errors)
    and the verdict, with ``method`` in the place of L2LFlows and ``ablation`` in the MLP flows' place."""
    cfg = _cfg()
    cfg = dataclasses.replace(cfg, classifier=dataclasses.replace(cfg.classifier, hidden=(32,), max_iter=40))
    t = toy_samples
    others = {"l2lflows": t[method], "baseline": t["baseline"], "mlp": t[ablation], "reference": t["reference_b"]}
    ev = l2lflows.evaluate(t["reference"], others, GEOM, cfg, seed=0)
    m = l2lflows.summarise(ev, {"cpu_ms_per_shower": 1.0, "wall_ms_per_shower": 1.0}, cfg, 2000, 1600)
    m["shape_w1"] = l2lflows.shape_comparison(t["reference"], others, GEOM, seed=0, n_boot=30)
    return STUDY.verdict(m, cfg)


def test_verdict_passes_a_faithful_generator_and_rejects_the_naive_one(toy_samples):
    """Power check through the report's own evaluation: reference showers in the method's place (a
    faithful generator) beat the smeared ablation and the independent voxels; the independent-voxel
    generator in the method's place (the naive alternative) fails, as does a method no better than its
    ablation (the same showers in both places)."""
    v = _judge(toy_samples, "reference_b", "smeared")
    assert v.holds, [c.as_json() for c in v.comparisons if c.required and not c.holds]
    req = {(c.competitor, c.statistic) for c in v.comparisons if c.required}
    assert len(req) == 4 and any(c.null for c in v.comparisons if c.required)
    naive = _judge(toy_samples, "baseline", "smeared")
    assert not naive.holds
    assert not [c for c in naive.comparisons if c.null][0].holds
    same = _judge(toy_samples, "smeared", "smeared")
    assert not same.holds and not [c for c in same.comparisons if "ablation" in c.competitor][0].holds


def test_config_as_json():
    cfg = _cfg()
    assert cfg.layer_flow.transforms == study_config("l2lflows")["layer_flow"]["transforms"]
    # the config as written into metrics.json: plain JSON types
    plain = l2lflows.plain(dataclasses.replace(cfg, max_train=5))
    assert plain["max_train"] == 5 and plain["energy_flow"]["hidden"] == list(cfg.energy_flow.hidden)
    assert plain["layer_flow"]["mlp_hidden"] == list(cfg.layer_flow.mlp_hidden)


# ----------------------------------------------------------------------------- the claim, smoke tier


def test_smoke_l2lflows_beats_naive_baseline(smoke_run):
    doc = json.loads((smoke_run / "results/l2lflows/metrics.json").read_text())
    m = doc["metrics"]
    margin, tol = m["auc_margin"], m["w1_tolerance"]
    # the classifier separates L2LFlows showers from the reference much less well than independent voxels
    assert m["auc_low_l2lflows"] < m["auc_low_baseline"] - margin
    assert m["auc_high_l2lflows"] < m["auc_high_baseline"] - margin
    # reference vs reference is indistinguishable (the classifier is not fooled by the split)
    assert abs(m["auc_low_reference"] - 0.5) < 0.06 and abs(m["auc_high_reference"] - 0.5) < 0.06
    # per-layer energies: W1 small against the reference spread, every layer
    assert max(m["w1_layer_energy_l2lflows"]) <= tol
    # the verdict: the ablation, the null and the floor, with bootstrap errors
    comps = doc["verdict"]["comparisons"]
    assert {c["competitor"] for c in comps if c["required"]} == {
        "MLP-conditioner layer flows (ablation)", "reference showers (floor)", "independent-voxel generator"}
    assert doc["holds"] is all(c["holds"] for c in comps if c["required"]) and doc["tier"] == "smoke"
    with h5py.File(smoke_run / "results/l2lflows/generated_mlp.h5") as f:
        assert f["showers"].shape[0] == f["incident_energies"].shape[0] > 0
    assert m["generation_ms_per_shower_cpu"] > 0
    for f in ("layer_energies", "shower_shapes", "auc"):
        assert (smoke_run / f"results/l2lflows/{f}.png").stat().st_size > 10_000
        assert (smoke_run / f"results/l2lflows/{f}.pdf").exists()
    with h5py.File(smoke_run / "results/l2lflows/generated.h5") as f:
        assert f["showers"].shape[0] == f["incident_energies"].shape[0] > 0
