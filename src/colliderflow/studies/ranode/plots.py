"""Figures of the resonant-AD family (the max-SIC figure is shared with transit) and the R-ANODE report."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .config import Config
from .methods import METHOD_LABELS, METHODS, aggregate

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def _ax():
    from ... import plotting

    plotting.style()
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(9, 7))


def _no_y_zero_label(ax: Axes) -> None:
    """Both axes start at 0: the y axis' "0" label would sit on the x axis' "0.0"."""
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10], prune="lower"))


STYLE = {"supervised": ("k", "-"), "iad": ("0.45", "--"), "anode": ("tab:green", "-."), "cathode": ("tab:blue", "-"),
         "ranode_true_w": ("tab:red", "-"), "ranode_wrong_w": ("tab:orange", ":"),
         "ranode_learn_w": ("tab:purple", "--"), "transit": ("tab:cyan", "-"), "untransported": ("tab:brown", ":")}
#: R-ANODE's figures (the untransported-sideband null is TRANSIT's, drawn in its figure)
RANODE_FIGURE_METHODS = [m for m in METHODS if m != "untransported"]


def plot_sic_curves(scan: dict, path: str | Path, rlabel: str = "", methods: Sequence[str]=METHODS,
                    min_bkg_pass: int = 20) -> list:
    """SIC vs signal efficiency for every method at one injection (one seed);
    cuts keeping fewer than ``min_bkg_pass`` test background events are not
    drawn (the same rule as :func:`max_sic`)."""
    from ... import plotting

    fig, ax = _ax()
    n_b = scan["n_test_background"]
    for name in methods:
        c = scan["curves"].get(name)
        if c is None:
            continue
        eps_s, sic, eps_b = (np.asarray(c[k], float) for k in ("eps_s", "sic", "eps_b"))
        sic = np.where(eps_b * n_b >= min_bkg_pass, sic, np.nan)
        col, ls = STYLE[name]
        ax.plot(eps_s, sic, color=col, ls=ls, label=METHOD_LABELS[name])
    ax.axhline(1.0, color="0.7", lw=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, None)
    ax.set_xlabel(r"Signal efficiency $\epsilon_S$")
    ax.set_ylabel(r"SIC $= \epsilon_S/\sqrt{\epsilon_B}$")
    _no_y_zero_label(ax)
    ax.legend(fontsize=13, loc="upper left", title=rlabel or None, title_fontsize=13)
    plotting.label(ax, text="")
    return plotting.save(fig, path)


def plot_max_sic(agg: dict, n_bg: int, path: str | Path, rlabel: str = "", methods: Sequence[str]=METHODS,
                 ceiling: float | None = None) -> list:
    """max SIC (median, 16-84 % band over seeds) vs S/sqrt(B): R-ANODE's headline figure.

    ``ceiling``: the largest SIC the test set can show (all signal kept at the
    minimum allowed background count), drawn as a dotted line.
    """
    from ... import plotting

    fig, ax = _ax()
    for name in methods:
        rows = agg["max_sic"][name]
        x = np.array([r["n_sig"] for r in rows]) / math.sqrt(n_bg)
        med = np.array([r["median"] for r in rows])
        col, ls = STYLE[name]
        ax.plot(x, med, color=col, ls=ls, marker="o", ms=4, label=METHOD_LABELS[name])
        ax.fill_between(x, [r["q16"] for r in rows], [r["q84"] for r in rows], color=col, alpha=0.15, lw=0)
    ax.axhline(1.0, color="0.7", lw=1)
    if ceiling:
        ax.axhline(ceiling, color="0.5", ls=":", lw=1.5, label="test-set SIC ceiling")
    ax.set_xlabel(r"$S/\sqrt{B}$ in the signal region")
    ax.set_ylabel("max SIC")
    ax.set_ylim(0, (ceiling or ax.get_ylim()[1]) * 1.45)
    ns = ", ".join(str(n) for n in agg["injections"])
    ax.legend(fontsize=12, loc="upper left", ncol=2, title=f"{rlabel}; $N_{{sig}}$ = {ns}", title_fontsize=12)
    plotting.label(ax, text="")
    return plotting.save(fig, path)


def plot_w(agg: dict, path: str | Path, rlabel: str = "") -> list:
    """Learned w (median, 16-84 % over seeds) vs true w with the diagonal."""
    from ... import plotting

    fig, ax = _ax()
    rows = [agg["w"][str(n)] for n in agg["injections"]]
    wt = np.array([r["w_true"] for r in rows])
    med = np.array([r["learned_median"] for r in rows])
    err = [med - np.array([r["learned_q16"] for r in rows]), np.array([r["learned_q84"] for r in rows]) - med]
    ax.errorbar(wt, med, yerr=err, fmt="o", color="tab:purple", label="R-ANODE learned $w$ (median, 16-84 %)")
    lim = max(wt.max(), med.max()) * 1.15 + 1e-4
    ax.plot([0, lim], [0, lim], color="k", ls="--", label="$w$ = true $w$")
    ax.set_xlim(-0.03 * lim, lim)
    ax.set_ylim(0, lim)
    ax.set_xlabel(r"True signal fraction $w$ in the SR")
    ax.set_ylabel(r"Learned $w$")
    _no_y_zero_label(ax)
    ax.legend(fontsize=13, loc="upper left", title=rlabel or None, title_fontsize=13)
    plotting.label(ax, text="")
    return plotting.save(fig, path)


def _low_injection_mean(agg: dict, method: str, n_bg: int, max_s_over_sqrt_b: float) -> float:
    rows = [r for r in agg["max_sic"][method] if 0 < r["n_sig"] / math.sqrt(n_bg) <= max_s_over_sqrt_b]
    return float(np.mean([r["median"] for r in rows])) if rows else None  # None: no injection in range


def ranode_report(scans: list[dict], cfg: Config, max_sic_png: str | Path, curves_png: str | Path,
                  w_png: str | Path) -> dict:
    """R-ANODE study: the three figures and the metrics (for metrics.json) from the per-seed scans (the
    configured methods only: studies.ranode.methods)."""
    methods = list(cfg.methods)
    agg = aggregate(scans, methods)
    figure_methods = [m for m in RANODE_FIGURE_METHODS if m in methods]
    n_bg = scans[0]["n_background_sr"]
    rl = f"{n_bg} SR bkg, {len(scans)} seeds"
    curve = next((s for s in scans if s.get("curves")), None)
    if curve is not None:
        plot_sic_curves(curve, curves_png, rlabel=f"$N_{{sig}}$ = {cfg.curve_injection}, seed {curve['seed']}",
                        min_bkg_pass=cfg.min_bkg_pass, methods=figure_methods)
    ceiling = math.sqrt(scans[0]["n_test_background"] / cfg.min_bkg_pass)
    plot_max_sic(agg, n_bg, max_sic_png, rlabel=rl, ceiling=ceiling, methods=figure_methods)
    plot_w(agg, w_png, rlabel=rl)
    lim = cfg.low_injection_s_over_sqrt_b
    low = {m: _low_injection_mean(agg, m, n_bg, lim) for m in methods}
    zero = {m: next((r["median"] for r in agg["max_sic"][m] if r["n_sig"] == 0), None) for m in methods}
    big = max(agg["injections"])
    from .methods import per_seed

    paired = {m: per_seed(scans, m, 0.0, lim) for m in methods}
    return {
        "low_injection_per_seed_max_sic": paired,
        "zero_injection_per_seed_max_sic": {m: per_seed(scans, m, -1.0, 0.0) for m in methods},
        "max_sic": agg["max_sic"], "learned_w": agg["w"], "injections": agg["injections"],
        "n_background_sr_data": n_bg, "n_test_background": scans[0]["n_test_background"],
        "n_test_signal": scans[0]["n_test_signal"], "seeds": [s["scan_seed"] for s in scans],
        "low_injection_mean_max_sic": low, "low_injection_max_s_over_sqrt_b": lim,
        "zero_injection_median_max_sic": zero,
        "sic_ceiling_of_test_set": ceiling,
        "largest_injection_median_max_sic": {m: agg["max_sic"][m][-1]["median"] for m in methods},
        "largest_injection": big,
        "cpu_seconds_per_method": agg["cpu_seconds_per_method"],
        "reduced_vs_paper": cfg.reduced_vs_paper,
    }
