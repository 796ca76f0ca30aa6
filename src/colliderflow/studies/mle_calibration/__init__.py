"""Maximum-likelihood calorimeter calibration with a conditional flow (Du,
Krause, Mikuni, Nachman, Pang, Shih), in miniature: flow MLE vs a direct
regression, each trained under two priors of the incident energy. The science
is in :mod:`.core`."""

from __future__ import annotations

from dataclasses import dataclass

from ...study import Step, Study, Verdict


@dataclass(frozen=True)
class Config:
    n_layers: int
    sampling: float
    e_min: float
    e_max: float
    test_e_min: float
    test_e_max: float
    test_energies: int
    n_test_per_energy: int
    priors: tuple[str, ...]
    mismatched_prior: str
    n_train: int
    transforms: int
    hidden: tuple[int, ...]
    epochs: int


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """Under the mismatched prior the MLE is less biased than the regression, and
    its bias moves less between the two priors."""
    mm = metrics["mismatched_prior"]
    mle, reg = metrics[f"mle_{mm}_mean_abs_bias"], metrics[f"regression_{mm}_mean_abs_bias"]
    holds = mle < reg and metrics["mle_prior_shift"] < metrics["regression_prior_shift"]
    return Verdict(holds=bool(holds), key_metric={"name": f"mean |bias| MLE / regression ({mm} prior)",
                                                  "value": round(mle / max(reg, 1e-12), 4)})


STUDY = Study(
    name="mle_calibration",
    paper="Du, Krause, Mikuni, Nachman, Pang, Shih (MLE calibration)",
    title="Calorimeter energy calibration: flow maximum likelihood vs regression under two priors",
    claim="the maximum-likelihood energy from a conditional flow is prior-independent and less biased than a "
          "direct regression under a mismatched training prior",
    config=Config,
    steps=(Step("run", outputs=("metrics", "png", "pdf"), env="torch", gpu=True, mem_mb=8000, runtime=120,
                doc="train flow and regression under both priors, calibrate the test showers, plot, judge"),),
    figures=("mle_calibration",),
    category="Conditional flows for inference",
    verdict=verdict,
)
