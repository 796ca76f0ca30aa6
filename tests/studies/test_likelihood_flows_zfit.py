"""likelihood_flows' real posterior (issue 17 item 5): the Z fit of the dimuon masses, sampled by MCMC.
The likelihood is the dimuon study's (iminuit's ExtendedBinnedNLL of fit_z's model); the samples follow
the fit's best values and Hesse errors; the real excerpt's posterior is checked when the excerpt is there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from colliderflow.errors import InputError
from colliderflow.studies.likelihood_flows import core, zfit

EXCERPT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cms_opendata" / \
    "Run2012BC_DoubleMuParked_Muons_first100k.root"
EXCERPT = EXCERPT if EXCERPT.exists() else Path("/work/shared/data/cms_opendata") / EXCERPT.name


def _z_masses(n_sig: int = 3000, n_bkg: int = 800, seed: int = 0) -> np.ndarray:
    """Breit-Wigner (m 91.19, Gamma 2.5) smeared by 1.2 GeV, over an exponential background, 60-120 GeV."""
    rng = np.random.default_rng(seed)
    sig = 91.19 + 1.25 * rng.standard_cauchy(3 * n_sig)
    sig = sig[(sig > 60) & (sig < 120)][:n_sig] + 1.2 * rng.standard_normal(n_sig)
    return np.r_[sig, 60 + rng.exponential(25, n_bkg)]


def test_likelihood_is_the_dimuon_fits():
    """zfit.nll (vectorised) differs between parameter points exactly as iminuit's cost of fit_z's model."""
    from iminuit.cost import ExtendedBinnedNLL

    from colliderflow.studies.dimuon.analysis import fit_z, z_cdf

    m = _z_masses()
    p0 = np.asarray(fit_z(m)["params"])
    counts = np.histogram(m[(m > 70) & (m < 110)], bins=80, range=(70, 110))[0].astype(float)
    cost = ExtendedBinnedNLL(counts, np.linspace(70, 110, 81), z_cdf(70, 110))
    pts = p0 + np.array([[0, 0, 0, 0, 0, 0], [30, -10, 0.2, 0.3, -0.2, 0.01], [-50, 20, -0.3, -0.5, 0.4, -0.02]])
    mine = zfit.nll(pts, counts, 70, 110)
    theirs = np.array([cost(*p) for p in pts]) / 2  # iminuit's costs are -2 log L
    np.testing.assert_allclose(mine - mine[0], theirs - theirs[0], atol=1e-6)
    assert np.isinf(zfit.nll(p0 + [0, 0, 0, 0, -5, 0], counts, 70, 110)[0])  # resolution below its limit


def test_posterior_samples_follow_the_fit():
    """MCMC draws: m_Z centred on the best fit (0.2 sigma), widths within 25 % of Hesse's, width and
    resolution anti-correlated (a Voigtian's two widths trade off), few repeated draws."""
    m = _z_masses()
    x, info = zfit.sample(m, 1024, seed=1, chains=32)
    assert x.shape == (1024, 4) and x.dtype == np.float32
    best, err = info["best_fit"], info["best_fit_errors"]
    assert abs(x[:, 0].mean() - best["m_Z"]) < 0.2 * err["m_Z"]
    for k, f in enumerate(zfit.FEATURES):
        assert 0.75 < x[:, k].std() / err[f] < 1.25, (f, x[:, k].std(), err[f])
    assert np.corrcoef(x[:, 1], x[:, 2])[0, 1] < -0.3
    assert info["acceptance"] > 0.3 and info["unique_fraction"] > 0.9


def test_too_few_dimuon_pairs_is_one_line():
    cfg = dict(posterior="dimuon_z", n_train=100, n_validation=50)
    with pytest.raises(InputError, match="too few for a Z fit"):
        core.posterior_samples(cfg, 0, np.full(20, 91.0))
    with pytest.raises(InputError, match="needs the dimuon masses"):
        core.posterior_samples(cfg, 0, None)


@pytest.mark.skipif(not EXCERPT.exists(), reason=f"real dimuon excerpt {EXCERPT.name} not in shared/data")
def test_real_excerpt_posterior():
    """The CMS 2012 DoubleMu excerpt: ~9.5k pairs in 70-110 GeV; the posterior's m_Z is the fit's (the
    excerpt's muon scale puts it ~0.4 GeV below the PDG value), the width and resolution anti-correlated."""
    from colliderflow.data import nanoaod

    masses = nanoaod.dimuon_mass(nanoaod.read_nanoaod(EXCERPT)["Muon"])
    x, info = zfit.sample(masses, 512, seed=0, chains=32)
    assert 9000 < info["n_z_window"] < 10000
    assert abs(x[:, 0].mean() - info["best_fit"]["m_Z"]) < 0.3 * info["best_fit_errors"]["m_Z"]
    assert 90.5 < x[:, 0].mean() < 91.2
    assert np.corrcoef(x[:, 1], x[:, 2])[0, 1] < -0.6


def test_real_tier_learns_the_real_posterior():
    """The real tier runs the dimuon Z posterior, so it is not labelled a toy there."""
    import yaml

    real = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "tiers" / "real.yaml").read_text())
    assert real["studies"]["likelihood_flows"]["posterior"] == "dimuon_z"
    assert "likelihood_flows" not in real.get("toy_data", {})
