"""Communicating likelihoods with normalizing flows (Araz et al., the nabu
tool), in miniature: a flow fitted to a toy posterior, accepted only if
goodness-of-fit tests pass, and exported self-contained. The science is in
:mod:`.core`."""

from __future__ import annotations

from dataclasses import dataclass

from ...study import Step, Study, Verdict

#: largest |log p| difference between the reloaded export and the stored reference
RELOAD_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Config:
    n_train: int
    n_validation: int
    transforms: int
    hidden: tuple[int, ...]
    epochs: int
    undertrained_epochs: int
    max_attempts: int
    alpha: float
    auc_max: float


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """The trained flow is accepted and reloads exactly; the under-trained one is rejected."""
    diff = metrics["reload_max_abs_diff"]
    reload_ok = diff is not None and diff < RELOAD_TOLERANCE
    holds = metrics["accepted"] and not metrics["undertrained_accepted"] and reload_ok
    return Verdict(holds=bool(holds), key_metric={"name": "classifier-test AUC of the accepted flow",
                                                  "value": round(metrics["gof_accepted"]["classifier_auc"], 4)})


STUDY = Study(
    name="likelihood_flows",
    paper="Araz et al. (nabu: likelihoods with flows)",
    title="Likelihood communication: flow fit to a toy posterior, goodness-of-fit gated export",
    claim="a trained flow passes the latent chi2 KS, per-dimension KS and classifier tests and is exported "
          "self-contained, while an under-trained flow fails them",
    config=Config,
    steps=(Step("run", outputs=("metrics", "png", "pdf"), env="torch", gpu=True, mem_mb=8000, runtime=120,
                doc="fit, goodness-of-fit gate, export (results/likelihood_flows/export/), plot, judge"),),
    figures=("likelihood_flows",),
    category="Conditional flows for inference",
    verdict=verdict,
)
