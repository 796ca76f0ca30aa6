"""AdamMCMC (arXiv:2312.14027): Metropolis-adjusted Adam sampling of a pretrained jet tagger's
weights on the fine-class jet toy; acceptance vs proposal width with and without the prolate
stretch, predictive spread in/out of distribution vs a deep ensemble."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...study import Step, Study, Verdict


@dataclass(frozen=True)
class Config:
    jets: str
    ood_jets: str
    signal: tuple[str, ...]
    background: tuple[str, ...]
    ood: tuple[str, ...]
    n_constituents: int
    hidden: tuple[int, ...]
    epochs: int
    batch_size: int
    train_lr: float
    test_fraction: float
    n_samples: int
    lr: float
    sigma: float
    stretch: float
    temperature_per_jet: float
    prior_std: float
    reverse: str
    scan_sigmas: tuple[float, ...]
    scan_steps: int
    burn_in: int
    thin: int
    acceptance_margin: float
    spread_n_sigma: float


def acceptance_holds(scan: dict, chain_sigma: float, margin: float) -> bool:
    """Prolate minus spherical acceptance (``scan``: sigma, spherical, prolate) exceeds ``margin`` at every
    scanned sigma up to the chain's sigma and is nowhere below -``margin``."""
    gain = [p - s for p, s in zip(scan["prolate"], scan["spherical"], strict=True)]
    small = [g for g, sig in zip(gain, scan["sigma"], strict=True) if sig <= chain_sigma * (1 + 1e-9)]
    return bool(small and all(g > margin for g in small) and all(g > -margin for g in gain))


def spread_ood_gt_id(spreads: dict, model: str, n_sigma: float) -> bool:
    """The mean predictive spread of ``model`` (mcmc, ensemble) is larger out of distribution than in, by more
    than ``n_sigma`` combined standard errors."""
    a, b = spreads[f"{model}_ood"], spreads[f"{model}_test"]
    return bool(a["mean"] - b["mean"] > n_sigma * math.hypot(a["mean_err"], b["mean_err"]))


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """The prolate proposal's acceptance gain (:func:`acceptance_holds`) and the sampled taggers' OOD spread
    above the ID one (:func:`spread_ood_gt_id`); key metric: the two acceptances at the scanned sigma closest
    (in log) to the chain's."""
    scan, sigma = metrics["acceptance_scan"], metrics["chain"]["sigma"]
    holds = (acceptance_holds(scan, sigma, cfg.acceptance_margin)
             and spread_ood_gt_id(metrics["spread"], "mcmc", cfg.spread_n_sigma))
    i = min(range(len(scan["sigma"])), key=lambda k: abs(math.log(scan["sigma"][k] / sigma)))
    return Verdict(holds=bool(holds), key_metric={
        "name": f"acceptance prolate / spherical at sigma={scan['sigma'][i]:.2g}",
        "value": f"{scan['prolate'][i]:.2f} / {scan['spherical'][i]:.2f}"})


STUDY = Study(
    name="adammcmc",
    paper="arXiv:2312.14027",
    title="AdamMCMC: Metropolis-adjusted Adam with a prolate proposal",
    claim=("the proposal stretched along the Adam step keeps a higher acceptance than the spherical one at "
           "equal step size sigma (and the sampled taggers' spread is larger out of distribution than in)"),
    config=Config,
    steps=(
        Step("train", inputs=("jets", "ood_jets"), outputs=("tagger", "ensemble"), gpu=True, mem_mb=4000,
             runtime=60, doc="the pretrained tagger and the deep ensemble"),
        Step("sample", inputs=("tagger", "ensemble"), outputs=("npz", "info"), gpu=True, mem_mb=4000, runtime=60,
             doc="acceptance scan and sampling chain; predictions of the samples, the ensemble and the tagger"),
        Step("publish", inputs=("tagger", "npz", "info"), outputs=("check", "onnx", "card"),
             doc="ONNX + model card of the pretrained tagger, checked in onnxruntime"),
        Step("report", inputs=("npz", "info", "publish"),
             outputs=("metrics", "acceptance", "acceptance_pdf", "spread", "spread_pdf"),
             doc="acceptance and spread figures, metrics.json"),
    ),
    figures=("acceptance_vs_sigma", "predictive_spread"),
    category="arXiv:2312.14027 AdamMCMC",
    verdict=verdict,
)
