"""ELSA (arXiv:2305.07696): an under-trained flow surrogate of Z+2 jets
improved by DCTR reweighting and by LASER (weights pulled back to the latent
space, HMC) (the science: :mod:`.core`)."""

from __future__ import annotations

from dataclasses import dataclass

from ...study import Step, Study, Verdict


@dataclass(frozen=True)
class FlowConfig:
    transforms: int
    hidden: tuple[int, ...]
    bins: int
    epochs: int
    batch_size: int
    lr: float


@dataclass(frozen=True)
class ClassifierConfig:
    hidden: int
    layers: int
    epochs: int
    batch_size: int
    lr: float
    patience: int


@dataclass(frozen=True)
class HMCConfig:
    steps: int
    adapt_steps: int
    n_leapfrog: int
    step_size: float
    target_accept: float


@dataclass(frozen=True)
class AucClassifierConfig:
    n_estimators: int
    max_depth: int
    learning_rate: float


@dataclass(frozen=True)
class Config:
    n_train: int
    n_classifier: int
    n_test: int
    weight_clip: float
    auc_sigmas: float
    flow: FlowConfig
    classifier: ClassifierConfig
    hmc: HMCConfig
    auc_classifier: AucClassifierConfig
    reduced_vs_paper: str


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """LASER AUC below the surrogate's by more than ``auc_sigmas`` combined
    Hanley-McNeil errors, mean chi2/ndf reduced, and chi2/ndf reduced for a
    majority of the observables."""
    chi2 = metrics["mean_chi2_ndf"]
    holds = (metrics["auc_drop_laser"] > cfg.auc_sigmas * metrics["auc_drop_laser_err"]
             and chi2["laser"] < chi2["surrogate"]
             and metrics["observables_improved"]["laser"] > len(metrics["chi2_ndf"]["laser"]) / 2)
    return Verdict(holds=bool(holds), key_metric={"name": "fresh-classifier AUC truth vs LASER-refined surrogate",
                                                  "value": round(metrics["auc"]["laser"]["auc"], 4)})


STUDY = Study(
    name="elsa",
    paper="arXiv:2305.07696",
    title="ELSA: enhanced latent spaces for improved collider simulations",
    claim="latent-space refinement (DCTR weights pulled back to the latent space, HMC) reduces the classifier "
          "AUC and the per-observable deviations from truth of an imperfect flow surrogate",
    config=Config,
    steps=(Step("study", outputs=("metrics", "ratios", "roc", "pdfs"), gpu=True, mem_mb=4000, runtime=60,
                doc="surrogate flow, DCTR weights, LASER refinement by HMC; AUCs, chi2/ndf, figures, metrics.json"),),
    figures=("ratios", "roc"),
    category="arXiv:2305.07696 ELSA",
    verdict=verdict,
)
