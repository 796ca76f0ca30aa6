"""A unified contrastive latent space of SM and BSM toy models (arXiv:2407.20315)."""

from __future__ import annotations

from dataclasses import dataclass

from ...eventclass import EncoderConfig
from ...study import Step, Study, Verdict


@dataclass(frozen=True)
class Config:
    encoder: EncoderConfig
    models: tuple[str, ...]
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


def checks(m: dict, cfg: Config) -> dict:
    """The claims: the indistinguishable pair overlaps (latent AUC within
    ``overlap_tol`` of 0.5), every distinct pair separates (latent AUC above
    ``separation_min``), set purity above ``purity_min``, and latent distance
    rank-correlates with the pairwise classifier AUC (rho above ``rho_min``).
    Written to metrics.json as ``verdict``."""
    same = [v["latent_auc"] for v in m["pairs"].values() if v["indistinguishable"]]
    diff = [v["latent_auc"] for v in m["pairs"].values() if not v["indistinguishable"]]
    out = {"indistinguishable_latent_auc": max(same), "min_distinct_latent_auc": min(diff),
           "overlap": bool(max(same) < 0.5 + cfg.overlap_tol), "separate": bool(min(diff) > cfg.separation_min),
           "purity_ok": bool(m["purity_sets"] > cfg.purity_min),
           "correlated": bool(m["spearman_distance_vs_auc"] > cfg.rho_min),
           "purity_min": cfg.purity_min, "overlap_tol": cfg.overlap_tol, "separation_min": cfg.separation_min,
           "rho_min": cfg.rho_min}
    out["holds"] = bool(out["overlap"] and out["separate"] and out["purity_ok"] and out["correlated"])
    return out


def verdict(metrics: dict, cfg: Config) -> Verdict:
    return Verdict(holds=checks(metrics, cfg)["holds"],
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
