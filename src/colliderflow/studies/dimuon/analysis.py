"""Dimuon spectrum: the end-to-end proof of the NanoAOD path.

Histogram the opposite-sign dimuon mass of the two leading muons with
``hist`` (log-spaced bins, as in the classic CMS open-data plot), fit the Z
with a Voigtian (Breit-Wigner (x) Gaussian) plus exponential background by
binned maximum likelihood (iminuit), and locate the J/psi and Upsilon(1S)
peaks with Gaussian + linear fits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import hist
import numpy as np
from iminuit import Minuit
from iminuit.cost import ExtendedBinnedNLL
from scipy.special import voigt_profile
from scipy.stats import norm

from . import JPSI_MASS_PDG, UPSILON_MASS_PDG, Z_MASS_PDG  # noqa: F401  (re-exported)

Z_WIDTH_PDG = 2.4952


def spectrum(masses: np.ndarray, bins: int = 300, lo: float = 0.3, hi: float = 200.0) -> hist.Hist:
    h = hist.Hist(hist.axis.Regular(bins, lo, hi, transform=hist.axis.transform.log, name="mass",
                                    label=r"$m_{\mu\mu}$ [GeV]"))
    h.fill(masses)
    return h


def _fit(masses: np.ndarray, lo: float, hi: float, nbins: int, model_density: Callable[..., np.ndarray],
         start: Sequence[float], limits: dict[str, tuple[float, float]]) -> tuple[Minuit, np.ndarray, np.ndarray]:
    """Extended binned ML fit of sum of components on [lo, hi]."""
    counts, edges = np.histogram(masses, bins=nbins, range=(lo, hi))

    def model(xe: np.ndarray, *p: float) -> np.ndarray:  # cumulative expected counts at the bin edges
        return model_density(xe, *p)

    cost = ExtendedBinnedNLL(counts, edges, model)
    m = Minuit(cost, *start, name=list(limits))
    for k, lim in limits.items():
        m.limits[k] = lim
    m.migrad()
    m.hesse()
    return m, counts, edges


def z_cdf(lo: float, hi: float) -> Callable[..., np.ndarray]:
    """The Z model's expected counts below each mass in ``xe`` (from ``lo``):
    Voigtian signal + exponential background, each normalised on [lo, hi]."""
    grid = np.linspace(lo, hi, 2001)

    def cdf(xe: np.ndarray, ns: float, nb: float, mz: float, gz: float, sig: float, slope: float) -> np.ndarray:
        sig_pdf = voigt_profile(grid - mz, sig, gz / 2)
        bkg_pdf = np.exp(-slope * (grid - lo))
        s = np.concatenate([[0], np.cumsum((sig_pdf[1:] + sig_pdf[:-1]) / 2 * np.diff(grid))])
        b = np.concatenate([[0], np.cumsum((bkg_pdf[1:] + bkg_pdf[:-1]) / 2 * np.diff(grid))])
        return ns * np.interp(xe, grid, s / s[-1]) + nb * np.interp(xe, grid, b / b[-1])

    return cdf


#: fewest dimuon pairs in the Z window the Z fit accepts
Z_MIN_PAIRS = 50
Z_WINDOW = (70.0, 110.0)


def z_window_count(masses: np.ndarray, lo: float = Z_WINDOW[0], hi: float = Z_WINDOW[1]) -> int:
    return int(((masses > lo) & (masses < hi)).sum())


def fit_z(masses: np.ndarray, lo: float = Z_WINDOW[0], hi: float = Z_WINDOW[1], nbins: int = 80,
          start: Sequence[float] | None = None) -> dict:
    """Voigtian Z peak + exponential background. Returns mass, width,
    resolution and their errors (GeV), the signal yield, fit quality, and the
    fitted parameters and window (to draw the model). ``start``: the starting
    parameters (default: a generic Z)."""
    sel = masses[(masses > lo) & (masses < hi)]
    n = len(sel)
    if n < Z_MIN_PAIRS:
        raise ValueError(f"only {n} dimuon events in [{lo}, {hi}] GeV: too few for a Z fit")
    m, counts, edges = _fit(sel, lo, hi, nbins, z_cdf(lo, hi), start or (0.8 * n, 0.2 * n, 91.0, 2.5, 1.5, 0.03),
                            {"ns": (0, 2 * n), "nb": (0, 2 * n), "mz": (85, 97), "gz": (0.5, 6),
                             "sig": (0.1, 6), "slope": (-0.2, 0.5)})
    return {"mass": m.values["mz"], "mass_err": m.errors["mz"], "width": m.values["gz"],
            "width_err": m.errors["gz"], "resolution": m.values["sig"], "n_signal": m.values["ns"],
            "n_signal_err": m.errors["ns"],
            "n_background": m.values["nb"], "valid": bool(m.valid),
            "chi2_ndf": float(m.fval / max(nbins - 6, 1)), "params": list(m.values), "window": [lo, hi]}


def peak_cdf(centre: float, half_window: float) -> Callable[..., np.ndarray]:
    """A peak model's expected counts below each mass in ``xe``: Gaussian +
    linear background, each normalised on [centre +- half_window]."""
    lo, hi = centre - half_window, centre + half_window

    def cdf(xe: np.ndarray, ns: float, nb: float, mu: float, sig: float, a: float) -> np.ndarray:
        # linear background 1 + a (x - centre), normalised on [lo, hi]
        u = xe - lo
        w = hi - lo
        b = (u + a * (u**2 / 2 - (centre - lo) * u)) / (w + a * (w**2 / 2 - (centre - lo) * w))
        s = (norm.cdf(xe, mu, sig) - norm.cdf(lo, mu, sig)) / (norm.cdf(hi, mu, sig) - norm.cdf(lo, mu, sig))
        return ns * s + nb * b

    return cdf


def fit_peak(masses: np.ndarray, centre: float, half_window: float, nbins: int = 60,
             start: Sequence[float] | None = None) -> dict:
    """Gaussian peak on a linear background in [centre +- half_window]."""
    lo, hi = centre - half_window, centre + half_window
    sel = masses[(masses > lo) & (masses < hi)]
    n = len(sel)
    if n < 30:
        return {"mass": float("nan"), "mass_err": float("nan"), "n_signal": 0.0, "valid": False}
    m, _, _ = _fit(sel, lo, hi, nbins, peak_cdf(centre, half_window),
                   start or (0.5 * n, 0.5 * n, centre, 0.01 * centre, 0.0),
                   {"ns": (0, 2 * n), "nb": (0, 2 * n), "mu": (lo, hi), "sig": (1e-3 * centre, 0.1 * centre),
                    "a": (-1 / half_window, 1 / half_window)})
    return {"mass": m.values["mu"], "mass_err": m.errors["mu"], "sigma": m.values["sig"],
            "n_signal": m.values["ns"], "valid": bool(m.valid), "params": list(m.values), "centre": centre,
            "window": [lo, hi]}


def model_density(fit: dict, n: int = 400) -> tuple[np.ndarray, np.ndarray] | None:
    """The fitted model of one peak as (mass, expected events / GeV) over its
    fit window, or None for a fit that did not run."""
    if "params" not in fit:
        return None
    lo, hi = fit["window"]
    cdf = z_cdf(lo, hi) if "width" in fit else peak_cdf(fit["centre"], (hi - lo) / 2)
    edges = np.linspace(lo, hi, n + 1)
    return (edges[1:] + edges[:-1]) / 2, np.diff(cdf(edges, *fit["params"])) / np.diff(edges)


#: the peaks: fit function and its arguments
PEAKS = {"z": (fit_z, ()), "jpsi": (fit_peak, (JPSI_MASS_PDG, 0.3)), "upsilon1s": (fit_peak, (UPSILON_MASS_PDG, 0.5))}


def bootstrap_fits(masses: np.ndarray, fits: dict, n: int, seed: int = 0) -> dict:
    """Standard errors of each peak's fitted mass (and the Z's signal yield)
    from ``n`` bootstrap resamples of the dimuon pairs, each refitted from the
    nominal fit's parameters."""
    rng = np.random.default_rng(seed)
    reps: dict[str, list] = {k: [] for k in PEAKS}
    z_yield = []
    for _ in range(n):
        resample = masses[rng.integers(0, len(masses), len(masses))]
        for key, (fn, args) in PEAKS.items():
            if "params" not in fits[key]:
                continue
            f = fn(resample, *args, start=tuple(fits[key]["params"]))
            reps[key].append(f["mass"])
            if key == "z":
                z_yield.append(f["n_signal"])
    out = {k: float(np.std(v, ddof=1)) if len(v) > 1 else float("inf") for k, v in reps.items()}
    out["z_n_signal"] = float(np.std(z_yield, ddof=1)) if len(z_yield) > 1 else float("inf")
    return out


def analyse(masses: np.ndarray, n_bootstrap: int = 0, seed: int = 0) -> dict:
    """All fits of the study on an array of dimuon masses (GeV), with
    bootstrap errors when ``n_bootstrap`` > 1."""
    fits = {key: fn(masses, *args) for key, (fn, args) in PEAKS.items()}
    out = {"n_dimuon": int(len(masses)), **fits}
    if n_bootstrap > 1:
        out["bootstrap"] = {"n": n_bootstrap, "error": bootstrap_fits(masses, fits, n_bootstrap, seed)}
    return out


def plot(h: hist.Hist, fits: dict, path: str | Path, data: bool, rlabel: str = "") -> list:
    from ... import plotting

    plotting.style()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 7))
    widths = h.axes[0].widths
    import mplhep

    mplhep.histplot(h.values() / widths, h.axes[0].edges, ax=ax, histtype="step", color="k",
                    label="opposite-sign $\\mu\\mu$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$m_{\mu\mu}$ [GeV]")
    ax.set_ylabel("Events / GeV")
    peaks = [(r"$J/\psi$", fits["jpsi"]), (r"$\Upsilon$", fits["upsilon1s"]), ("Z", fits["z"])]
    ymax = (h.values() / widths).max()
    styles = {"jpsi": ("tab:blue", r"$J/\psi$ fit: Gaussian + linear"),
              "upsilon1s": ("tab:green", r"$\Upsilon(1S)$ fit: Gaussian + linear"),
              "z": ("tab:red", "Z fit: Voigtian + exponential")}
    for key, (color, lab) in styles.items():
        curve = model_density(fits[key])
        if curve is not None:
            ax.plot(*curve, color=color, lw=2.2, label=lab)
    for text, f in peaks:
        if np.isfinite(f["mass"]) and f.get("n_signal", 0) > 0:
            i = h.axes[0].index(f["mass"])
            y = (h.values() / widths)[min(i, len(widths) - 1)]
            ax.annotate(f"{text}\n{f['mass']:.2f} GeV", (f["mass"], y), xytext=(0, 25), textcoords="offset points",
                        ha="center", fontsize=14, arrowprops=dict(arrowstyle="-", color="0.4"))
    ax.set_ylim(0.5, ymax * 30)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=15)  # beside: the peaks' labels fill the top
    plotting.label(ax, "Open Data" if data else "", data=data, rlabel=rlabel)
    return plotting.save(fig, path)
