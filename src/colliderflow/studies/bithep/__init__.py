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
    """The point-estimate rule of one tagging task result: AUC(full) - AUC(ternary) <= auc_loss_max
    (the verdict adds the bootstrap error and the other comparisons)."""
    return bool(tagging["results"]["ternary"]["auc_loss"] <= auc_loss_max)


CLAIM = ("BitNet stays competitive in classification: ternary (1.58-bit) and binary weights lose at most "
         "{tol} q/g AUC against full precision (at 2 bootstrap SE) and beat a constituent-multiplicity tagger; "
         "in regression and generation it is limited: binary weights worsen the jet-mass resolution and the "
         "generated jet observables")


def comparisons(metrics: dict, cfg: Config) -> list:
    """The claim as comparisons (:mod:`colliderflow.verdict`), from the report
    step's ``comparisons`` block (bootstrap errors over the test jets)."""
    from ...verdict import Comparison

    c = metrics["comparisons"]
    t, r, g = c["tagging"], c["regression"], c["generation"]
    tol = cfg.auc_loss_max
    why_tag = (f"non-inferiority within {tol} AUC (auc_loss_max): the paper finds BitNet 'consistently performs "
               "competitively in classification'; the tolerance is about twice the bootstrap SE of one AUC on the "
               "default tier's ~1k test jets")
    out = [Comparison.estimate(f"full precision ({p} weights)", "q/g test AUC", t["auc"][p], t["auc"]["full"],
                               t["delta_vs_full_se"][p], n=t["n"], over="bootstrap", margin=-tol, k=2,
                               reason=why_tag) for p in ("ternary", "binary")]
    out.append(Comparison.estimate(
        "constituent multiplicity alone", "q/g test AUC", t["auc"]["ternary"], t["auc"]["multiplicity"],
        t["ternary_minus_multiplicity_se"], n=t["n"], over="bootstrap", k=2, null=True,
        reason="null control: 'competitive' means nothing if one textbook observable tags as well"))
    why_lim = ("the paper's limit: BitNet's 'performance in regression and generation varies with the size and "
               "type of the network'; the degradation must be resolved beyond 2 bootstrap SE of the test jets")
    out.append(Comparison.estimate("full precision (binary weights)", "jet-mass relative resolution (lower is better "
                                   "for the method; effect = binary - full)", r["resolution"]["binary"],
                                   r["resolution"]["full"], r["delta_vs_full_se"]["binary"], n=r["n"],
                                   over="bootstrap", k=2, reason=why_lim))
    out.append(Comparison.estimate("full precision (binary weights)", "generated vs truth mean W1 / spread "
                                   "(effect = binary - full)", g["w1_mean"]["binary"], g["w1_mean"]["full"],
                                   g["delta_vs_full_se"]["binary"], n=g["n"], over="bootstrap", k=2,
                                   reason=why_lim))
    ctx = "context only: the paper reports ternary regression/generation as network-dependent (no direction)"
    out.append(Comparison.estimate("full precision (ternary weights)", "jet-mass relative resolution (effect = "
                                   "ternary - full)", r["resolution"]["ternary"], r["resolution"]["full"],
                                   r["delta_vs_full_se"]["ternary"], n=r["n"], over="bootstrap", k=2,
                                   reason=ctx, required=False))
    out.append(Comparison.estimate("full precision (ternary weights)", "generated vs truth mean W1 / spread "
                                   "(effect = ternary - full)", g["w1_mean"]["ternary"], g["w1_mean"]["full"],
                                   g["delta_vs_full_se"]["ternary"], n=g["n"], over="bootstrap", k=2,
                                   reason=ctx, required=False))
    return out


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """Tagging: ternary and binary non-inferior to full precision within
    auc_loss_max at 2 bootstrap SE, ternary above the multiplicity-only
    tagger; limits: binary weights degrade regression and generation."""
    loss = metrics["tagging_auc_loss"]["ternary"]
    return Verdict.of(comparisons(metrics, cfg),
                      key_metric={"name": "q/g AUC loss of ternary (1.58-bit) vs full precision",
                                  "value": round(loss, 4)},
                      claim=CLAIM.format(tol=cfg.auc_loss_max))


STUDY = Study(
    name="bithep",
    paper="BitHEP (Krause, Wang, Winterhalder)",
    title="BitHEP: the limits of low-precision ML in HEP",
    claim=CLAIM.format(tol="studies.bithep.auc_loss_max"),
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
