"""Convolutional L2LFlows (arXiv:2405.20407): layer-to-layer calorimeter shower
flows with convolutional coupling networks, evaluated the CaloChallenge way
against a naive independent-voxel generator (the science: :mod:`.core`)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import InputError
from ...study import Step, Study, Verdict


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
    """L2LFlows' AUCs (low and high level) below the baseline's by at least
    ``auc_margin``, and its per-layer energy W1 at most ``w1_tolerance``
    reference standard deviations in every layer."""
    below = (metrics["auc_low_l2lflows"] < metrics["auc_low_baseline"] - cfg.auc_margin
             and metrics["auc_high_l2lflows"] < metrics["auc_high_baseline"] - cfg.auc_margin)
    small = metrics["max_w1_layer_energy_l2lflows"] <= cfg.w1_tolerance
    key = {"name": "classifier AUC low-level, L2LFlows / independent-voxel baseline",
           "value": round(metrics["auc_low_l2lflows"], 4), "baseline": round(metrics["auc_low_baseline"], 4)}
    return Verdict(holds=bool(below and small), key_metric=key)


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
          "that a classifier separates from the reference much less well than a naive (independent-voxel) "
          "generator, with accurate per-layer energy distributions",
    config=Config,
    steps=(
        Step("train", inputs=CALO, outputs=("model", "hparams", "generated", "summary"), gpu=True, mem_mb=8000,
             runtime=120, doc="train the energy flow and the convolutional layer flows; generate test showers"),
        Step("report", inputs=(*CALO, "generated", "summary", "tables"),
             outputs=("metrics", "layers", "shapes", "auc", "pdfs"),
             doc="independent-voxel baseline, classifier AUCs and W1 distances, figures, metrics.json"),
    ),
    figures=("layer_energies", "shower_shapes", "auc"),
    category="arXiv:2405.20407 L2LFlows",
    verdict=verdict,
)
