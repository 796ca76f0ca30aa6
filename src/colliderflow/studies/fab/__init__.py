"""FAB (arXiv:2411.16234): flow annealed importance sampling bootstrap on a
differentiable Dalitz-plot matrix element, against reverse KL, forward KL and
VEGAS at equal numbers of target evaluations (the science: :mod:`.core`)."""

from __future__ import annotations

from dataclasses import dataclass

from ...study import Step, Study, Verdict


@dataclass(frozen=True)
class FlowConfig:
    transforms: int
    hidden: tuple[int, ...]
    bins: int
    lr: float


@dataclass(frozen=True)
class FabConfig:
    n_intermediate: int
    n_leapfrog: int
    step_size: float
    target_accept: float
    ais_batch: int
    buffer_size: int
    min_buffer: int
    updates_per_batch: int
    max_log_w_adjust: float


@dataclass(frozen=True)
class ForwardKLConfig:
    envelope_grid: int
    envelope_safety: float


@dataclass(frozen=True)
class VegasConfig:
    neval_per_iteration: int
    alpha: float
    reference_iterations: int


@dataclass(frozen=True)
class Config:
    budget: int
    budget_range: float
    checkpoints: int
    n_eval: int
    n_plot: int
    batch_size: int
    unweight_quantile: float
    ess_margin: float
    flow: FlowConfig
    fab: FabConfig
    forward_kl: ForwardKLConfig
    vegas: VegasConfig
    reduced_vs_paper: str


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """FAB's ESS/N above reverse KL's by more than ``ess_margin`` at the final equal budget."""
    fab, rkl = metrics["at_equal_evals"]["fab"], metrics["at_equal_evals"]["reverse_kl"]
    return Verdict(holds=bool(fab["ess_per_n"] > rkl["ess_per_n"] + cfg.ess_margin),
                   key_metric={"name": "FAB sampling efficiency ESS/N at the final equal budget",
                               "value": round(fab["ess_per_n"], 4)})


STUDY = Study(
    name="fab",
    paper="arXiv:2411.16234",
    title="Flow annealed importance sampling bootstrap meets differentiable particle physics",
    claim="FAB reaches a higher sampling efficiency than reverse KL at the same number of target evaluations",
    config=Config,
    steps=(Step("train", outputs=("metrics", "curves", "efficiency", "dalitz", "pdfs"), gpu=True, mem_mb=4000,
                runtime=60, doc="train FAB, reverse-KL and forward-KL flows and VEGAS; curves, figures, metrics"),),
    figures=("efficiency", "dalitz"),
    category="arXiv:2411.16234 FAB",
    verdict=verdict,
)
