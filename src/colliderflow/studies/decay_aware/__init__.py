"""Decay-aware multi-task event classification (arXiv:2212.08759): a set
encoder with an auxiliary same-parent head vs a BDT, an MLP and the same
network without the auxiliary loss, AUC vs training-set size."""

from __future__ import annotations

from dataclasses import dataclass

from ...eventclass import EncoderConfig
from ...study import Step, Study, Verdict


@dataclass(frozen=True)
class Config:
    encoder: EncoderConfig
    signal: str
    background: str
    sizes: tuple[int, ...]
    seeds: tuple[int, ...]
    target_steps: int
    max_epochs: int
    aux_weight: float
    bdt_trees: int
    auc_tolerance: float
    aux_margin: float


def checks(m: dict, cfg: Config) -> dict:
    """The claims, from the numbers: the auxiliary head beats chance by
    ``aux_margin`` (balanced accuracy), and at the smallest size the
    multi-task AUC is not below the MLP's by more than ``auc_tolerance``
    (written to metrics.json as ``verdict``)."""
    small, large = str(m["sizes"][0]), str(m["sizes"][-1])
    a = m["auc"]
    gap_small = a["multitask"][small]["mean"] - a["mlp"][small]["mean"]
    aux_bacc = m["aux_head"][large]["balanced_accuracy"]
    out = {"aux_balanced_accuracy": aux_bacc, "aux_beats_chance": aux_bacc > 0.5 + cfg.aux_margin,
           "multitask_minus_mlp_smallest": gap_small,
           "multitask_not_worse_than_mlp_smallest": gap_small > -cfg.auc_tolerance,
           "multitask_minus_bdt_smallest": a["multitask"][small]["mean"] - a["bdt"][small]["mean"],
           "multitask_minus_set_smallest": a["multitask"][small]["mean"] - a["set"][small]["mean"],
           "multitask_minus_mlp_largest": a["multitask"][large]["mean"] - a["mlp"][large]["mean"],
           "auc_tolerance": cfg.auc_tolerance, "aux_margin": cfg.aux_margin}
    out["holds"] = bool(out["aux_beats_chance"] and out["multitask_not_worse_than_mlp_smallest"])
    return out


def verdict(metrics: dict, cfg: Config) -> Verdict:
    v = checks(metrics, cfg)
    return Verdict(holds=v["holds"], key_metric={"name": f"multi-task minus MLP AUC at N={metrics['sizes'][0]}",
                                                 "value": round(v["multitask_minus_mlp_smallest"], 4)})


STUDY = Study(
    name="decay_aware",
    paper="arXiv:2212.08759",
    title="Decay-aware multi-task event classification",
    claim="an auxiliary head learning the decay structure (which objects share a parent) gives a "
          "classifier at least as good as a plain MLP, best at small training sets",
    config=Config,
    steps=(Step("train", inputs=("toy",), outputs=("metrics", "png", "pdf", "model", "model_json"), env="torch",
                gpu=True, mem_mb=8000, runtime=120,
                doc="train BDT, MLP, set and multi-task nets per size and seed; plot, judge"),),
    figures=("auc_vs_size",),
    category="arXiv:2212.08759 decay-aware network",
    verdict=verdict,
)
