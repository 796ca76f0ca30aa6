"""A real posterior for likelihood_flows: the Z peak fit of the dimuon excerpt.

The likelihood is the dimuon study's own Z fit (:func:`colliderflow.studies.dimuon.analysis.fit_z`):
extended binned Poisson likelihood of a Voigtian (Breit-Wigner (x) Gaussian resolution) plus an
exponential background on 70-110 GeV in 80 bins, with flat priors inside the fit's parameter limits.
Its posterior over (m_Z, Gamma_Z, sigma, N_signal) (the background yield and slope marginalised) is
sampled by independence Metropolis-Hastings: a multivariate Student-t proposal (5 d.o.f.) centred on
the Minuit best fit with 1.2 x its Hesse errors, many chains at once (the likelihood is evaluated
for a batch of parameter points in one numpy call). The chains start at draws of the proposal, the
first ``burn`` steps are dropped and every ``thin``-th step is kept.

The flow then learns these samples exactly as it learns the toy posterior; the held-out samples come
from other chains than the training samples.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import voigt_profile

from ...errors import InputError

#: the posterior's coordinates (GeV, GeV, GeV, events)
FEATURES = ("m_Z", "Gamma_Z", "sigma", "N_signal")
PARAMS = ("ns", "nb", "mz", "gz", "sig", "slope")
GRID = 2001


def _limits(n: int) -> np.ndarray:
    """The fit's parameter limits (fit_z's), rows in :data:`PARAMS` order."""
    return np.array([(0, 2 * n), (0, 2 * n), (85, 97), (0.5, 6), (0.1, 6), (-0.2, 0.5)], dtype=float)


def nll(p: ArrayLike, counts: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """-log L (up to a constant) of parameter rows ``p`` (K, 6) in :data:`PARAMS` order: Poisson counts
    ``counts`` in equal bins on [lo, hi] against the fit_z model (z_cdf, vectorised over K); inf outside
    the limits."""
    p = np.atleast_2d(np.asarray(p, dtype=float))
    nbins = len(counts)
    if (GRID - 1) % nbins:
        raise ValueError(f"{nbins} bins do not divide the {GRID - 1} grid intervals")
    grid = np.linspace(lo, hi, GRID)
    ns, nb, mz, gz, sig, slope = (p[:, i:i + 1] for i in range(6))
    dg = np.diff(grid)

    def cum(pdf: np.ndarray) -> np.ndarray:
        c = np.concatenate([np.zeros((len(pdf), 1)), np.cumsum((pdf[:, 1:] + pdf[:, :-1]) / 2 * dg, axis=1)], 1)
        return c / c[:, -1:]

    with np.errstate(invalid="ignore", over="ignore"):  # points outside the limits: inf below
        s = cum(voigt_profile(grid - mz, sig, gz / 2))
        b = cum(np.exp(-slope * (grid - lo)))
    at_edges = slice(None, None, (GRID - 1) // nbins)  # the bin edges are grid points
    mu = np.diff(ns * s[:, at_edges] + nb * b[:, at_edges], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.sum(mu - counts * np.log(np.maximum(mu, 1e-300)), axis=1)
    lim = _limits(int(counts.sum()))
    inside = np.all((p >= lim[:, 0]) & (p <= lim[:, 1]), axis=1)
    return np.where(inside & np.isfinite(out), out, np.inf)


def sample(masses: ArrayLike, n: int, seed: int = 0, chains: int = 64, thin: int = 6, burn: int = 20,
           lo: float = 70.0, hi: float = 110.0, nbins: int = 80) -> tuple[np.ndarray, dict]:
    """``n`` posterior samples (n, 4) of (m_Z, Gamma_Z, sigma, N_signal) from the Z fit of ``masses``
    (GeV), ordered chain by chain (the last rows, held out by :func:`..core.run`, come from other chains
    than the first), and the sampler's record (best fit, acceptance, chains, thinning)."""
    from ..dimuon.analysis import fit_z

    masses = np.asarray(masses, dtype=float)
    fit = fit_z(masses, lo, hi, nbins)  # raises ValueError with the count when there are too few pairs
    counts = np.histogram(masses[(masses > lo) & (masses < hi)], bins=nbins, range=(lo, hi))[0].astype(float)
    best = np.asarray(fit["params"], dtype=float)
    if not fit["valid"]:
        raise InputError(None, "Muon", "the Z fit of the dimuon masses did not converge: no posterior to sample")
    cov = _hesse_cov(best, counts, lo, hi)
    rng = np.random.default_rng(seed)
    chol = np.linalg.cholesky(1.2**2 * cov)
    df = 5.0

    def propose(k: int) -> tuple[np.ndarray, np.ndarray]:
        z = rng.standard_normal((k, 6))
        w = np.sqrt(df / rng.chisquare(df, (k, 1)))
        x = best + w * z @ chol.T
        # log proposal density (multivariate t, up to a constant)
        u = np.linalg.solve(chol, (x - best).T).T
        return x, -(df + 6) / 2 * np.log1p(np.sum(u**2, axis=1) / df)

    per_chain = -(-n // chains)
    x, lq = propose(chains)
    lp = -nll(x, counts, lo, hi)
    while not np.all(np.isfinite(lp)):  # start inside the limits
        bad = ~np.isfinite(lp)
        x[bad], lq[bad] = propose(int(bad.sum()))
        lp[bad] = -nll(x[bad], counts, lo, hi)
    kept, accepted, steps = [], 0, 0
    for step in range(burn + per_chain * thin):
        y, lq_y = propose(chains)
        lp_y = -nll(y, counts, lo, hi)
        with np.errstate(invalid="ignore"):
            acc = np.log(rng.random(chains)) < (lp_y - lp) + (lq - lq_y)
        x[acc], lp[acc], lq[acc] = y[acc], lp_y[acc], lq_y[acc]
        if step >= burn:
            accepted += int(acc.sum())
            steps += chains
            if (step - burn) % thin == thin - 1:
                kept.append(x.copy())
    draws = np.stack(kept, axis=1)  # (chains, per_chain, 6)
    cols = [PARAMS.index(k) for k in ("mz", "gz", "sig", "ns")]
    samples = draws[:, :, cols].reshape(-1, 4)[:n]
    info_unique = len(np.unique(samples[:, 0])) / len(samples)  # chains that did not move for `thin` steps
    info = {"best_fit": dict(zip(FEATURES, best[cols].round(6).tolist())),
            "best_fit_errors": dict(zip(FEATURES, np.sqrt(np.diag(cov))[cols].round(6).tolist())),
            "n_z_window": int(counts.sum()), "acceptance": accepted / max(steps, 1),
            "unique_fraction": info_unique, "chains": chains,
            "thin": thin, "burn": burn, "sampler": "independence Metropolis-Hastings, multivariate t(5) proposal "
            "at the Minuit best fit with 1.2 x its errors", "window": [lo, hi], "bins": nbins}
    return samples.astype(np.float32), info


def _hesse_cov(best: np.ndarray, counts: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Covariance of the 6 parameters at ``best`` from iminuit's Hesse on :func:`nll` (errordef 0.5)."""
    from iminuit import Minuit

    m = Minuit(lambda *p: float(nll(np.asarray(p)[None], counts, lo, hi)[0]), *best, name=list(PARAMS))
    m.errordef = Minuit.LIKELIHOOD
    m.hesse()
    return np.asarray(m.covariance, dtype=float)
