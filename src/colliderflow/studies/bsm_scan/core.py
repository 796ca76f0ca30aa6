"""BSM parameter scan with a conditional flow (arXiv:2409.13201, in miniature).

Toy BSM model with two parameters theta = (m, g): a resonance of mass m (TeV)
whose width grows with the coupling g, decaying to a system whose transverse
momentum scale also grows with g. Each event has x = (m_reco, pT/m_reco)
(non-Gaussian: a Student-t mass tail, Gamma-distributed pT, correlated).
A conditional flow p(x | theta) is trained on a grid of theta; for observed
data at an off-grid theta*, the best fit maximises the summed log-likelihood
by gradient ascent (Adam) from several starts, the uncertainty is the inverse
Hessian, and a brute-force grid scan of the same likelihood cross-checks it.
Coverage of the Hessian intervals is measured over pseudo-experiments.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy.stats import chi2

from ...errors import InputError
from ...nn.flow_fit import train_flow

PARAMS = ("m", "g")


def generate(theta: ArrayLike, n_per: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n_per`` events for each row of ``theta`` (K, 2); returns (x (K*n_per, 2),
    theta repeated (K*n_per, 2))."""
    theta = np.atleast_2d(np.asarray(theta, dtype=float))
    if theta.shape[1] != 2 or np.any(theta <= 0):
        raise InputError(None, "theta", "need positive (m, g) pairs")
    rng = np.random.default_rng(seed)
    th = np.repeat(theta, n_per, axis=0)
    m, g = th[:, 0], th[:, 1]
    width = 0.05 * m + 0.1 * g**2 * m  # resolution (+) coupling-driven width
    mass = m + width * rng.standard_t(5, len(m))
    pt_frac = rng.gamma(2.0 + g, 0.08 * g, len(m))
    mass = mass + 0.1 * m * (pt_frac - (2.0 + g) * 0.08 * g)  # kinematic correlation
    x = np.stack([mass, pt_frac], axis=1)
    return x.astype(np.float32), th.astype(np.float32)


class ExactLikelihood(torch.nn.Module):
    """The toy's exact density p(x | m, g) of :func:`generate` (Gamma pT/m times
    a Student-t mass given pT): the oracle the flow is measured against. Same
    interface as a conditional flow in :func:`gradient_fit` (``log_prob(x, c)``,
    the parameters' standardisation ``c_mean``, ``c_std``)."""

    def __init__(self, c_mean: torch.Tensor, c_std: torch.Tensor) -> None:
        super().__init__()
        self.c_mean, self.c_std = c_mean, c_std

    def log_prob(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        m, g = c[:, 0], c[:, 1]
        mass, pt = x[:, 0], x[:, 1]
        width = 0.05 * m + 0.1 * g**2 * m
        shape, scale = 2.0 + g, 0.08 * g
        lp_pt = torch.distributions.Gamma(shape, 1.0 / scale).log_prob(pt.clamp_min(1e-12))
        t = (mass - m - 0.1 * m * (pt - shape * scale)) / width
        return lp_pt + torch.distributions.StudentT(5.0).log_prob(t) - torch.log(width)


def publish(res: dict, cfg: dict, out_dir: str | Path, metrics: dict) -> dict:
    """The trained flow as ONNX with its model card and a frozen validation set
    (the observed events at theta*), re-run in onnxruntime
    (:func:`colliderflow.publish.publish_checked`); returns the check record."""
    from ...nn.flows import publish_flow

    x = res["x_obs"][:256]
    theta = np.repeat(res["truth"][None], len(x), 0)
    return publish_flow(
        res["flow"], {"x": x, "theta": theta}, out_dir, name="bsm_scan conditional flow",
        description="log p(x | m, g) of the toy BSM resonance (arXiv:2409.13201 in miniature): sum it over events "
                    "and maximise over theta for the best fit; the Hessian gives the errors",
        input_specs={"x": {"units": "(TeV, 1)", "preprocessing": "none: x = (m_reco, pT / m_reco)"},
                     "theta": {"units": "(TeV, 1)", "preprocessing": "none: theta = (m, g)"}},
        training_data={"generator": "colliderflow.studies.bsm_scan.core.generate",
                       "grid": [cfg["grid_points"], cfg["grid_points"]], "m_range": list(cfg["m_range"]),
                       "g_range": list(cfg["g_range"]), "events_per_point": cfg["events_per_point"]},
        metrics={k: metrics[k] for k in ("coverage_1sigma_2d", "pull_std", "flow_best_val_nll")})


def theta_grid(m_range: Sequence[float], g_range: Sequence[float], n_m: int, n_g: int) -> np.ndarray:
    mm, gg = np.meshgrid(np.linspace(*m_range, n_m), np.linspace(*g_range, n_g), indexing="ij")
    return np.stack([mm.ravel(), gg.ravel()], axis=1)


def loglik(flow: torch.nn.Module, x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Summed log-likelihood for each row of ``theta`` (T, 2) given data ``x``
    (N, 2) (or x (T, N, 2)); returns (T,)."""
    t = theta.reshape(-1, 2)
    if x.dim() == 2:
        x = x.expand(len(t), *x.shape)
    n = x.shape[1]
    lp = flow.log_prob(x.reshape(-1, 2), t.repeat_interleave(n, 0))
    return lp.reshape(len(t), n).sum(1)


def grid_scan(flow: torch.nn.Module, x: ArrayLike, m_range: Sequence[float], g_range: Sequence[float], n: int,
              chunk: int = 64) -> dict:
    """Brute-force scan of the summed log-likelihood on an n x n grid."""
    grid = theta_grid(m_range, g_range, n, n)
    x = torch.as_tensor(x)
    vals = []
    with torch.no_grad():
        for i in range(0, len(grid), chunk):
            vals.append(loglik(flow, x, torch.as_tensor(grid[i:i + chunk], dtype=torch.float32)))
    ll = torch.cat(vals).numpy().reshape(n, n)
    i, j = np.unravel_index(np.argmax(ll), ll.shape)
    return {"m": np.linspace(*m_range, n), "g": np.linspace(*g_range, n), "loglik": ll,
            "best": np.array([np.linspace(*m_range, n)[i], np.linspace(*g_range, n)[j]])}


def gradient_fit(flow: torch.nn.Module, x: ArrayLike, starts: ArrayLike, lo: ArrayLike, hi: ArrayLike,
                 steps: int = 150, lr: float = 0.05) -> dict:
    """Gradient ascent (Adam, in units of the grid's standardisation) on the summed
    log-likelihood of ``x`` (B, N, 2) or (N, 2) from each start (S, 2), all
    optimised together. Returns the best fit per data set, the paths and the
    Hessian covariance."""
    x = torch.as_tensor(x)
    batched = x.dim() == 3
    xb = x if batched else x[None]
    starts = torch.as_tensor(np.asarray(starts), dtype=torch.float32)
    B, S = len(xb), len(starts)
    scale, offset = flow.c_std, flow.c_mean
    lo_t, hi_t = torch.as_tensor(lo, dtype=torch.float32), torch.as_tensor(hi, dtype=torch.float32)
    u = ((starts - offset) / scale).repeat(B, 1).clone().requires_grad_(True)  # (B*S, 2)
    xs = xb.repeat_interleave(S, 0)  # (B*S, N, 2)
    opt = torch.optim.Adam([u], lr=lr)
    path = [u.detach() * scale + offset]
    for _ in range(steps):
        opt.zero_grad()
        nll = -loglik(flow, xs, u * scale + offset).sum()
        nll.backward()
        opt.step()
        with torch.no_grad():
            u.copy_(torch.maximum(torch.minimum(u * scale + offset, hi_t), lo_t).sub(offset).div(scale))
        path.append(u.detach() * scale + offset)
    theta = (u.detach() * scale + offset).reshape(B, S, 2)
    with torch.no_grad():
        final_ll = loglik(flow, xs, theta.reshape(-1, 2)).reshape(B, S)
    best = final_ll.argmax(1)
    theta_hat = theta[torch.arange(B), best]
    cov = np.stack([hessian_cov(flow, xb[b], theta_hat[b]) for b in range(B)])
    paths = torch.stack(path).reshape(len(path), B, S, 2).numpy()
    out = {"theta": theta_hat.numpy(), "cov": cov, "loglik": final_ll[torch.arange(B), best].numpy(),
           "paths": paths, "start_theta": theta.numpy(), "start_loglik": final_ll.numpy()}
    if not batched:
        out.update(theta=out["theta"][0], cov=cov[0], loglik=out["loglik"][0], paths=paths[:, 0])
    return out


def hessian_cov(flow: torch.nn.Module, x: ArrayLike, theta: ArrayLike) -> np.ndarray:
    """Covariance = inverse of minus the Hessian of the summed log-likelihood."""
    x = torch.as_tensor(x)
    h = torch.autograd.functional.hessian(lambda t: loglik(flow, x, t[None])[0],
                                          torch.as_tensor(theta, dtype=torch.float32))
    h = h.double().numpy()
    try:
        cov = np.linalg.inv(-h)
    except np.linalg.LinAlgError:
        return np.full((2, 2), np.nan)
    if np.any(np.linalg.eigvalsh(cov) <= 0):
        return np.full((2, 2), np.nan)
    return cov


def run(cfg: dict, seed: int) -> dict:
    """Generate, train, fit, scan and run pseudo-experiments; returns every
    number and array the metrics and the figure need."""
    m_range, g_range = tuple(cfg["m_range"]), tuple(cfg["g_range"])
    truth = np.asarray(cfg["theta_true"], dtype=float)
    lo, hi = np.array([m_range[0], g_range[0]]), np.array([m_range[1], g_range[1]])
    if np.any(truth <= lo) or np.any(truth >= hi):
        raise InputError("config", "studies.bsm_scan.theta_true",
                         f"must lie inside m_range {m_range} and g_range {g_range}")
    grid = theta_grid(m_range, g_range, cfg["grid_points"], cfg["grid_points"])
    x, th = generate(grid, cfg["events_per_point"], seed)
    flow, hist = train_flow(x, th, kind=cfg["kind"], transforms=cfg["transforms"], hidden=cfg["hidden"],
                            epochs=cfg["epochs"], seed=seed, desc="bsm flow")
    for p in flow.parameters():
        p.requires_grad_(False)
    x_obs, _ = generate(truth, cfg["n_observed"], seed + 1)
    rng = np.random.default_rng(seed + 2)
    starts = np.column_stack([rng.uniform(*m_range, cfg["n_starts"]), rng.uniform(*g_range, cfg["n_starts"])])
    fit_obs = gradient_fit(flow, x_obs, starts, lo, hi, steps=cfg["steps"])
    scan = grid_scan(flow, x_obs, m_range, g_range, cfg["scan_points"])
    # pseudo-experiments at theta* (one start: the middle of the grid), fitted with the trained flow, the
    # toy's exact likelihood (the oracle) and the untrained flow (the null: the same network before training)
    xs, _ = generate(np.repeat(truth[None], cfg["pseudo_experiments"], 0), cfg["n_observed"], seed + 3)
    xs = xs.reshape(cfg["pseudo_experiments"], cfg["n_observed"], 2)
    mid = ((lo + hi) / 2)[None]
    pe = {"flow": pseudo_experiments(flow, xs, truth, mid, lo, hi, cfg["steps"]),
          "exact": pseudo_experiments(ExactLikelihood(flow.c_mean, flow.c_std), xs, truth, mid, lo, hi, cfg["steps"])}
    untrained = untrained_flow(x, th, cfg, seed)
    pe["untrained"] = pseudo_experiments(untrained, xs[:cfg["null_pseudo_experiments"]], truth, mid, lo, hi,
                                         cfg["steps"])
    return {"flow": flow, "history": hist, "x_obs": x_obs, "fit": fit_obs, "scan": scan, "truth": truth,
            "pe": pe, "pulls": pe["flow"]["pulls"], "q": pe["flow"]["q"], "n_pe_valid": pe["flow"]["n_valid"],
            "lo": lo, "hi": hi}


def untrained_flow(x: ArrayLike, th: ArrayLike, cfg: dict, seed: int) -> torch.nn.Module:
    """The flow of :func:`run` as initialised, before any training step (same
    architecture, standardisation and seed): the null control."""
    from ...nn.flows import StandardizedFlow

    torch.manual_seed(seed)
    flow = StandardizedFlow.fitted_to(torch.as_tensor(x), torch.as_tensor(th), kind=cfg["kind"],
                                      transforms=cfg["transforms"], hidden=tuple(cfg["hidden"]))
    for p in flow.parameters():
        p.requires_grad_(False)
    return flow.eval()


def pseudo_experiments(model: torch.nn.Module, xs: np.ndarray, truth: np.ndarray, start: np.ndarray, lo: np.ndarray,
                       hi: np.ndarray, steps: int) -> dict:
    """Fit each pseudo-experiment ``xs`` (B, N, 2) with ``model``'s likelihood:
    pulls and the 2D chi2 q = d C^-1 d of the valid fits (positive-definite
    Hessian covariance), and per pseudo-experiment whether the 2D 68.27 %
    Hessian region covers theta* (a fit without a valid covariance does not
    cover)."""
    pe = gradient_fit(model, xs, start, lo, hi, steps=steps)
    d = pe["theta"] - truth
    ok = np.all(np.isfinite(pe["cov"].reshape(len(d), -1)), axis=1)
    sig = np.sqrt(np.stack([np.diagonal(c) for c in pe["cov"]]))
    q = np.full(len(d), np.inf)
    if ok.any():
        q[ok] = np.einsum("bi,bij,bj->b", d[ok], np.linalg.inv(pe["cov"][ok]), d[ok])
    return {"pulls": (d / sig)[ok], "q": q[ok], "covered": q < chi2.ppf(0.6827, 2), "n_valid": int(ok.sum()),
            "n": len(d), "theta": pe["theta"], "cov": pe["cov"]}


def coverage_stats(covered: ArrayLike, pulls: ArrayLike, nominal: float = 0.6827) -> dict:
    """Coverage of the pseudo-experiments with its binomial error at the nominal
    rate, and the pull widths with their errors (std / sqrt(2 (n - 1)))."""
    covered = np.asarray(covered, dtype=float)
    pulls = np.asarray(pulls, dtype=float).reshape(-1, 2)
    n, nv = len(covered), len(pulls)
    width = pulls.std(0, ddof=1) if nv > 1 else np.full(2, np.inf)
    return {"coverage": float(covered.mean()), "coverage_error": float(np.sqrt(nominal * (1 - nominal) / n)),
            "n": n, "n_valid": nv, "pull_mean": (pulls.mean(0) if nv else np.full(2, np.nan)).tolist(),
            "pull_width": width.tolist(),
            "pull_width_error": (width / np.sqrt(2 * max(nv - 1, 1))).tolist()}


def summarise(res: dict, cfg: dict) -> dict:
    """The metrics of the claims (judged by :func:`colliderflow.studies.bsm_scan.verdict`):
    the gradient fit recovers theta* within 2 sigma (chi2 of 2 d.o.f. below its
    2-sigma quantile), the grid scan's maximum lies within one grid step + 1 sigma
    of the gradient fit in each parameter, and the 1-sigma coverage over
    pseudo-experiments is within 3 binomial standard errors of 68.3 %."""
    f, s, truth = res["fit"], res["scan"], res["truth"]
    cov = f["cov"]
    sig = np.sqrt(np.diag(cov))
    d = f["theta"] - truth
    q_obs = float(d @ np.linalg.inv(cov) @ d) if np.all(np.isfinite(cov)) else float("inf")
    q95 = float(chi2.ppf(0.9545, 2))
    step = np.array([np.diff(s["m"])[0], np.diff(s["g"])[0]])
    grid_agrees = bool(np.all(np.abs(s["best"] - f["theta"]) <= step + sig))
    stats = {k: coverage_stats(v["covered"], v["pulls"]) for k, v in res["pe"].items()}
    # the null: per pseudo-experiment, chi2 of each model's best fit to theta* in the exact likelihood's
    # covariance (the oracle's errors), paired on the pseudo-experiments the untrained flow fitted
    pe = res["pe"]
    k = pe["untrained"]["n"]
    cov_ex = pe["exact"]["cov"][:k]
    ok = np.all(np.isfinite(cov_ex.reshape(k, -1)), axis=1)
    inv = np.linalg.inv(cov_ex[ok])
    q_or = {m: np.einsum("bi,bij,bj->b", d, inv, d)
            for m in ("flow", "untrained") for d in [(pe[m]["theta"][:k] - truth)[ok]]}
    diff = q_or["untrained"] - q_or["flow"]
    null = {"chi2_oracle_flow": float(q_or["flow"].mean()), "chi2_oracle_untrained": float(q_or["untrained"].mean()),
            "difference": float(diff.mean()), "error": float(diff.std(ddof=1) / np.sqrt(len(diff))),
            "n": int(len(diff))}
    recovered = bool(q_obs < q95)
    metrics = {
        "theta_true": truth.tolist(), "theta_hat": f["theta"].tolist(), "sigma": sig.tolist(),
        "correlation": float(cov[0, 1] / (sig[0] * sig[1])), "pull": (d / sig).tolist(),
        "chi2_obs_2dof": q_obs, "chi2_2sigma_threshold": q95, "recovered_within_2sigma": recovered,
        "grid_best": s["best"].tolist(), "grid_step": step.tolist(), "grid_agrees": grid_agrees,
        "grid_distance_in_steps": float(np.max(np.abs(s["best"] - f["theta"]) / step)),
        "starts_converged_to_best": int(np.sum(np.all(np.abs(f["start_theta"][0] - f["theta"]) < sig, axis=1))),
        "n_starts": int(len(f["start_theta"][0])),
        "coverage_1sigma_2d": stats["flow"]["coverage"], "coverage_nominal": 0.6827,
        "coverage_error": stats["flow"]["coverage_error"], "pseudo_experiments": stats["flow"]["n"],
        "pull_mean": stats["flow"]["pull_mean"], "pull_std": stats["flow"]["pull_width"],
        "pseudo_experiment_fits": stats, "null_chi2_oracle": null,
        "flow_best_val_nll": res["history"]["best_val"], "flow_epochs_run": len(res["history"]["val_loss"]),
        "n_observed": cfg["n_observed"], "training_grid": [cfg["grid_points"], cfg["grid_points"]],
    }
    return metrics


def plot(res: dict, path: str | Path, rlabel: str = "") -> list:
    from ... import plotting

    plotting.style()
    import matplotlib.pyplot as plt
    from matplotlib.patches import Ellipse

    f, s, truth = res["fit"], res["scan"], res["truth"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(19, 8), gridspec_kw={"width_ratios": [1.25, 1], "wspace": 0.35})
    q = -2 * (s["loglik"] - s["loglik"].max())
    cs = ax.contourf(s["m"], s["g"], np.log10(1 + q).T, levels=np.linspace(0, np.log10(1 + q.max()), 30),
                     cmap="viridis_r")
    fig.colorbar(cs, ax=ax, label=r"grid scan: $\log_{10}(1-2\Delta\ln L)$", format="%.1f")
    ax.contour(s["m"], s["g"], q.T, levels=[chi2.ppf(0.6827, 2), chi2.ppf(0.9545, 2)], colors="w",
               linestyles=["-", "--"])
    paths = f["paths"]
    for k in range(paths.shape[1]):
        ax.plot(paths[:, k, 0], paths[:, k, 1], "-", color="tab:red", lw=1.5, alpha=0.8,
                label="gradient ascent paths" if k == 0 else None)
        ax.plot(paths[0, k, 0], paths[0, k, 1], "o", color="tab:red", ms=5)
    cov = f["cov"]
    if np.all(np.isfinite(cov)):
        w, v = np.linalg.eigh(cov)
        for nsig, ls in ((chi2.ppf(0.6827, 2), "-"), (chi2.ppf(0.9545, 2), "--")):
            ax.add_patch(Ellipse(f["theta"], *(2 * np.sqrt(w * nsig)), angle=np.degrees(np.arctan2(v[1, 1], v[0, 1])),
                                 fill=False, color="tab:orange", ls=ls, lw=2))
    ax.plot(*f["theta"], "X", color="tab:orange", ms=14, label="best fit (Hessian 1, 2$\\sigma$)")
    ax.plot(*s["best"], "s", color="w", mfc="none", ms=12, mew=2, label="grid-scan maximum")
    ax.plot(*truth, "*", color="k", ms=20, label=r"truth $\theta^*$")
    ax.set_xlabel(r"resonance mass $m$ [TeV]")
    ax.set_ylabel(r"coupling $g$")
    ax.legend(loc="upper right", fontsize=13, framealpha=0.8, title=rlabel, title_fontsize=13)
    plotting.label(ax, "")
    bins = np.linspace(-4, 4, 17)
    top = 1 / np.sqrt(2 * np.pi)  # the N(0, 1) peak
    for i, (name, col) in enumerate(zip(("m", "g"), ("tab:blue", "tab:green"))):
        p = res["pulls"][:, i]
        dens, _, _ = ax2.hist(p, bins, histtype="step", lw=2, color=col, density=True,
                              label=f"pull {name}: mean {p.mean():.2f}, std {p.std():.2f}")
        top = max(top, float(np.max(dens, initial=0)))
    ax2.set_ylim(0, 1.5 * top)  # the legend sits in the headroom, above the histograms
    xx = np.linspace(-4, 4, 200)
    ax2.plot(xx, np.exp(-xx**2 / 2) / np.sqrt(2 * np.pi), "k--", label="N(0, 1)")
    ax2.set_xlabel(r"pull $(\hat\theta-\theta^*)/\sigma_{\rm Hessian}$")
    ax2.set_ylabel("pseudo-experiments (normalised)")
    cov1 = float(np.mean(res["pe"]["flow"]["covered"]))
    ax2.set_title(f"2D 68% coverage: {cov1:.2f} ({len(res['pe']['flow']['covered'])} pseudo-experiments)",
                  fontsize=16)
    ax2.legend(fontsize=13, loc="upper left")
    return plotting.save(fig, path)


def rlabel(metrics: dict) -> str:
    return f"{metrics['n_observed']} events"
