"""BitHEP (Krause, Wang, Winterhalder): binary / ternary BitLinear vs full precision on q/g
tagging, jet-mass regression and a small flow. One training job per task (three precisions
each), the ONNX export of two q/g taggers, then the figure and metrics."""

from __future__ import annotations

from dataclasses import dataclass

from ...study import Step, Study, Verdict

TASKS = ("tagging", "regression", "generation")
PRECISIONS = ("full", "binary", "ternary")
#: precisions whose q/g taggers are published as ONNX (results/bithep/published/<precision>/)
PUBLISHED = ("full", "ternary")


@dataclass(frozen=True)
class TaggingConfig:
    classes: tuple[str, ...]
    hidden: int
    phi_layers: int
    rho_layers: int
    epochs: int
    batch_size: int
    lr: float
    max_jets: int


@dataclass(frozen=True)
class RegressionConfig:
    hidden: int
    phi_layers: int
    rho_layers: int
    epochs: int
    batch_size: int
    lr: float
    max_jets: int
    min_mass: float


@dataclass(frozen=True)
class GenerationConfig:
    transforms: int
    hidden: tuple[int, ...]
    bins: int
    epochs: int
    batch_size: int
    lr: float
    max_jets: int


@dataclass(frozen=True)
class Config:
    excerpt: str
    n_constituents: int
    test_fraction: float
    keep_first_last: bool
    act_bits: int | None
    full_norm: bool
    auc_loss_max: float
    tagging: TaggingConfig
    regression: RegressionConfig
    generation: GenerationConfig


def claim_holds(tagging: dict, auc_loss_max: float) -> bool:
    """The rule: AUC(full) - AUC(ternary) <= auc_loss_max (point estimate) on the tagging task result."""
    return bool(tagging["results"]["ternary"]["auc_loss"] <= auc_loss_max)


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """Ternary weights lose at most auc_loss_max q/g AUC against full precision (point estimate)."""
    loss = metrics["tagging_auc_loss"]["ternary"]
    return Verdict(
        holds=bool(loss <= cfg.auc_loss_max),
        key_metric={"name": "q/g AUC loss of ternary (1.58-bit) vs full precision", "value": round(loss, 4)},
        claim=f"BitNet stays competitive in classification: ternary weights lose at most {cfg.auc_loss_max} AUC on "
              "quark/gluon tagging; regression and generation degrade depending on the network")


STUDY = Study(
    name="bithep",
    paper="BitHEP (Krause, Wang, Winterhalder)",
    title="BitHEP: the limits of low-precision ML in HEP",
    claim=("BitNet stays competitive in classification: ternary weights lose at most studies.bithep.auc_loss_max "
           "AUC on quark/gluon tagging; regression and generation degrade depending on the network"),
    config=Config,
    steps=(
        Step("task", inputs=("jets",), outputs=("json", "npz", "models", "hparams"), gpu=True, mem_mb=8000,
             runtime=120, doc="train one task (tagging, regression, generation) in full, binary and ternary precision"),
        Step("publish", inputs=("jets", "tagging", "npz", "models"), outputs=("check", "onnx", "card"),
             doc="ONNX + model cards of the full-precision and ternary q/g taggers, checked in onnxruntime"),
        Step("report", inputs=("tasks", "arrays", "publish"), outputs=("metrics", "png", "pdf"),
             doc="the four-panel figure and metrics.json"),
    ),
    figures=("bithep",),
    category="BitHEP (Krause, Wang, Winterhalder)",
    verdict=verdict,
)
