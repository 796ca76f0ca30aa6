"""Self-supervised pre-training on unlabelled collision events, fine-tuned on
small labelled simulated sets (arXiv:2312.06909): AUC vs labelled events,
pre-trained vs from scratch."""

from __future__ import annotations

from dataclasses import dataclass

from ...eventclass import EncoderConfig
from ...study import Step, Study, Verdict


@dataclass(frozen=True)
class Unlabelled:
    source: str
    files: tuple[str, ...]
    n_events: int


@dataclass(frozen=True)
class Config:
    encoder: EncoderConfig
    unlabelled: Unlabelled
    pretrain_epochs: int
    temperature: float
    smear: float
    drop: float
    signal: str
    background: str
    sizes: tuple[int, ...]
    seeds: tuple[int, ...]
    target_steps: int
    max_epochs: int
    min_gain: float


def comparisons(m: dict, cfg: Config) -> list:
    """The claim as comparisons over paired seeds (every arm of a seed
    fine-tunes on the same labelled subset): at the smallest N the pre-trained
    network against the same pre-training on noise events (the null control
    the claim must beat: otherwise the gain is an initialisation effect) and
    against training from scratch (by more than ``min_gain``); and the gain
    over scratch shrinks from the smallest to the largest N."""
    from ...verdict import Comparison

    small, large = str(m["sizes"][0]), str(m["sizes"][-1])
    a = m["auc"]
    vals = lambda arm, size: a[arm][size]["values"]  # noqa: E731
    gain = lambda size: [p - s for p, s in zip(vals("pretrained", size), vals("scratch", size), strict=True)]  # noqa: E731
    return [
        Comparison.paired("pre-training on noise events (object slots shuffled across events)",
                          f"test AUC at N={small} labelled", vals("pretrained", small), vals("null", small), k=2,
                          null=True, reason="null control: the same pre-training on events without physics "
                          "structure; a gain it shares is an initialisation effect, not learned physics"),
        Comparison.paired("from scratch", f"test AUC at N={small} labelled", vals("pretrained", small),
                          vals("scratch", small), k=2, margin=cfg.min_gain,
                          reason=f"the paper: pre-training improves classifiers trained on few labelled events; "
                                 f"by more than min_gain {cfg.min_gain} AUC beyond 2 SE of the paired seeds"),
        Comparison.paired(f"the gain at N={large}", f"pre-trained minus scratch AUC at N={small}", gain(small),
                          gain(large), k=2, reason="the paper: the gain shrinks as the labelled set grows"),
    ]


def verdict(metrics: dict, cfg: Config) -> Verdict:
    name = f"AUC gain of pre-training at N={metrics['sizes'][0]} labelled"
    return Verdict.of(comparisons(metrics, cfg),
                      key_metric={"name": name, "value": round(metrics["gain"][str(metrics["sizes"][0])], 4)})


STUDY = Study(
    name="pretraining",
    paper="arXiv:2312.06909",
    title="Self-supervised pre-training on (real) collision events, fine-tuned on small labelled sets",
    claim="pre-training on unlabelled collision data improves classifiers trained on few labelled "
          "events; the gain shrinks as the labelled set grows",
    config=Config,
    steps=(
        Step("encoder", inputs=("toy",), outputs=("model", "model_json", "null_model", "null_model_json"),
             env="torch", gpu=True, cached=True, mem_mb=8000, runtime=120,
             doc="SimCLR pre-training of the shared set encoder on unlabelled events, and on noise events (null)"),
        Step("finetune", inputs=("toy", "encoder", "null_encoder"), outputs=("metrics", "png", "pdf"), env="torch",
             gpu=True, mem_mb=8000, runtime=120,
             doc="fine-tune vs noise-pre-trained vs scratch per labelled size and seed; plot, judge"),
    ),
    figures=("learning_curves",),
    category="arXiv:2312.06909 pre-training",
    verdict=verdict,
)
