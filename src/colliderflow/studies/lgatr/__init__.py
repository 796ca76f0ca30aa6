"""L-GATr (arXiv:2411.00446): a Lorentz-equivariant transformer (the lgatr package) vs a plain
transformer for top tagging on constituent four-momenta, across training-set sizes and seeds,
plus a boost/rotation invariance scan."""

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


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """(a) L-GATr invariant within tolerance, (b) the baseline clearly not invariant, (c) at the smallest
    training size L-GATr with spurions has mean AUC >= the baseline's - sqrt(sd_L^2 + sd_B^2)."""
    small = metrics["smallest_size"]
    small_ok = small["auc_lgatr"] >= small["auc_baseline"] - small["seed_spread"]
    holds = invariance_ok(metrics["invariance"], cfg.invariance) and baseline_breaks(metrics["invariance"],
                                                                                       cfg.invariance) and small_ok
    return Verdict(holds=bool(holds), key_metric={
        "name": f"L-GATr (spurions) AUC at n_train={small['n_train']} (baseline {small['auc_baseline']:.3f})",
        "value": round(small["auc_lgatr"], 4)})


STUDY = Study(
    name="lgatr",
    paper="arXiv:2411.00446",
    title="L-GATr: a Lorentz-equivariant transformer vs a plain transformer for top tagging",
    claim=("L-GATr's output is Lorentz invariant (boosts and rotations change it only at floating-point "
           "precision, unlike a plain transformer's), and the equivariant network is at least as "
           "data-efficient as a non-equivariant transformer of similar size"),
    config=Config,
    steps=(
        Step("train", inputs=("jets",), outputs=("result", "lgatr", "lgatr_sb", "baseline"), gpu=True, mem_mb=8000,
             runtime=120,
             doc="train L-GATr (with and without spurions) and the plain transformer at every size, one seed"),
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
