"""Classifier surrogates with conditional flow matching (arXiv:2402.15558), in
miniature: a Deep Sets top tagger, an ensemble of CNF surrogates of its output
given high-level jet features, and their spread out of distribution. The
science is in :mod:`.core`."""

from __future__ import annotations

from dataclasses import dataclass

from ...study import Step, Study, Verdict
from ...verdict import Comparison


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
    calibration_tolerance: float
    excess_margin: float


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """The surrogate against the true classifier (ROC AUC within ``auc_tolerance``)
    and against calibrated surrogate samples (coverage within
    ``calibration_tolerance`` of the noise floor); its ensemble against the
    Monte Carlo noise floor of identical members (the null: spread above the
    noise by ``excess_margin``) and against itself in distribution (the spread
    above the noise grows out of distribution). Errors: a paired bootstrap of
    the test jets; margins at 2 standard errors."""
    m = metrics
    nb, lam = m["n_bootstrap"], m["ood_scales"][-1]
    comps = [
        Comparison.within("the true classifier", "ROC AUC (surrogate - classifier)", m["auc_surrogate"],
                          m["auc_true_classifier"], m["auc_difference_error"], tolerance=cfg.auc_tolerance, n=nb,
                          over="bootstrap", reason="the paper: the surrogate ROC matches the classifier's; "
                          f"{cfg.auc_tolerance:g} in AUC is the configured tolerance"),
        Comparison.within("calibrated samples (noise floor)", "mean |coverage - noise-floor coverage| over levels",
                          m["calibration_deviation"], 0.0, m["calibration_deviation_error"],
                          tolerance=cfg.calibration_tolerance, n=nb, over="bootstrap",
                          reason="a held-out surrogate sample is calibrated by construction, so its coverage is "
                          "the noise floor; the paper's calibration curves lie within a few per cent of it"),
        Comparison.estimate("identical members (Monte Carlo noise of an n-sample mean)",
                            f"between-member variance / noise floor - 1 at scale {lam:g}",
                            m["excess_over_noise_largest_ood"], 0.0, m["excess_over_noise_largest_ood_error"], n=nb,
                            over="bootstrap", margin=cfg.excess_margin, null=True,
                            reason="identical members give 0 in expectation (ANOVA); the spread must exceed the "
                            f"noise of a {m['n_samples']}-sample mean by {cfg.excess_margin:g} of it"),
        Comparison.estimate("the ensemble in distribution", f"spread above the noise floor, scale {lam:g} - 1",
                            m["epistemic_spread_ood"][-1], m["epistemic_spread_in_distribution"],
                            m["epistemic_growth_error"], n=nb, over="bootstrap",
                            reason="the paper: the ensemble uncertainty grows out of distribution"),
    ]
    return Verdict.of(comps, key_metric={"name": "AUC surrogate - AUC classifier",
                                         "value": round(m["auc_difference"], 4)})


STUDY = Study(
    name="classifier_surrogates",
    paper="arXiv:2402.15558",
    title="Classifier surrogate: conditional flow matching of a jet tagger's output from high-level features",
    claim="the surrogate reproduces the classifier's ROC AUC within tolerance, its intervals are calibrated, and "
          "its ensemble spread grows out of distribution (above the Monte Carlo noise of identical members)",
    config=Config,
    steps=(Step("run", inputs=("vectors", "points", "mask", "labels"), outputs=("metrics", "png", "pdf"),
                env="torch", gpu=True, mem_mb=8000, runtime=120,
                doc="train the tagger and the surrogate ensemble on the toptag jets, evaluate, plot, judge"),),
    figures=("classifier_surrogates",),
    category="Conditional flows for inference",
    verdict=verdict,
)
