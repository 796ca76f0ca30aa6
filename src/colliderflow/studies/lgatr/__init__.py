"""L-GATr (arXiv:2411.00446): a Lorentz-equivariant transformer (the lgatr package) vs the paper's
competitor, a ParT-like transformer with pair-interaction bias (and a plain transformer for context), for
top tagging on constituent four-momenta across training-set sizes and paired seeds; a boost/rotation
invariance scan is recorded as a check of the package."""

from __future__ import annotations

from dataclasses import dataclass

from ...study import Step, Study, Verdict


@dataclass(frozen=True)
class LGATrConfig:
    blocks: int
    mv_channels: int
    s_channels: int
    heads: int
    mlp_ratio: int
    readout: str


@dataclass(frozen=True)
class BaselineConfig:
    dim: int
    heads: int
    layers: int


@dataclass(frozen=True)
class TrainConfig:
    samples: int
    max_epochs: int
    batch_size: int
    lr: float
    patience: int
    bf16: bool = False


@dataclass(frozen=True)
class InvarianceConfig:
    n_jets: int
    rapidities: tuple[float, ...]
    n_transforms: int
    tol_float64: float
    tol_float32: float
    float32_max_rapidity: float
    baseline_min_shift: float


@dataclass(frozen=True)
class Config:
    dataset: str
    signal: str
    background: tuple[str, ...]
    n_constituents: int
    n_test: int
    train_sizes: tuple[int, ...]
    seeds: int
    efficiency: float
    lgatr: LGATrConfig
    baseline: BaselineConfig
    part: BaselineConfig
    train: TrainConfig
    invariance: InvarianceConfig


def invariance_ok(inv: dict, tol: InvarianceConfig) -> bool:
    """L-GATr in float64: max |d logit| / logit std <= tol_float64 at every rapidity; in float32: median
    <= tol_float32 up to float32_max_rapidity (``inv``: the invariance scans of metrics.json)."""
    lg32, lg64 = inv["lgatr_float32"], inv["lgatr_float64"]
    low = [k for k, w in enumerate(lg32["rapidity"]) if w <= tol.float32_max_rapidity]
    return bool(max(lg64["relative_max"]) <= tol.tol_float64
                and max(lg32["relative_median"][k] for k in low) <= tol.tol_float32)


def baseline_breaks(inv: dict, tol: InvarianceConfig) -> bool:
    """The plain transformer's median |d logit| / logit std exceeds baseline_min_shift at the largest rapidity."""
    return bool(inv["baseline"]["relative_median"][-1] > tol.baseline_min_shift)


#: non-inferiority tolerance on the AUC at every training size
AUC_TOLERANCE = 0.005
TOLERANCE_REASON = ("at least as good: the paper's top-tagging AUCs are 0.9870 (L-GATr) and 0.9858 (ParT), "
                    "a 0.001 difference; 0.005 allows for ~10k-parameter networks on a toy, at 2 SE of the "
                    "paired seed differences")


def comparisons(metrics: dict) -> list:
    """The paper's claim as comparisons (:mod:`colliderflow.verdict`), paired over training seeds (each
    seed one nested training subset shared by every model, one fixed test set): L-GATr in the paper's
    tagging setup (beam and time spurions) against the ParT-like transformer (pair-interaction bias, the
    paper's competitor) -- not worse by more than ``AUC_TOLERANCE`` at every training size, and better at
    the smallest; the plain transformer and the exactly invariant L-GATr are shown for context.
    Invariance is a property of the lgatr package, checked in the tests, not part of the claim."""
    from ...verdict import Comparison

    perf = metrics["performance"]
    sizes = perf["lgatr_sb"]["n_train"]
    if perf["part"]["n_train"] != sizes:
        raise ValueError("L-GATr and the ParT-like baseline must be trained at the same sizes")

    def auc(kind: str, k: int) -> list:
        return perf[kind]["auc_seeds"][k]

    out = [Comparison.paired("ParT-like transformer (pair-interaction bias)", f"test AUC at {n} training jets",
                             auc("lgatr_sb", k), auc("part", k), margin=-AUC_TOLERANCE, k=2, reason=TOLERANCE_REASON)
           for k, n in enumerate(sizes)]
    out.append(Comparison.paired(
        "ParT-like transformer (pair-interaction bias), smallest size", f"test AUC at {sizes[0]} training jets",
        auc("lgatr_sb", 0), auc("part", 0), k=2,
        reason="the paper: the equivariant network is more data-efficient, better with the fewest training jets; "
               "gain > 2 SE of the paired seed differences"))
    out.append(Comparison.paired(
        "plain transformer (no pair bias, no symmetry)", f"test AUC at {sizes[0]} training jets",
        auc("lgatr_sb", 0), auc("baseline", 0), k=2, null=True, required=False,
        reason="context: the naive non-equivariant baseline"))
    out.append(Comparison.paired(
        "ParT-like transformer (invariant L-GATr, no spurions)", f"test AUC at {sizes[0]} training jets",
        auc("lgatr", 0), auc("part", 0), margin=-AUC_TOLERANCE, k=2, required=False,
        reason="context: the exactly invariant L-GATr (cannot see the beam) against the competitor"))
    return out


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """holds: L-GATr (spurions) is non-inferior to the ParT-like baseline at every training size and better at
    the smallest, over paired seeds (:func:`comparisons`)."""
    perf = metrics["performance"]
    d = perf["lgatr_sb"]["auc"][0] - perf["part"]["auc"][0]
    return Verdict.of(comparisons(metrics), key_metric={
        "name": f"AUC L-GATr (spurions) - ParT-like at n_train={perf['lgatr_sb']['n_train'][0]}",
        "value": round(d, 4)})


STUDY = Study(
    name="lgatr",
    paper="arXiv:2411.00446",
    title="L-GATr: a Lorentz-equivariant transformer vs a ParT-like transformer for top tagging",
    claim=("L-GATr tags top jets at least as well as a Particle-Transformer-like network of comparable size at "
           "every training-set size, and better with few training jets (more data-efficient)"),
    config=Config,
    steps=(
        Step("train", inputs=("jets",), outputs=("result", "lgatr", "lgatr_sb", "baseline"), gpu=True, mem_mb=8000,
             runtime=120,
             doc="train L-GATr (with and without spurions), the ParT-like and the plain transformer at every size, "
                 "one seed"),
        Step("publish", inputs=("jets", "models", "result"), outputs=("check", "onnx", "card"),
             doc="ONNX + model cards of the first seed's invariant L-GATr and baseline, checked in onnxruntime"),
        Step("report", inputs=("jets", "publish", "results", "models"),
             outputs=("metrics", "performance", "performance_pdf", "invariance", "invariance_pdf"),
             doc="invariance scan, performance and invariance figures, metrics.json"),
    ),
    figures=("lgatr_performance", "lgatr_invariance"),
    category="arXiv:2411.00446 L-GATr",
    verdict=verdict,
)
