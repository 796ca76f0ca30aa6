"""AdamMCMC (arXiv:2312.14027): Metropolis-adjusted Adam sampling of a pretrained jet tagger's
weights on the fine-class jet toy; acceptance vs proposal width with and without the prolate
stretch, predictive spread in/out of distribution vs a deep ensemble."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...study import Step, Study, Verdict
from ...verdict import Comparison


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
    ensemble_tolerance: float


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
    """Comparisons (block / jet bootstrap errors):

    * prolate vs spherical proposal (the paper's no-stretch alternative): acceptance higher by more than
      ``acceptance_margin`` at 2 SE at every scanned sigma up to the chain's;
    * OOD vs ID jets: the sampled taggers' mean spread larger OOD, by ``spread_n_sigma`` SE;
    * the deep ensemble (the paper's competitor): log(OOD / ID spread) not smaller than the ensemble's by
      more than ``ensemble_tolerance`` at 2 SE;
    * the noise floor (null): the MAP weights jittered isotropically by the chain's distances must have a
      smaller log(OOD / ID spread) at 2 SE (the posterior geometry, not any weight noise, makes the spread)."""
    scan, sigma = metrics["acceptance_scan"], metrics["chain"]["sigma"]
    comps = []
    for i, s in enumerate(scan["sigma"]):
        if s > sigma * (1 + 1e-9):
            continue
        comps.append(Comparison.estimate(
            "spherical proposal (no stretch)", f"acceptance at sigma = {s:.2g}", scan["prolate"][i],
            scan["spherical"][i], math.hypot(scan["prolate_err"][i], scan["spherical_err"][i]),
            n=scan["steps_per_point"], over="bootstrap", margin=cfg.acceptance_margin, k=2,
            reason=f"the paper: the stretch keeps the acceptance up at small step sizes; an absolute gain above "
                   f"{cfg.acceptance_margin:g} at 2 SE (block bootstrap of the accept flags)"))
    sc = metrics["spread_comparison"]
    v, e = sc["value"], sc["error"]
    sp = metrics["spread"]
    comps.append(Comparison.estimate(
        "in-distribution jets", "AdamMCMC mean predictive spread (OOD vs ID)", sp["mcmc_ood"]["mean"],
        sp["mcmc_test"]["mean"], e["mcmc_diff"], n=sc["n_id"] + sc["n_ood"], over="bootstrap",
        k=cfg.spread_n_sigma, reason=f"the paper: the spread grows out of distribution; by {cfg.spread_n_sigma:g} "
                                     "SE (jet bootstrap)"))
    stat = "log(OOD / ID mean predictive spread)"
    comps.append(Comparison.estimate(
        "deep ensemble", stat, v["mcmc_log_ratio"], v["ensemble_log_ratio"], e["mcmc_minus_ensemble_log_ratio"],
        n=sc["n_id"] + sc["n_ood"], over="bootstrap", margin=-cfg.ensemble_tolerance, k=2,
        reason=f"the paper's competitor: OOD sensitivity comparable to a deep ensemble's, not smaller by more than "
               f"{cfg.ensemble_tolerance:g} in log ratio (a factor {math.exp(-cfg.ensemble_tolerance):.2f}) at 2 "
               "SE (paired jet bootstrap)"))
    comps.append(Comparison.estimate(
        "isotropic weight noise of the chain's size", stat, v["mcmc_log_ratio"], v["noise_log_ratio"],
        e["mcmc_minus_noise_log_ratio"], n=sc["n_id"] + sc["n_ood"], over="bootstrap", k=2, null=True,
        reason="noise floor: any weight jitter spreads OOD outputs more; the sampled posterior must do so by more "
               "than 2 SE beyond it"))
    i = min(range(len(scan["sigma"])), key=lambda k: abs(math.log(scan["sigma"][k] / sigma)))
    return Verdict.of(comps, key_metric={
        "name": f"acceptance prolate / spherical at sigma={scan['sigma'][i]:.2g}",
        "value": f"{scan['prolate'][i]:.2f} / {scan['spherical'][i]:.2f}"})


STUDY = Study(
    name="adammcmc",
    paper="arXiv:2312.14027",
    title="AdamMCMC: Metropolis-adjusted Adam with a prolate proposal",
    claim=("the proposal stretched along the Adam step keeps a higher acceptance than the spherical one at "
           "equal step size sigma, and the sampled taggers' spread is larger out of distribution than in, "
           "comparable to a deep ensemble and beyond a weight-noise floor"),
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
