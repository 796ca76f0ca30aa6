"""AdamMCMC (arXiv:2312.14027): the sampler on targets with a known posterior,
its Metropolis-Hastings correction, the prolate proposal's acceptance, the
study library on a tiny toy, bad input, and the smoke-tier outputs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import colliderflow.nn.adammcmc as am
from colliderflow.errors import InputError
from colliderflow.study import build_config

from ..conftest import study_config


def _cfg(**over):
    """The default-tier typed config (colliderflow.studies.adammcmc.Config) with ``over`` changed."""
    from colliderflow.studies import adammcmc as spec

    return build_config(spec.Config, dict(study_config("adammcmc"), **over), "studies.adammcmc")

MU = torch.tensor([1.0, -2.0])
SD = torch.tensor([1.0, 0.5])


def _gaussian_chain(n, seed, **kw):
    """Chain on exp(-L), L = 0.5 |(theta - MU) / SD|^2: exact posterior N(MU, SD^2)."""
    th = torch.nn.Parameter(MU.clone())
    sampler = am.AdamMCMC([th], temperature=1.0, generator=torch.Generator().manual_seed(seed), **kw)
    xs = []
    for _ in range(n):
        sampler.step(lambda: 0.5 * (((th - MU) / SD) ** 2).sum())
        xs.append(th.detach().clone())
    x = torch.stack(xs[n // 10:]).numpy()
    return sampler.acceptance_rate, x.mean(0), x.std(0) / SD.numpy()


# ------------------------------------------------------------------ pieces
def test_adam_step_matches_torch_adam():
    torch.manual_seed(0)
    target = torch.randn(7)
    p = torch.nn.Parameter(torch.zeros(7))
    opt = torch.optim.Adam([p], lr=0.05, betas=(0.8, 0.99), eps=1e-8)
    theta, state = torch.zeros(7), {"m": torch.zeros(7), "v": torch.zeros(7), "t": 0}
    for _ in range(6):
        opt.zero_grad()
        ((p - target) ** 4).sum().backward()
        opt.step()
        u, state = am.adam_step(4 * (theta - target) ** 3, state, 0.05, (0.8, 0.99), 1e-8)
        theta = theta - u
    torch.testing.assert_close(theta, p.detach(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("stretch", [0.0, 2.5])
def test_proposal_density_is_the_prolate_gaussian(stretch):
    """The MH ratio's density equals torch's MultivariateNormal with
    Sigma = sigma^2 I + stretch^2 u u^T, and the draws have that covariance."""
    g = torch.Generator().manual_seed(3)
    d, sigma = 4, 0.3
    mean = torch.randn(d, generator=g, dtype=torch.float64)
    u = 0.4 * torch.randn(d, generator=g, dtype=torch.float64)
    cov = sigma ** 2 * torch.eye(d, dtype=torch.float64) + stretch ** 2 * torch.outer(u, u)
    ref = torch.distributions.MultivariateNormal(mean, covariance_matrix=cov)
    x = ref.sample((50,))
    torch.testing.assert_close(am.proposal_log_density(x, mean, u, sigma, stretch), ref.log_prob(x))
    draws = torch.stack([am.sample_proposal(mean, u, sigma, stretch, g) for _ in range(20000)])
    emp = torch.cov(draws.T)
    # sample-covariance error ~ sqrt(2/n) * scale: 5 sigma
    tol = 5 * math.sqrt(2 / 20000) * float(cov.diagonal().max())
    assert float((emp - cov).abs().max()) < tol
    assert float((draws.mean(0) - mean).abs().max()) < 5 * math.sqrt(float(cov.diagonal().max()) / 20000)


def test_asymmetric_move_density_ratio():
    """Moving along the Adam step is favoured by the forward density and
    penalised by the reverse one: log q(theta|tau) - log q(tau|theta) =
    -2 u.Sigma^-1 (theta - tau) ... for tau = theta - u exactly
    -2 |u|^2_Sigma^-1, bounded by 2 / stretch^2 with the stretch."""
    d, sigma = 50, 0.01
    theta = torch.zeros(d, dtype=torch.float64)
    u = torch.full((d,), 0.01, dtype=torch.float64)
    tau = theta - u
    for stretch, expect in ((0.0, -2 * float(u @ u) / sigma ** 2),
                            (3.0, -2 * float(u @ u) / (sigma ** 2 + 9 * float(u @ u)))):
        ratio = (am.proposal_log_density(theta, tau - u, u, sigma, stretch)
                 - am.proposal_log_density(tau, theta - u, u, sigma, stretch))
        assert float(ratio) == pytest.approx(expect, rel=1e-9)
    assert -2 * float(u @ u) / (sigma ** 2 + 9 * float(u @ u)) > -2 / 9


# ------------------------------------------------------------------ posterior
def test_gaussian_posterior_recovered_and_needs_the_proposal_ratio(monkeypatch):
    """MALA-like reverse move (Adam step recomputed at the proposal, no
    momentum): the samples' mean and width match the exact posterior; the
    same chain with the proposal-density ratio dropped is too narrow."""
    acc, mean, width = _gaussian_chain(6000, 0, lr=0.1, betas=(0.0, 0.999), sigma=0.5, stretch=2.0,
                                       reverse="recomputed")
    assert 0.3 < acc < 0.95
    np.testing.assert_allclose(mean, MU.numpy(), atol=0.2 * float(SD.max()))
    np.testing.assert_allclose(width, 1.0, atol=0.07)
    monkeypatch.setattr(am, "proposal_log_density", lambda *a: torch.tensor(0.0, dtype=torch.float64))
    _, _, width_bad = _gaussian_chain(6000, 0, lr=0.1, betas=(0.0, 0.999), sigma=0.5, stretch=2.0,
                                      reverse="recomputed")
    assert width_bad[0] < 0.85, "without the asymmetric move's density the chain must be biased"


def test_paper_sampler_at_small_steps_and_noisy_adam_without_mh():
    """The paper's reverse move (same Adam step, momentum 0.9) with Adam steps
    small against sigma samples the posterior within tolerance; without the
    MH step (noisy Adam) the width is far off."""
    _, mean, width = _gaussian_chain(5000, 1, lr=0.02, sigma=0.5, stretch=2.0)
    np.testing.assert_allclose(mean, MU.numpy(), atol=0.2 * float(SD.max()))
    np.testing.assert_allclose(width, 1.0, atol=0.1)
    acc, _, width_noisy = _gaussian_chain(1500, 1, lr=0.02, sigma=0.5, stretch=2.0, mh=False)
    assert acc == 1.0 and (np.abs(width_noisy - 1.0) > 0.3).any()


def test_prolate_proposal_has_higher_acceptance_at_equal_step_size():
    """Issue requirement: in 40 dimensions, from the mode of a Gaussian
    posterior, at equal sigma and Adam lr the stretched proposal is accepted
    more often (by > 0.3 absolute) at small sigma, and never less (0.1 slack)."""
    d = 40
    target = torch.linspace(-1, 1, d)
    for sigma in (0.003, 0.01, 0.03):
        rates = {}
        for stretch in (0.0, 3.0):
            th = torch.nn.Parameter(target.clone())
            sampler = am.AdamMCMC([th], lr=0.01, sigma=sigma, stretch=stretch, temperature=100.0,
                                  generator=torch.Generator().manual_seed(5))
            for _ in range(200):
                sampler.step(lambda: 0.5 * ((th - target) ** 2).sum())
            rates[stretch] = sampler.acceptance_rate
        assert rates[3.0] > rates[0.0] - 0.1, (sigma, rates)
        if sigma <= 0.01:
            assert rates[3.0] > rates[0.0] + 0.3, (sigma, rates)


# ------------------------------------------------------------------ study
def _toy(tmp_path):
    from colliderflow.data.jet_constituents import generate_toy, write_jets

    jets = generate_toy(550, 16, seed=2, classes=("q", "g", "t", "X2p300", "X4p125"))
    path = tmp_path / "jets.h5"
    write_jets(path, jets, "toy")
    return path


def test_study_pipeline_on_a_tiny_toy(tmp_path):
    import onnxruntime as ort
    from sklearn.metrics import roc_auc_score

    from colliderflow.io import write_json
    from colliderflow.studies import adammcmc as spec
    from colliderflow.studies.adammcmc import core as study

    jets = _toy(tmp_path)
    cfg = dict(signal=["t"], background=["q", "g"], ood=["X2p300", "X4p125"], n_constituents=8, hidden=[8],
               epochs=2, batch_size=64, train_lr=3e-3, test_fraction=0.4, n_samples=3)
    study.check_config(_cfg(**cfg))
    study.train_taggers(jets, tmp_path / "models", seed=1, **cfg)
    ens = [tmp_path / "models" / f"ensemble_{k}.pt" for k in range(3)]
    info = study.sample(tmp_path / "models" / "tagger.pt", ens, tmp_path / "s.npz", tmp_path / "s.json", lr=1e-3,
                        sigma=1e-3, stretch=3.0, temperature_per_jet=1.0, prior_std=1.0, scan_sigmas=[1e-3],
                        scan_steps=15, burn_in=5, thin=3, n_samples=3, reverse="same_step", seed=1)
    assert info["n_samples"] == 3 and info["n_train"] + info["n_test"] == 330
    # the pretrained tagger published: onnxruntime reproduces torch, also on another batch size
    rec = study.publish(tmp_path / "models" / "tagger.pt", tmp_path / "s.npz", tmp_path / "s.json",
                        tmp_path / "pub", n_val=50)
    assert rec["exported"] and rec["passed"] and rec["max_abs_diff"] <= 1e-5, rec
    card = json.loads((tmp_path / "pub" / "model_card.json").read_text())
    assert list(card["inputs"]) == ["x"] and card["inputs"]["x"]["shape"] == ["batch", 8 * 5]
    assert list(card["outputs"]) == ["logit"] and "MAP starting point" in card["description"]
    arr = np.load(tmp_path / "s.npz")
    spread = card["metrics"]["predictive_spread"]["adammcmc"]
    assert math.isclose(spread["out_of_distribution"]["mean"], arr["mcmc_ood"].std(0, ddof=1).mean(), rel_tol=1e-6)
    assert math.isclose(card["metrics"]["test_auc"], roc_auc_score(arr["y_test"], arr["pretrained_test"]))
    model, hp = study.load_tagger(tmp_path / "models" / "tagger.pt")
    data = study.load_data(jets, signal=["t"], background=["q", "g"], ood=["X2p300"], n_constituents=8,
                           test_fraction=0.4, seed=1)
    x = data["x_ood"][:13]  # another batch (size and jets) than the frozen 50
    got = ort.InferenceSession(str(tmp_path / "pub" / "model.onnx")).run(["logit"], {"x": x})[0]
    np.testing.assert_allclose(got, model(torch.from_numpy(x)).detach().numpy(), atol=1e-5)
    write_json(tmp_path / "pub_check.json", rec)
    m = study.report(tmp_path / "s.npz", tmp_path / "s.json", tmp_path / "out", tier="test",
                     acceptance_margin=0.1, published=tmp_path / "pub_check.json")
    assert m["published"] == rec
    v = spec.verdict(m, _cfg(acceptance_margin=0.1, spread_n_sigma=3.0))
    comps = {c.competitor: c for c in v.comparisons}
    assert set(comps) == {"spherical proposal (no stretch)", "in-distribution jets", "deep ensemble",
                          "isotropic weight noise of the chain's size"}
    assert comps["isotropic weight noise of the chain's size"].null and comps["deep ensemble"].margin < 0
    assert all(c.over == "bootstrap" for c in v.comparisons)
    assert all(c.error > 0 for c in v.comparisons if "spread" in c.statistic)
    for f in ("acceptance_vs_sigma.png", "acceptance_vs_sigma.pdf", "predictive_spread.png"):
        assert (tmp_path / "out" / f).stat().st_size > 0
    assert 0.5 <= m["auc"]["ensemble_mean"] <= 1.0


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Train, sample and report on a small toy (~6 CPU s): the study's real evaluation."""
    from colliderflow.studies.adammcmc import core as study

    tmp = tmp_path_factory.mktemp("adammcmc")
    jets = _toy(tmp)
    cfg = dict(signal=["t"], background=["q", "g"], ood=["X2p300", "X4p125"], n_constituents=8, hidden=[8],
               epochs=2, batch_size=64, train_lr=3e-3, test_fraction=0.4, n_samples=3)
    study.train_taggers(jets, tmp / "models", seed=1, **cfg)
    ens = [tmp / "models" / f"ensemble_{k}.pt" for k in range(3)]
    study.sample(tmp / "models" / "tagger.pt", ens, tmp / "s.npz", tmp / "s.json", lr=1e-3, sigma=1e-2,
                 stretch=3.0, temperature_per_jet=1.0, prior_std=1.0, scan_sigmas=[1e-3, 1e-2], scan_steps=60,
                 burn_in=50, thin=10, n_samples=3, reverse="same_step", seed=1)
    return tmp


def _judge(tmp, name, **replace):
    """Report and verdict on the tiny run's predictions, with arrays of the npz replaced (power checks)."""
    from colliderflow.studies import adammcmc as spec
    from colliderflow.studies.adammcmc import core as study

    arr = dict(np.load(tmp / "s.npz"))
    arr.update({k: arr[v] for k, v in replace.items()})
    np.savez(tmp / f"{name}.npz", **arr)
    m = study.report(tmp / f"{name}.npz", tmp / "s.json", tmp / name, tier="test", acceptance_margin=0.1)
    return spec.verdict(m, _cfg(acceptance_margin=0.1, spread_n_sigma=3.0))


def test_prolate_acceptance_passes_and_the_spherical_one_fails(tiny_run):
    """The acceptance comparisons pass for the prolate proposal (gain ~0.8 +- 0.05 at sigma 1e-3 and 1e-2)
    and fail when the 'prolate' chains are the spherical ones (no stretch: effect 0)."""
    acc = [c for c in _judge(tiny_run, "real").comparisons if c.competitor == "spherical proposal (no stretch)"]
    assert len(acc) == 2 and all(c.holds and c.effect > 0.5 for c in acc), [c.as_json() for c in acc]
    v = _judge(tiny_run, "no_stretch", scan_accepted_prolate="scan_accepted_spherical")
    assert not v.holds
    assert not any(c.holds for c in v.comparisons if c.competitor == "spherical proposal (no stretch)")


def test_weight_noise_in_place_of_the_samples_fails(tiny_run):
    """Power check: the noise-floor null in place of the AdamMCMC samples cannot beat itself."""
    v = _judge(tiny_run, "noise", mcmc_test="noise_test", mcmc_ood="noise_ood")
    noise = [c for c in v.comparisons if c.null]
    assert not v.holds and len(noise) == 1 and noise[0].effect == 0 and not noise[0].holds


def test_bad_input_raises_input_error(tmp_path):
    import jsonschema

    from colliderflow.dag import validator
    from colliderflow.studies.adammcmc import core as study

    with pytest.raises(InputError, match="sigma"):
        am.AdamMCMC([torch.nn.Parameter(torch.zeros(2))], sigma=-1.0)
    with pytest.raises(InputError, match="reverse"):
        am.AdamMCMC([torch.nn.Parameter(torch.zeros(2))], reverse="backwards")
    # single values are the schema's: it rejects them before any step runs
    schema = validator("adammcmc")
    good = study_config("adammcmc")
    schema.validate(good)
    for bad, key in ((dict(n_samples=1), "n_samples"), (dict(stretch=0.0), "stretch"), (dict(hidden=[]), "hidden"),
                     (dict(scan_sigmas=[0.0]), "scan_sigmas"), (dict(test_fraction=1.5), "test_fraction"),
                     (dict(reverse="x"), "reverse")):
        with pytest.raises(jsonschema.ValidationError) as err:
            schema.validate(dict(good, **bad))
        assert key in err.value.json_path
    with pytest.raises(InputError, match="lr"):  # NaN passes the schema's bounds; the sampler rejects it
        am.check_sampler_config(float("nan"), 1e-3, 1.0, 1.0)
    with pytest.raises(InputError, match="ood"):  # spans several keys: checked by the train step
        study.check_config(_cfg(signal=["t"], background=["q"], ood=["t"]))
    jets = _toy(tmp_path)
    with pytest.raises(InputError, match="class_names"):
        study.load_data(jets, signal=["t"], background=["q"], ood=["X3p400"], n_constituents=4, test_fraction=0.4,
                        seed=0)
    with pytest.raises(InputError, match="n_constituents"):
        study.load_data(jets, signal=["t"], background=["q"], ood=["X2p300"], n_constituents=64,
                        test_fraction=0.4, seed=0)
    with pytest.raises(InputError, match="does not exist"):
        study.report(tmp_path / "missing.npz", tmp_path / "missing.json", tmp_path, tier="t", acceptance_margin=0.1)


# ------------------------------------------------------------------ smoke tier
def test_smoke_outputs(smoke_run):
    out = smoke_run / "results" / "adammcmc"
    doc = json.loads((out / "metrics.json").read_text())
    m = doc["metrics"]
    for f in ("acceptance_vs_sigma.png", "acceptance_vs_sigma.pdf", "predictive_spread.png", "predictive_spread.pdf"):
        assert (out / f).stat().st_size > 0
    scan = m["acceptance_scan"]
    sig, sph, pro = map(np.array, (scan["sigma"], scan["spherical"], scan["prolate"]))
    assert ((0 <= sph) & (sph <= 1) & (0 <= pro) & (pro <= 1)).all()
    small = sig <= m["chain"]["sigma"] * (1 + 1e-9)
    margin = m["tolerances"]["acceptance_margin"]
    recomputed = bool(small.any() and (pro - sph > margin)[small].all() and (pro - sph > -margin).all())
    assert m["acceptance_claim_holds"] == recomputed
    s = m["spread"]
    assert all(np.isfinite(v["mean"]) and v["mean"] >= 0 for v in s.values())
    from colliderflow.studies import adammcmc as spec

    v = spec.verdict(m, _cfg(acceptance_margin=margin, spread_n_sigma=m["tolerances"]["spread_n_sigma"]))
    assert doc["holds"] == v.holds and doc["key_metric"] == v.key_metric
    assert m["chain"]["n_samples"] >= 2 and 0 < m["chain"]["chain_acceptance"] <= 1
    assert 0.5 < m["auc"]["mcmc_mean"] <= 1.0 and 0.5 < m["auc"]["ensemble_mean"] <= 1.0
    # the published pretrained tagger
    check = json.loads((out / "published_check.json").read_text())
    assert check["passed"] and m["published"] == check
    for f in ("model.onnx", "model_card.json", "model_card.md", "validation.npz"):
        assert (out / "published" / f).stat().st_size > 0
    card = json.loads((out / "published" / "model_card.json").read_text())
    assert math.isclose(card["metrics"]["test_auc"], m["auc"]["pretrained"])
    assert math.isclose(card["metrics"]["predictive_spread"]["adammcmc"]["in_distribution"]["mean"],
                        s["mcmc_test"]["mean"])
