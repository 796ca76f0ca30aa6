"""A unified contrastive latent space of SM and BSM toy models (arXiv:2407.20315)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...eventclass import EncoderConfig
from ...study import Step, Study, Verdict


@dataclass(frozen=True)
class Near:
    base: str
    mass_shift: float


@dataclass(frozen=True)
class Config:
    encoder: EncoderConfig
    models: tuple[str, ...]
    near: Near
    n_train: int
    n_eval: int
    set_size: int
    latent_dim: int
    epochs: int
    temperature: float
    purity_min: float
    overlap_tol: float
    separation_min: float
    rho_min: float


def comparisons(m: dict, cfg: Config) -> list:
    """The claim as comparisons (bootstrap errors over the evaluation events,
    computed by the train step): the latent space against an untrained
    (random-init) encoder of the same architecture (null control), the
    indistinguishable pair's overlap, the near-degenerate pair resolved
    beyond the indistinguishable one, the worst distinct pair separated,
    set purity and the distance-AUC rank correlation above their thresholds."""
    from ...verdict import Comparison

    c = m["comparisons"]
    n = c["n_eval_events"]
    rho, pur = c["rho"], c["purity_sets"]
    out = [Comparison.estimate(
        "untrained (random-init) encoder", "Spearman rho(latent distance, pairwise classifier AUC)",
        rho["trained"]["value"], rho["untrained"]["value"], c["rho_trained_minus_untrained_se"], n=n,
        over="bootstrap", k=2, null=True,
        reason="null control: the contrastive training, not the architecture, must make distance track "
               "distinguishability (same events resampled for both)"),
        Comparison.estimate(
        "untrained (random-init) encoder", f"k-means purity of sets of {m['set_size']} events",
        pur["trained"]["value"], pur["untrained"]["value"], math.hypot(pur["trained"]["se"], pur["untrained"]["se"]),
        n=n, over="bootstrap", k=2, null=True, reason="null control: clustering by model must come from training"),
        Comparison.estimate(
        f"purity threshold {cfg.purity_min}", f"k-means purity of sets of {m['set_size']} events",
        pur["trained"]["value"], None, pur["trained"]["se"], n=n, over="bootstrap", k=2, margin=cfg.purity_min,
        reason="the paper: events of the same model cluster (purity_min)"),
        Comparison.estimate(
        f"rank-correlation threshold {cfg.rho_min}", "Spearman rho(latent distance, pairwise classifier AUC)",
        rho["trained"]["value"], None, rho["trained"]["se"], n=n, over="bootstrap", k=2, margin=cfg.rho_min,
        reason="the paper: latent distance correlates with the pairwise classifier AUC (rho_min)")]
    for key in c["indistinguishable"]:
        v = c["latent_auc"][key]
        out.append(Comparison.within(
            f"chance (identical models {key})", "latent-space classifier AUC", v["value"], 0.5, v["se"],
            tolerance=cfg.overlap_tol, n=n, over="bootstrap", k=2,
            reason=f"indistinguishable models overlap: AUC within {cfg.overlap_tol} of 0.5 (overlap_tol)"))
    for key, v in c["near_minus_indistinguishable_distance"].items():
        out.append(Comparison.estimate(
            f"indistinguishable pair ({key.split(' minus ')[1]})",
            f"latent distance of the near-degenerate pair {key.split(' minus ')[0]}", v["near"],
            v["indistinguishable"], v["se"], n=n, over="bootstrap", k=2,
            reason="models that differ physically but are nearly degenerate must sit further apart than "
                   "identical ones: distance tracks distinguishability (can fail: the toy knob near.mass_shift)"))
    w = c["latent_auc"][c["worst_distinct_pair"]]
    out.append(Comparison.estimate(
        f"separation threshold {cfg.separation_min}", f"latent AUC of the least separated distinct pair "
        f"{c['worst_distinct_pair']}", w["value"], None, w["se"], n=n, over="bootstrap", k=2,
        margin=cfg.separation_min, reason="distinct models separate in the latent space (separation_min)"))
    return out


def verdict(metrics: dict, cfg: Config) -> Verdict:
    return Verdict.of(comparisons(metrics, cfg),
                      key_metric={"name": "k-means purity of event-set embeddings",
                                  "value": round(metrics["purity_sets"], 4)})


STUDY = Study(
    name="latent_space",
    paper="arXiv:2407.20315",
    title="Unified latent space of SM and BSM models",
    claim="a contrastive latent space clusters events by model, indistinguishable models overlap and "
          "latent distance tracks how separable two models are",
    config=Config,
    steps=(Step("train", inputs=("toy",), outputs=("metrics", "png", "pdf", "model", "model_json"), env="torch",
                gpu=True, mem_mb=8000, runtime=120,
                doc="supervised-contrastive latent space of the toy models; clustering, overlaps, map, judge"),),
    figures=("latent_map",),
    category="arXiv:2407.20315 unified latent space",
    verdict=verdict,
)
