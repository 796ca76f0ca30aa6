"""The worked example of docs/adding-a-study.md: a complete study in four
files, small enough to read in one go and run in seconds (the test suite runs
it through Snakemake).

The "paper" claims that for Gaussian data the sample mean estimates the
centre more precisely than the sample median (asymptotic efficiency of the
median 2/pi, a spread ratio sqrt(pi/2)). The toy draws ``n_experiments``
pseudo-experiments of ``n_events`` values. The verdict shows the pattern of
every study: the method (the sample mean) against the paper's competitor (the
sample median) and against the naive alternative (one draw, no averaging: the
null), each with a bootstrap error over the pseudo-experiments and a stated
margin, plus the paper's quantitative value within a tolerance. With
``distribution: cauchy`` the claim must fail (the mean of Cauchy draws is as
wide as one draw): the test suite checks that the verdict says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...study import Step, Study, Verdict
from ...verdict import Comparison


@dataclass(frozen=True)
class Config:
    distribution: str
    n_events: int
    n_experiments: int
    n_bootstrap: int
    margin: float
    tolerance: float


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """The mean against the median (the competitor) and against a single draw
    (the null): each spreads more than the mean by more than ``margin``
    bootstrap standard errors; and the spread ratio median / mean is
    sqrt(pi/2) within ``tolerance`` (at 2 standard errors)."""
    m = metrics
    ratio, single = m["spread_ratio"], m["spread_ratio_single_draw"]
    n = m["n_bootstrap"]
    return Verdict.of([
        Comparison.estimate("sample median", "spread ratio median / mean", ratio, 1.0, m["spread_ratio_error"], n=n,
                            over="bootstrap", k=cfg.margin, reason="the claim: the mean is the more precise"),
        Comparison.within("sqrt(pi/2)", "spread ratio median / mean", ratio, m["expected_ratio_gaussian"],
                          m["spread_ratio_error"], tolerance=cfg.tolerance, n=n, over="bootstrap",
                          reason="the asymptotic efficiency 2/pi of the median; the tolerance allows its "
                          "finite-n correction"),
        Comparison.estimate("a single draw (no averaging)", "spread ratio single draw / mean", single, 1.0,
                            m["spread_ratio_single_draw_error"], n=n, over="bootstrap", k=cfg.margin, null=True,
                            reason="averaging must help at all (for Cauchy draws it does not)"),
    ], key_metric={"name": "spread(median) / spread(mean)", "value": round(ratio, 3)})


STUDY = Study(
    name="example",
    paper="worked example (docs/adding-a-study.md)",
    title="Mean vs median as estimators of a Gaussian centre",
    claim="for Gaussian data the sample median spreads more than the sample mean (ratio sqrt(pi/2) = 1.25)",
    config=Config,
    steps=(
        Step("toy", outputs=("events",), env="io", doc="draw the pseudo-experiments"),
        Step("estimate", inputs=("events",), outputs=("metrics", "png", "pdf"), env="plot",
             doc="both estimators per experiment, bootstrap the spread ratio, plot, judge"),
    ),
    figures=("estimators",),
    category="Worked example",
    verdict=verdict,
)
