"""Extrapolating jet radiation with autoregressive transformers (arXiv:2412.12074):
staircase Z + jets toy -> causal transformer trained on <= n_train_max jets
with the plain likelihood, bootstrapping (starts from plain) and the
perturbed-target loss -> multiplicity and first-unseen-jet kinematics vs truth."""

from __future__ import annotations

from dataclasses import dataclass

from ...study import Step, Study, Verdict

VARIANTS = ("plain", "bootstrap", "modified")


@dataclass(frozen=True)
class Toy:
    ratio: float
    pt_min: float
    pt_scale: float
    z_a: float
    z_b: float
    eta_width: float
    eta_step: float
    phi_width: float
    n_max: int


@dataclass(frozen=True)
class Model:
    dim: int
    heads: int
    layers: int
    n_gauss: int


@dataclass(frozen=True)
class Training:
    epochs: int
    batch_size: int
    lr: float
    patience: int
    bootstrap_rounds: int
    bootstrap_epochs: int


@dataclass(frozen=True)
class Config:
    n_events: int
    toy: Toy
    train_fraction: float
    n_train_max: int
    model: Model
    training: Training
    n_generate: int
    n_gen_max: int
    holds_sigma: float


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """holds: the bootstrap's rate ratio sigma(k)/sigma(k-1), k = n_train_max + 1,
    is closer to the truth than the plain loss's by more than ``holds_sigma``
    combined standard errors."""
    k, ratio = metrics["k"], metrics["ratio_true"]
    holds = bool(metrics["bootstrap_gain"] > cfg.holds_sigma * metrics["bootstrap_gain_err"])
    return Verdict(
        holds=holds,
        key_metric={"name": f"bootstrap sigma({k})/sigma({k - 1}) (truth {ratio:g})",
                    "value": round(metrics["variants"]["bootstrap"]["rate_ratio"], 4)},
        claim=(f"trained on up to {k - 1} extra jets, the plain likelihood does not generate {k} jets, while "
               f"bootstrapping (and the modified loss) extrapolates: the bootstrap {k}-jet rate is closer to truth "
               "than the plain loss's beyond the statistical uncertainty"))


STUDY = Study(
    name="jet_radiation",
    paper="arXiv:2412.12074",
    title="Extrapolating jet radiation with autoregressive transformers (staircase Z + jets toy)",
    claim="trained on up to n_train_max extra jets, the plain likelihood does not generate one jet more, while "
          "bootstrapping (and the modified loss) extrapolates: the bootstrap rate of the first unseen multiplicity "
          "is closer to truth than the plain loss's beyond the statistical uncertainty",
    config=Config,
    steps=(
        Step("toy", outputs=("events",), env="io", doc="the staircase Z + jets toy (truth for every multiplicity)"),
        Step("train", inputs=("events", "init"), outputs=("model", "hparams", "samples", "forced", "record"),
             gpu=True, mem_mb=8000, runtime=120,
             doc="train one variant (plain, bootstrap, modified) and generate events"),
        Step("publish", inputs=("events", "models", "records"), outputs=("check", "onnx", "card"),
             doc="every variant's step network as ONNX + model card, checked in onnxruntime"),
        Step("report", inputs=("events", "samples", "forced", "records", "publish"),
             outputs=("metrics", "mult", "mult_pdf", "kin", "kin_pdf"),
             doc="multiplicity and first-unseen-jet figures, metrics.json"),
    ),
    figures=("jet_radiation_multiplicity", "jet_radiation_third_jet"),
    category="Autoregressive jet radiation (arXiv:2412.12074)",
    verdict=verdict,
)
