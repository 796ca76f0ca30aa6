"""Convolutional L2LFlows (arXiv:2405.20407): layer-to-layer calorimeter shower
flows with convolutional coupling networks, evaluated the CaloChallenge way
against their MLP-conditioner ablation and a naive independent-voxel generator (the science: :mod:`.core`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...errors import InputError
from ...study import Step, Study, Verdict
from ...verdict import Comparison


@dataclass(frozen=True)
class EnergyFlowConfig:
    transforms: int
    hidden: tuple[int, ...]
    bins: int
    epochs: int
    batch_size: int
    lr: float
    patience: int


@dataclass(frozen=True)
class LayerFlowConfig:
    transforms: int
    channels: int
    mlp_hidden: tuple[int, ...]
    bins: int
    epochs: int
    batch_size: int
    lr: float
    patience: int


@dataclass(frozen=True)
class ClassifierConfig:
    hidden: tuple[int, ...]
    l2: float
    max_iter: int
    patience: int


@dataclass(frozen=True)
class Config:
    threshold_mev: float
    alpha: float
    noise_fraction: float
    max_train: int
    generation_batch: int
    energy_flow: EnergyFlowConfig
    layer_flow: LayerFlowConfig
    classifier: ClassifierConfig
    baseline_energy_bins: int
    auc_margin: float
    w1_tolerance: float
    reference_results: tuple[str, ...]


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """The convolutional layer flows against their MLP-conditioner ablation (the paper's architectural claim:
    shower-shape W1 lower at 2 paired-bootstrap SE), against the independent-voxel generator (the null:
    classifier AUCs, low and high level, lower by ``auc_margin`` at 2 SE) and against the
    reference-vs-reference floor (shape W1 within ``w1_tolerance``); the per-layer energy W1 of the energy
    flow and the AUCs against the ablation are context."""
    sw = metrics["shape_w1"]
    v, de = sw["value"], sw["diff_error_vs_l2lflows"]
    n_test = metrics["n_test"]
    boot = dict(n=n_test, over="bootstrap", higher_is_better=False)
    stat = "shower-shape W1 of the layer flows (mean over layers of width, centre, sparsity; ref. std units)"
    comps = [
        Comparison.estimate("MLP-conditioner layer flows (ablation)", stat, v["l2lflows"], v["mlp"], de["mlp"],
                            k=2, **boot, reason="the paper's claim is about the convolutional conditioners: the "
                            "same flows with MLP conditioners (the original L2LFlows' fully connected networks) must "
                            "do worse, by 2 paired-bootstrap SE"),
        Comparison.estimate("reference showers (floor)", stat, v["l2lflows"], v["reference"], de["reference"],
                            margin=-cfg.w1_tolerance, k=2, **boot,
                            reason=f"accurate shapes: within {cfg.w1_tolerance:g} reference standard deviations of "
                                   "the reference-vs-reference W1 at 2 SE"),
    ]
    for level in ("low", "high"):
        m_auc, m_err = metrics[f"auc_{level}_l2lflows"], metrics[f"auc_{level}_err_l2lflows"]
        comps.append(Comparison.estimate(
            "independent-voxel generator", f"classifier AUC, {level}-level", m_auc, metrics[f"auc_{level}_baseline"],
            math.hypot(m_err, metrics[f"auc_{level}_err_baseline"]), margin=cfg.auc_margin, k=2, null=True, **boot,
            reason=f"the naive generator (voxel marginals, no correlations) must be separated better by more than "
                   f"{cfg.auc_margin:g} at 2 SE (independent classifiers: errors added in quadrature)"))
        comps.append(Comparison.estimate(
            "MLP-conditioner layer flows (ablation)", f"classifier AUC, {level}-level", m_auc,
            metrics[f"auc_{level}_mlp"], math.hypot(m_err, metrics[f"auc_{level}_err_mlp"]), k=2, required=False,
            **boot, reason="context: the classifier test of the ablation"))
    comps.append(Comparison.estimate(
        "reference tolerance", "max per-layer energy W1 (energy flow)", metrics["max_w1_layer_energy_l2lflows"],
        cfg.w1_tolerance, 0.0, k=0, required=False, n=n_test, over="exact", higher_is_better=False,
        reason="context: the layer energies come from the energy flow, not from the convolutional layer flows"))
    key = {"name": "classifier AUC low-level, L2LFlows / independent-voxel baseline",
           "value": round(metrics["auc_low_l2lflows"], 4), "baseline": round(metrics["auc_low_baseline"], 4)}
    return Verdict.of(comps, key_metric=key)


CALO = ("train", "test", "geometry")


def calo_inputs(config: dict) -> dict[str, str]:
    """The calorimeter showers the l2lflows steps read (inputs train, test,
    geometry): the toy (rule calo_toy), or the config's data.calo files
    (source: file)."""
    d = config["data"]["calo"]
    if d["source"] == "toy":
        return {"train": "resources/calo/toy/train.h5", "test": "resources/calo/toy/test.h5",
                "geometry": "resources/calo/toy/binning.xml"}
    if len(d["files"]) != 2 or not d["geometry"]:
        raise InputError("config", "data.calo.files", "source 'file' needs files: [training, test] and a geometry XML")
    return {"train": d["files"][0], "test": d["files"][1], "geometry": d["geometry"]}

STUDY = Study(
    name="l2lflows",
    paper="arXiv:2405.20407",
    title="Convolutional L2LFlows: layer-by-layer calorimeter shower generation",
    claim="layer-to-layer conditional flows with convolutional coupling networks generate calorimeter showers "
          "with more accurate shower shapes than the same flows with fully connected (MLP) conditioners, and that "
          "a classifier separates from the reference much less well than a naive (independent-voxel) generator",
    config=Config,
    steps=(
        Step("train", inputs=CALO, outputs=("model", "hparams", "generated", "summary", "ablation"), gpu=True,
             mem_mb=8000, runtime=120, doc="train the energy flow, the convolutional layer flows and their "
                                           "MLP-conditioner ablation; generate test showers with both"),
        Step("report", inputs=(*CALO, "generated", "summary", "ablation", "tables"),
             outputs=("metrics", "layers", "shapes", "auc", "pdfs"),
             doc="independent-voxel baseline, classifier AUCs and W1 distances, figures, metrics.json"),
    ),
    figures=("layer_energies", "shower_shapes", "auc"),
    category="arXiv:2405.20407 L2LFlows",
    verdict=verdict,
)
