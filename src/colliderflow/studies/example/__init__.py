"""The worked example of docs/adding-a-study.md: a complete study in four
files, small enough to read in one go and run in seconds (the test suite runs
it through Snakemake).

The "paper" claims that for Gaussian data the sample mean estimates the
centre more precisely than the sample median (asymptotic efficiency of the
median 2/pi). The toy draws ``n_experiments`` pseudo-experiments of
``n_events`` values; the verdict compares the spread of the two estimators
with a bootstrap error and a stated margin. With ``distribution: cauchy``
the claim must fail (the mean of Cauchy data does not converge): the test
suite checks that the verdict says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...study import Step, Study, Verdict


@dataclass(frozen=True)
class Config:
    distribution: str
    n_events: int
    n_experiments: int
    n_bootstrap: int
    margin: float


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """Holds when the median's spread exceeds the mean's by more than
    ``margin`` bootstrap standard errors of the difference."""
    effect, error = metrics["spread_ratio_minus_one"], metrics["spread_ratio_error"]
    return Verdict(holds=bool(effect > cfg.margin * error),
                   key_metric={"name": "spread(median) / spread(mean)", "value": round(metrics["spread_ratio"], 3)})


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
