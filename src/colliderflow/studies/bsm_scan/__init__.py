"""BSM parameter scan with a conditional flow (arXiv:2409.13201, in miniature):
a flow p(x | m, g) trained on a grid of theta, gradient-ascent fit with Hessian
errors at an off-grid theta*, a brute-force grid scan and coverage over
pseudo-experiments. The science is in :mod:`.core`."""

from __future__ import annotations

from dataclasses import dataclass
from math import hypot

from ...study import Step, Study, Verdict
from ...verdict import Comparison


@dataclass(frozen=True)
class Config:
    m_range: tuple[float, ...]
    g_range: tuple[float, ...]
    theta_true: tuple[float, ...]
    grid_points: int
    events_per_point: int
    kind: str
    transforms: int
    hidden: tuple[int, ...]
    epochs: int
    n_observed: int
    n_starts: int
    steps: int
    scan_points: int
    pseudo_experiments: int
    null_pseudo_experiments: int
    coverage_tolerance: float
    pull_width_tolerance: float


NOMINAL = 0.6827


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """The trained flow's fit against theta* (chi2 below its 2-sigma quantile),
    against the brute-force grid scan (within one grid step), and over
    pseudo-experiments against the nominal 68.27 % coverage and unit pull
    widths (within stated tolerances at 2 binomial / sampling errors); against
    the untrained flow (the null: its fits must be further from theta*, paired).
    The exact likelihood's coverage is shown for context (the oracle)."""
    m = metrics
    pe = m["pseudo_experiment_fits"]
    fl, ex, nl = pe["flow"], pe["exact"], m["null_chi2_oracle"]
    tol, wtol = cfg.coverage_tolerance, cfg.pull_width_tolerance
    dev = {k: abs(v["coverage"] - NOMINAL) for k, v in pe.items()}
    cov_reason = (f"coverage tolerance {tol:g}: a pull width of 1.5 in both parameters covers 40 % "
                  "(1 - exp(-1.15 / 1.5^2)), 0.28 from nominal, and fails; 1.2 covers 55 % and fails at 2 SE "
                  "with >= 200 pseudo-experiments")
    comps = [
        Comparison.estimate("theta*", "chi2 (2 dof) of the best fit to theta*", m["chi2_obs_2dof"], None, 0.0,
                            n=1, over="exact", margin=-m["chi2_2sigma_threshold"], higher_is_better=False,
                            reason="the paper: recovers theta* within 2 sigma (chi2 2 dof < 6.18)"),
        Comparison.within("brute-force grid scan", "max |gradient fit - grid maximum| in grid steps",
                          m["grid_distance_in_steps"], 0.0, 0.0, tolerance=1.0, n=1, over="exact",
                          reason="the grid maximum lies on the grid: up to one step from the likelihood's maximum"),
        Comparison.within("nominal 68.27 %", "2D 68.27 % Hessian-region coverage", fl["coverage"], NOMINAL,
                          fl["coverage_error"], tolerance=tol, n=fl["n"], over="pseudo-experiments",
                          reason=cov_reason),
        *[Comparison.within("unit pull width", f"pull width of {p}", fl["pull_width"][i], 1.0,
                            fl["pull_width_error"][i], tolerance=wtol, n=fl["n_valid"], over="pseudo-experiments",
                            reason=f"pull width tolerance {wtol:g}: a Hessian error off by a factor 1.5 fails")
          for i, p in enumerate(("m", "g"))],
        Comparison.estimate("untrained flow", "chi2 of the best fit to theta* in the exact likelihood's errors",
                            nl["chi2_oracle_flow"], nl["chi2_oracle_untrained"], nl["error"], n=nl["n"],
                            over="pseudo-experiments", higher_is_better=False, null=True,
                            reason="the same network before training (paired pseudo-experiments): the training "
                            "must bring the fits to theta* (expected chi2: 2)"),
        Comparison.estimate("exact likelihood (oracle)", "|coverage - 68.27 %|", dev["flow"], dev["exact"],
                            float(hypot(fl["coverage_error"], ex["coverage_error"])), n=ex["n"],
                            over="pseudo-experiments", higher_is_better=False, margin=-tol, required=False,
                            reason="context: what the toy's true density achieves on the same pseudo-experiments"),
    ]
    return Verdict.of(comps, key_metric={"name": "2D 68% coverage (pseudo-experiments)",
                                         "value": round(fl["coverage"], 3)})


STUDY = Study(
    name="bsm_scan",
    paper="arXiv:2409.13201",
    title="BSM parameter scan with a conditional flow p(x | m, g): gradient fit, Hessian errors, grid scan",
    claim="gradient ascent on the flow likelihood recovers theta* within 2 sigma, agrees with a brute-force grid "
          "scan, and its Hessian intervals cover at the nominal rate",
    config=Config,
    steps=(Step("run", outputs=("metrics", "png", "pdf", "onnx", "card"), env="torch", gpu=True, mem_mb=8000,
                runtime=120,
                doc="generate, train the conditional flow, fit, scan, pseudo-experiments, plot, judge, publish "
                    "the flow's log-likelihood as ONNX"),),
    figures=("bsm_scan",),
    category="Conditional flows for inference",
    verdict=verdict,
)
