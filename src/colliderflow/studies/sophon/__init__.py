"""Sophon-style signature pre-training (arXiv:2405.12972): a ParT-like tagger
pre-trained on the fine jet-class toy with one class held out (and, with
``exclude``, every class of its topology: the default holds out top and the
other 3-prong class, so the transfer target is a decay topology pre-training
never saw, not the pre-training generator at another mass), then transferred
to that class vs QCD (fine-tune / linear probe / scratch; a linear probe on a
random-init encoder is the null). ``target``: ``toy`` (the held-out toy
class vs q/g) or the name of a real ParT-format excerpt
(``data.jetclass.excerpts``; the real tier uses TopLandscape top vs QCD)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...study import Step, Study, Verdict

METHODS = ("finetune", "probe", "scratch", "probe_random")


@dataclass(frozen=True)
class Config:
    heldout: str
    exclude: tuple[str, ...]
    target: str
    n_target_per_class: int
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
    bf16: bool = False


def target_path(target: str) -> str:
    """The transfer target's jets file: the study's own toy target (rule sophon_target) or a real excerpt
    (rule jetclass_excerpt)."""
    return "resources/sophon/target_toy.h5" if target == "toy" else f"resources/jetclass/excerpt/{target}/jets.h5"


def comparisons(summary: dict, sizes: Sequence[int]) -> list:
    """The claim as comparisons (:mod:`colliderflow.verdict`) at the smallest labelled size, paired over
    seeds (each seed draws one labelled set that every method trains on; one fixed test set): background
    rejection at 50 % signal efficiency of the fine-tuned network vs the same network from scratch (the
    paper's comparison) and of the linear probe on the pre-trained embedding vs the same probe on a
    random-init encoder (the null: pre-training, not the architecture, must carry the embedding).
    The statistic is ln R50: R50 = 1/eps_B rests on the few test background jets that pass, so its error
    is multiplicative (one seed at 20 vs 250 dominates a difference of R50 itself), and "much more
    background rejected" is a ratio."""
    import math

    from ...verdict import Comparison

    s = str(sizes[0])

    def r(m: str) -> list:  # ln R50: the rejection's error is multiplicative (few background jets pass)
        return [math.log(v) for v in summary[m][s]["rejection"]["values"]]

    stat = f"ln R50 (1/eps_B at eps_S = 50 %), {s} labelled jets per class"
    return [
        Comparison.paired("trained from scratch", stat, r("finetune"), r("scratch"), k=2,
                          reason="the paper: with few labelled jets the fine-tuned network rejects much more "
                                 "background than one trained from scratch; ln-ratio > 2 SE of the per-seed "
                                 "differences"),
        Comparison.paired("linear probe on a random-init encoder", f"{stat}, linear probe", r("probe"),
                          r("probe_random"), k=2, null=True,
                          reason="the null for the linear probe: the same logistic regression on a random-init "
                                 "encoder's embedding; the pre-trained embedding must beat it by > 2 SE"),
        Comparison.paired("trained from scratch (linear probe on the frozen pre-trained embedding)", stat,
                          r("probe"), r("scratch"), k=2, required=False,
                          reason="context: the frozen embedding alone vs training from scratch"),
    ]


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """holds: fine-tuning beats scratch and the pre-trained probe beats the random-init probe at the smallest
    labelled size, each by more than 2 SE over paired seeds (:func:`comparisons`)."""
    sizes = metrics["sizes_per_class"]
    summ = metrics["summary"]
    s = str(sizes[0])
    ft, sc = summ["finetune"][s]["rejection"]["mean"], summ["scratch"][s]["rejection"]["mean"]
    return Verdict.of(comparisons(summ, sizes), key_metric={
        "name": f"R50 fine-tune / scratch at {sizes[0]} labelled jets per class",
        "value": round(ft / sc, 4) if sc > 0 else float("inf")})


STUDY = Study(
    name="sophon",
    paper="arXiv:2405.12972",
    title="Sophon-style signature pre-training: transfer to an unseen jet class",
    claim="Pre-training on many fine-grained jet classes makes a tagger for an unseen jet class far more "
          "label-efficient: with few labelled jets the fine-tuned network rejects much more background than one "
          "trained from scratch.",
    config=Config,
    steps=(
        Step("pretrain", inputs=("jets",), outputs=("model",), gpu=True, cached=True, mem_mb=8000, runtime=120,
             doc="pre-train the ParT-like tagger on every fine class but the held-out and excluded ones (cached)"),
        Step("target", outputs=("jets",), doc="the toy transfer target: q, g and the held-out class, own file"),
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
