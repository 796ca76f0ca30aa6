"""TRANSIT (Oleksiyuk et al.) on the LHC Olympics R&D features: a
mass-conditioned transport network morphs sideband events to signal-region
masses; template closure AUC and a CWoLa classifier on data vs template.

Uses the R-ANODE family's data split, background flow and injection scans
(study ``ranode``: steps ``background`` and ``scan``; its config section
``studies.ranode`` reaches the transit steps as the rule param ``ranode``)."""

from __future__ import annotations

from dataclasses import dataclass

from ...study import Step, Study, Verdict


@dataclass(frozen=True)
class Config:
    hidden: tuple[int, ...]
    w_consistency: float
    w_adversary: float
    epochs: int
    batch_size: int
    lr: float
    patience: int
    max_events: int
    source_width: float
    closure_tolerance: float
    sic_fraction_of_cathode: float


def closes(closure_auc: dict, cfg: Config) -> bool:
    """The TRANSIT template closes: its closure AUC within the tolerance of 0.5."""
    return abs(closure_auc["transit"] - 0.5) <= cfg.closure_tolerance


def claim(cfg: Config) -> str:
    return (f"the transported template closes (AUC within {cfg.closure_tolerance} of 0.5) and its CWoLa classifier "
            f"reaches at least {cfg.sic_fraction_of_cathode:.0%} of CATHODE's max SIC at the largest injection")


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """The template closes and TRANSIT's max SIC at the largest injection reaches the fraction of CATHODE's."""
    auc = metrics["closure_auc"]
    big = metrics["largest_injection_median_max_sic"]
    finds = big["transit"] >= cfg.sic_fraction_of_cathode * big["cathode"]
    return Verdict(holds=bool(closes(auc, cfg) and finds), claim=claim(cfg),
                   key_metric={"name": "closure AUC (TRANSIT template vs true SR background)",
                               "value": round(auc["transit"], 4)})


STUDY = Study(
    name="transit",
    paper="TRANSIT",
    title="TRANSIT: transport of sideband events into the signal region, CWoLa on data vs template",
    claim=("the transported template closes (AUC within studies.transit.closure_tolerance of 0.5) and its CWoLa "
           "classifier reaches at least studies.transit.sic_fraction_of_cathode of CATHODE's max SIC at the "
           "largest injection"),
    config=Config,
    steps=(
        Step("train", inputs=("events",), outputs=("model", "hparams"), gpu=True, mem_mb=8000, runtime=120,
             doc="train the TRANSIT transport network (mass-conditioned encoder/decoder) on the sidebands"),
        Step("closure", inputs=("events", "background", "transit"), outputs=("json", "png", "pdf"),
             doc="template closure: TRANSIT template vs true SR background (AUC, per-feature figure)"),
        Step("report", inputs=("scans", "closure", "background", "transit"), outputs=("metrics", "png", "pdf"),
             doc="closure AUC, CWoLa max SIC vs injection beside CATHODE, training time; metrics.json"),
    ),
    figures=("template_closure", "transit_max_sic"),
    category="TRANSIT",
    verdict=verdict,
)
