"""The dimuon study's verdict: the fitted peaks against the PDG masses (with
bootstrap errors and stated tolerances) and the Z against the background-only
null, seen passing on the toy and failing with a 1 % momentum-scale error or
without a Z."""

from __future__ import annotations

import numpy as np
import pytest

from colliderflow.data import nanoaod, toy_nanoaod
from colliderflow.studies.dimuon import Config, analysis, verdict

CFG = Config(max_events=0, bootstrap=5)


@pytest.fixture(scope="module")
def toy_masses():
    return nanoaod.dimuon_mass(toy_nanoaod.generate_dimuon(60000, seed=11)["Muon"])


def _judge(masses):
    return verdict(analysis.analyse(masses, n_bootstrap=CFG.bootstrap, seed=0), CFG)


def test_toy_peaks_pass_and_a_one_percent_momentum_scale_fails(toy_masses):
    v = _judge(toy_masses)
    assert v.holds, [(c.competitor, c.effect, c.error) for c in v.comparisons]
    z = next(c for c in v.comparisons if c.competitor.startswith("PDG Z"))
    assert 0 < z.error < 0.1  # the bootstrap error of the Z mass (~0.03 GeV here)
    shifted = _judge(toy_masses * 1.01)  # a 1 % momentum-scale error moves every peak by 1 %
    assert not shifted.holds
    assert not any(c.holds for c in shifted.comparisons if c.competitor.startswith("PDG"))


def test_background_only_fails_the_null(toy_masses):
    """The toy with its Z replaced by a smooth falling continuum: the fitted Z
    yield is not 5 standard errors above zero, and the verdict fails."""
    g = np.random.default_rng(2)
    outside = toy_masses[(toy_masses < 60) | (toy_masses > 120)]
    continuum = 60 + g.exponential(20.0, 2000)
    v = _judge(np.concatenate([outside, continuum[continuum < 120]]))
    null = next(c for c in v.comparisons if c.null)
    assert not null.holds and not v.holds
