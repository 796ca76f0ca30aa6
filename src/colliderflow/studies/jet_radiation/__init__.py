"""Extrapolating jet radiation with autoregressive transformers (arXiv:2412.12074):
staircase Z + jets toy -> causal transformer trained on <= n_train_max jets
with the plain likelihood, the modified loss (censored stop term) and
bootstrapping (starts from the modified network), over several seeds ->
multiplicity and first-unseen-jet kinematics vs truth."""

from __future__ import annotations

import math
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
class Lhe:
    file: str
    pt_min: float


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
    seeds: int
    holds_sigma: float
    rate_tolerance: float
    source: str = "toy"
    lhe: Lhe = Lhe("", 5.0)


def comparisons(metrics: dict, cfg: Config, method: str = "bootstrap") -> list:
    """The claim's comparisons, paired over training seeds (``method``: the
    variant judged; the tests also judge the plain loss with it)."""
    from ...verdict import Comparison

    k, ratio, v = metrics["k"], metrics["ratio_true"], metrics["variants"]
    sig, tol = cfg.holds_sigma, cfg.rate_tolerance
    out = []
    for meth in dict.fromkeys((method, "modified")):
        out.append(Comparison.paired(
            "plain likelihood (the paper's baseline)", f"|sigma({k})/sigma({k - 1}) - R| ({meth})",
            v[meth]["abs_deviation"], v["plain"]["abs_deviation"], k=sig, higher_is_better=False,
            reason="the paper: the plain likelihood learns to stop at the largest training multiplicity; the "
                   "extrapolating losses must be closer to the truth ratio, paired seed by seed"))
    r = v[method]["rate_ratio"]
    mean = sum(r) / len(r)
    se = math.sqrt(sum((x - mean) ** 2 for x in r) / (len(r) - 1) / len(r)) if len(r) > 1 else math.inf
    real = str(metrics.get("truth_source", "toy")).startswith("lhe:")
    out.append(Comparison.within(
        "truth ratio (MG5 partons)" if real else "truth staircase ratio", f"sigma({k})/sigma({k - 1}) ({method})",
        mean, ratio, se, tolerance=tol, n=len(r), over="seeds", k=sig,
        reason=f"extrapolated, not only nonzero: within {tol:g} of R = {ratio:.4g} ("
               + ("measured in the LHE file, " if real else "the toy's exact staircase ratio, ")
               + "never shown to the network)"))
    naive = metrics["naive_kinematics"]["w1_pt"]
    w1 = v[method]["w1_pt"]
    out.append(Comparison.paired(
        f"jet {k - 1} taken as jet {k} (naive)", f"W1 of jet {k} pT to truth [GeV] ({method})", w1,
        [naive] * len(w1), k=sig, higher_is_better=False, null=True,
        reason=f"the unseen jet's kinematics must be learned (softer than jet {k - 1}), not copied from the last "
               "seen jet; error from the seed spread"))
    out.append(Comparison.paired(
        "plain likelihood (the paper's baseline)", f"W1 of jet {k} pT to truth [GeV] ({method})", w1,
        v["plain"]["w1_pt"], k=sig, higher_is_better=False, required=False,
        reason="context: the plain network's jet from its kinematic head with the stop skipped"))
    return out


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """Bootstrap and modified loss against the plain likelihood (paired
    seeds), the bootstrap's rate against the truth ratio and its k-th jet's
    pT against the naive guess."""
    k = metrics["k"]
    r = metrics["variants"]["bootstrap"]["rate_ratio"]
    return Verdict.of(comparisons(metrics, cfg), key_metric={
        "name": f"bootstrap sigma({k})/sigma({k - 1}) (truth {metrics['ratio_true']:g}), mean over seeds",
        "value": round(sum(r) / len(r), 4)},
        claim=(f"trained on up to {k - 1} extra jets, the plain likelihood does not generate {k} jets, while "
               f"bootstrapping and the modified loss extrapolate: their {k}-jet rate is closer to truth than the "
               f"plain loss's, the bootstrap's within {cfg.rate_tolerance:g} of the truth ratio, and its jet-{k} "
               f"pT spectrum closer to truth than jet {k - 1}'s"))


STUDY = Study(
    name="jet_radiation",
    paper="arXiv:2412.12074",
    title="Extrapolating jet radiation with autoregressive transformers (staircase Z + jets toy)",
    claim="trained on up to n_train_max extra jets, the plain likelihood does not generate one jet more, while "
          "bootstrapping and the modified loss extrapolate: their rate of the first unseen multiplicity is closer "
          "to truth than the plain loss's (paired seeds), the bootstrap's close to the truth ratio, and the unseen "
          "jet's pT spectrum closer to truth than the last seen jet's",
    config=Config,
    steps=(
        Step("toy", outputs=("events",), env="io", doc="the staircase Z + jets toy (truth for every multiplicity)"),
        Step("lhe", inputs=("lhe",), outputs=("events",), env="io",
             doc="real truth: the partons of a Les Houches Event file (source: lhe; the real tier's MG5 Z + jets)"),
        Step("train", inputs=("events", "init"), outputs=("model", "hparams", "samples", "forced", "record"),
             gpu=True, mem_mb=8000, runtime=120,
             doc="train one variant (plain, modified, bootstrap) with one seed ({rep}) and generate events"),
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
