"""Sophon-style signature pre-training (arXiv:2405.12972): a ParT-like tagger
pre-trained on the fine jet-class toy with one resonance held out, then
transferred to that resonance vs QCD (fine-tune / linear probe / scratch)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...study import Step, Study, Verdict

METHODS = ("finetune", "probe", "scratch")


@dataclass(frozen=True)
class Config:
    heldout: str
    n_constituents: int
    dim: int
    heads: int
    layers: int
    n_test: int
    pretrain_qcd_fraction: float
    n_pretrain_per_class: int
    pretrain_epochs: int
    batch_size: int
    lr: float
    finetune_lr: float
    sizes: tuple[int, ...]
    seeds: tuple[int, ...]
    target_steps: int
    max_epochs: int
    probe_c: float


def comparison(summary: dict, sizes: Sequence[int]) -> dict:
    """The stated rule, from the per-seed summary: at the smallest labelled
    size the mean rejection of fine-tuning exceeds that of training from
    scratch by more than the combined seed spread sqrt(std_ft^2 + std_scratch^2)
    (sample std over seeds)."""
    import numpy as np

    s = str(sizes[0])
    ft, sc = summary["finetune"][s]["rejection"], summary["scratch"][s]["rejection"]
    spread = float(np.hypot(ft["std"], sc["std"]))
    gain = ft["mean"] - sc["mean"]
    return {"smallest_size_per_class": int(sizes[0]), "rejection_finetune": ft["mean"],
            "rejection_scratch": sc["mean"], "rejection_gain": gain, "seed_spread": spread,
            "ratio_finetune_over_scratch": ft["mean"] / sc["mean"] if sc["mean"] > 0 else float("inf"),
            "rule": "mean(R50 fine-tune) - mean(R50 scratch) > sqrt(std_ft^2 + std_scratch^2) at the smallest "
                    "labelled size (std over seeds)",
            "holds": bool(gain > spread)}


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """holds: fine-tuning beats scratch at the smallest labelled size by more than the seed spread."""
    sizes = metrics["sizes_per_class"]
    v = comparison(metrics["summary"], sizes)
    return Verdict(holds=v["holds"],
                   key_metric={"name": f"R50 fine-tune / scratch at {sizes[0]} labelled jets per class",
                               "value": v["ratio_finetune_over_scratch"]})


STUDY = Study(
    name="sophon",
    paper="arXiv:2405.12972",
    title="Sophon-style signature pre-training: transfer to an unseen resonance",
    claim="Pre-training on many fine-grained jet classes makes a tagger for an unseen resonance far more "
          "label-efficient: with few labelled jets the fine-tuned network rejects much more background than one "
          "trained from scratch.",
    config=Config,
    steps=(
        Step("pretrain", inputs=("jets",), outputs=("model",), gpu=True, cached=True, mem_mb=8000, runtime=120,
             doc="pre-train the ParT-like tagger on every fine class but the held-out one (cached)"),
        Step("transfer", inputs=("jets", "pretrained"), outputs=("transfer",), gpu=True, mem_mb=8000, runtime=120,
             doc="fine-tune, linear probe and scratch on the held-out resonance vs QCD, per size and seed"),
        Step("publish", inputs=("jets", "pretrained"), outputs=("check", "onnx", "card"), env="hls",
             doc="the pre-trained encoder as ONNX + model card, checked in onnxruntime"),
        Step("report", inputs=("transfer", "publish"), outputs=("metrics", "png", "pdf"),
             doc="rejection vs labelled jets figure, metrics.json"),
    ),
    figures=("rejection_vs_labelled",),
    category="arXiv:2405.12972 Sophon pre-training",
    verdict=verdict,
)
