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
    return (f"the transported template closes (closure AUC within {cfg.closure_tolerance} of 0.5) where the "
            f"untransported sidebands do not, and its CWoLa classifier reaches at least "
            f"{cfg.sic_fraction_of_cathode:.0%} of CATHODE's max SIC and beats the untransported template at low "
            "injection")


def comparisons(metrics: dict, cfg: Config) -> list:
    """TRANSIT against a perfect template and the untransported sidebands (closure,
    bootstrap of the held-out closure scores) and against CATHODE and the
    untransported template in CWoLa max SIC at low injection (paired seeds)."""
    import math

    from ...verdict import Comparison

    auc, se = metrics["closure_auc"], metrics["closure_auc_se"]
    n = int(metrics.get("closure_n_truth", 0)) or 1
    t, u = auc["transit"], auc["sideband_untransported"]
    low = metrics["low_injection_per_seed_max_sic"]
    high = metrics["high_injection_per_seed_max_sic"]
    f = cfg.sic_fraction_of_cathode
    stat = f"mean max SIC, 0 < S/sqrt(B) <= {metrics['low_injection_max_s_over_sqrt_b']}"
    return [
        Comparison.within("perfect template (AUC 0.5)", "closure AUC, template vs true SR background", t, 0.5,
                          se["transit"], tolerance=cfg.closure_tolerance, n=n, over="bootstrap",
                          reason=f"closure within {cfg.closure_tolerance} of 0.5 (studies.transit.closure_tolerance) "
                                 "at 2 bootstrap SE of the held-out scores"),
        Comparison.estimate("untransported sidebands", "|closure AUC - 0.5|", abs(t - 0.5), abs(u - 0.5),
                            math.hypot(se["transit"], se["sideband_untransported"]), n=n, over="bootstrap",
                            higher_is_better=False, null=True,
                            reason="the identity map (no transport) must close worse by more than 2 SE (independent "
                                   "bootstrap errors added in quadrature)"),
        Comparison.paired(f"{f:.0%} of CATHODE", stat, low["transit"], [f * c for c in low["cathode"]],
                          reason="the paper: 'competitive anomaly sensitivity' -- at least this fraction of "
                                 "CATHODE's max SIC (studies.transit.sic_fraction_of_cathode) at 2 SE, paired seeds"),
        Comparison.paired("untransported sidebands (CWoLa)", stat, low["transit"], low["untransported"], null=True,
                          reason="the transport must pay off where the signal is small: above the untransported "
                                 "template by more than 2 SE over paired seeds"),
        Comparison.paired(f"{f:.0%} of CATHODE (large injection)", "mean max SIC above the low-injection range",
                          high["transit"], [f * c for c in high["cathode"]], required=False,
                          reason="context: at large injection every method nears the test set's SIC ceiling"),
    ]


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """TRANSIT closes, closes better than the untransported sidebands, and its max SIC at low injection reaches
    the fraction of CATHODE's and beats the untransported template."""
    return Verdict.of(comparisons(metrics, cfg), claim=claim(cfg),
                      key_metric={"name": "closure AUC (TRANSIT template vs true SR background; untransported "
                                          f"{metrics['closure_auc']['sideband_untransported']:.3f})",
                                  "value": round(metrics["closure_auc"]["transit"], 4)})


STUDY = Study(
    name="transit",
    paper="TRANSIT",
    title="TRANSIT: transport of sideband events into the signal region, CWoLa on data vs template",
    claim=("the transported template closes (closure AUC within studies.transit.closure_tolerance of 0.5) where "
           "the untransported sidebands do not, and its CWoLa classifier reaches at least "
           "studies.transit.sic_fraction_of_cathode of CATHODE's max SIC and beats the untransported template at "
           "low injection"),
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
