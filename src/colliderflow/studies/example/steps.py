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
    means, medians = events.mean(axis=1), np.median(events, axis=1)

    def spread(x: np.ndarray) -> float:  # robust: half the 16-84 % interval
        lo, hi = np.percentile(x, [16, 84])
        return (hi - lo) / 2

    ratio = spread(medians) / spread(means)
    rng = np.random.default_rng(ctx.seed + 1)
    idx = rng.integers(0, len(means), size=(ctx.cfg.n_bootstrap, len(means)))
    boot = np.array([spread(medians[i]) / spread(means[i]) for i in idx])
    plot(means, medians, ctx.output.png)
    ctx.write_metrics({"spread_mean": spread(means), "spread_median": spread(medians), "spread_ratio": ratio,
                       "spread_ratio_minus_one": ratio - 1, "spread_ratio_error": float(boot.std(ddof=1)),
                       "expected_ratio_gaussian": float(np.sqrt(np.pi / 2)), "distribution": ctx.cfg.distribution})


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
