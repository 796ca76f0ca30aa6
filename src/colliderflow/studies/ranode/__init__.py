"""R-ANODE (arXiv:2312.11629) on the LHC Olympics R&D features: ANODE,
CATHODE, R-ANODE (w fixed true / fixed wrong / learnable), IAD and supervised
over a signal-injection scan.

Shared with the ``transit`` study: the data split and the frozen background
flow (:mod:`.background`, step ``background``) and the per-seed injection
scans (:mod:`.scan`, step ``scan``, which also scores TRANSIT)."""

from __future__ import annotations

from ...study import Step, Study, Verdict
from .config import Classifier, Config, Flow, Regions

__all__ = ["STUDY", "Classifier", "Config", "Flow", "Regions", "verdict"]


def claim(cfg: Config) -> str:
    return ("R-ANODE with the true w beats ANODE and CATHODE at low injection (mean median max SIC over "
            f"0 < S/sqrt(B) <= {cfg.low_injection_s_over_sqrt_b})")


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """R-ANODE (true w) above ANODE and CATHODE in the mean median max SIC at low injection."""
    low = metrics["low_injection_mean_max_sic"]
    holds = low["ranode_true_w"] is not None and low["ranode_true_w"] > low["anode"] \
        and low["ranode_true_w"] > low["cathode"]
    key = next(r["median"] for r in metrics["max_sic"]["ranode_true_w"] if r["n_sig"] == cfg.curve_injection)
    return Verdict(holds=bool(holds), claim=claim(cfg),
                   key_metric={"name": f"R-ANODE (true w) median max SIC at N_sig={cfg.curve_injection}",
                               "value": round(key, 3)})


STUDY = Study(
    name="ranode",
    paper="arXiv:2312.11629",
    title="R-ANODE: signal-only flow in a fixed mixture with a sideband background flow (LHCO R&D)",
    claim=("R-ANODE with the true w beats ANODE and CATHODE at low injection (mean median max SIC over "
           "0 < S/sqrt(B) <= studies.ranode.low_injection_s_over_sqrt_b)"),
    config=Config,
    steps=(
        Step("background", inputs=("events",), outputs=("model", "hparams"), gpu=True, mem_mb=8000, runtime=120,
             doc="train the frozen background model: flow p_B(x | mjj) on the sidebands and a p_B(mjj) fit"),
        Step("scan", inputs=("events", "background", "transit"), outputs=("scan",),
             doc="one seed of the injection scan: every method (TRANSIT too) at every injection; max SIC"),
        Step("report", inputs=("scans",), outputs=("metrics", "max_sic", "curves", "w", "pdfs"),
             doc="max SIC vs S/sqrt(B), SIC curves, learned w; metrics.json"),
    ),
    figures=("max_sic_vs_injection", "sic_curves", "learned_w"),
    category="R-ANODE",
    verdict=verdict,
)
