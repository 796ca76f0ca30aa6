"""Classifier surrogates with conditional flow matching (arXiv:2402.15558), in
miniature: a Deep Sets top tagger, an ensemble of CNF surrogates of its output
given high-level jet features, and their spread out of distribution. The
science is in :mod:`.core`."""

from __future__ import annotations

from dataclasses import dataclass

from ...study import Step, Study, Verdict


@dataclass(frozen=True)
class Config:
    split: tuple[float, ...]
    classifier_hidden: int
    classifier_epochs: int
    surrogate_hidden: tuple[int, ...]
    surrogate_epochs: int
    ensemble: int
    n_samples: int
    ood_scales: tuple[float, ...]
    coverage_levels: tuple[float, ...]
    auc_tolerance: float


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """Surrogate AUC within ``auc_tolerance`` of the classifier's; ensemble spread
    at the largest OOD scale above the in-distribution spread."""
    holds = (abs(metrics["auc_difference"]) <= cfg.auc_tolerance
             and metrics["spread_ood"][-1] > metrics["spread_in_distribution"])
    return Verdict(holds=bool(holds), key_metric={"name": "AUC surrogate - AUC classifier",
                                                  "value": round(metrics["auc_difference"], 4)})


STUDY = Study(
    name="classifier_surrogates",
    paper="arXiv:2402.15558",
    title="Classifier surrogate: conditional flow matching of a jet tagger's output from high-level features",
    claim="the surrogate reproduces the classifier's ROC AUC within tolerance and its ensemble spread grows "
          "out of distribution",
    config=Config,
    steps=(Step("run", inputs=("vectors", "points", "mask", "labels"), outputs=("metrics", "png", "pdf"),
                env="torch", gpu=True, mem_mb=8000, runtime=120,
                doc="train the tagger and the surrogate ensemble on the toptag jets, evaluate, plot, judge"),),
    figures=("classifier_surrogates",),
    category="Conditional flows for inference",
    verdict=verdict,
)
