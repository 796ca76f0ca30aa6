"""Steps of the worked example (rules ``example_toy`` and ``example_estimate``)."""

from __future__ import annotations

import numpy as np

from ...errors import InputError
from ...io import atomic_path
from ...study import Context


def toy(ctx: Context) -> None:
    """``n_experiments`` x ``n_events`` draws of the configured distribution, centre 0."""
    rng = np.random.default_rng(ctx.seed)
    shape = (ctx.cfg.n_experiments, ctx.cfg.n_events)
    events = rng.standard_cauchy(shape) if ctx.cfg.distribution == "cauchy" else rng.standard_normal(shape)
    with atomic_path(ctx.output.events) as tmp:
        np.save(tmp, events)


def estimate(ctx: Context) -> None:
    """Mean and median per experiment; their spread ratio with a bootstrap error; figure; verdict."""
    events = np.load(ctx.input.events)
    if not np.isfinite(events).all():
        raise InputError(ctx.input.events, "events", "holds NaN or inf")
    means, medians, single = events.mean(axis=1), np.median(events, axis=1), events[:, 0]

    def spread(x: np.ndarray) -> float:  # robust: half the 16-84 % interval
        lo, hi = np.percentile(x, [16, 84])
        return (hi - lo) / 2

    def ratios(rows: np.ndarray | slice) -> tuple[float, float]:
        s_mean = spread(means[rows])
        return spread(medians[rows]) / s_mean, spread(single[rows]) / s_mean

    ratio, ratio_single = ratios(slice(None))
    rng = np.random.default_rng(ctx.seed + 1)  # a paired bootstrap of the pseudo-experiments
    boot = np.array([ratios(i) for i in rng.integers(0, len(means), size=(ctx.cfg.n_bootstrap, len(means)))])
    plot(means, medians, ctx.output.png)
    ctx.write_metrics({"spread_mean": spread(means), "spread_median": spread(medians),
                       "spread_single_draw": spread(single), "spread_ratio": ratio,
                       "spread_ratio_error": float(boot[:, 0].std(ddof=1)), "spread_ratio_single_draw": ratio_single,
                       "spread_ratio_single_draw_error": float(boot[:, 1].std(ddof=1)),
                       "n_bootstrap": ctx.cfg.n_bootstrap, "expected_ratio_gaussian": float(np.sqrt(np.pi / 2)),
                       "distribution": ctx.cfg.distribution})


def plot(means: np.ndarray, medians: np.ndarray, png: str) -> None:
    """Distributions of the two estimators (PNG and PDF beside it)."""
    import matplotlib.pyplot as plt

    from ... import plotting

    plotting.style()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    lim = np.percentile(np.abs(np.concatenate([means, medians])), 99)
    bins = np.linspace(-lim, lim, 40)
    ax.hist(means, bins=bins, histtype="step", label="sample mean")
    ax.hist(medians, bins=bins, histtype="step", label="sample median")
    ax.set_xlabel("estimate of the centre")
    ax.set_ylabel("pseudo-experiments")
    ax.legend()
    plotting.label(ax, rlabel=f"{len(means)} experiments")
    plotting.save(fig, png)
