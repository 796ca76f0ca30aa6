"""The frozen config of ``studies.ranode`` (defaults: schema.yaml). The
transit study reads this section too (regions, data split, classifier)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import InputError
from .jobs import METHODS, VERDICT_METHODS, ordered


@dataclass(frozen=True)
class Regions:
    """Signal region [sr_lo, sr_hi) and sidebands [sb_lo, sr_lo) + [sr_hi, sb_hi) in TeV."""

    sr_lo: float
    sr_hi: float
    sb_lo: float
    sb_hi: float

    def __post_init__(self) -> None:
        if not (self.sb_lo < self.sr_lo < self.sr_hi < self.sb_hi):
            raise InputError("config", "studies.ranode.regions", f"need sb_lo < sr_lo < sr_hi < sb_hi, got {self}")

    def sr(self, m: np.ndarray) -> np.ndarray:
        m = np.asarray(m)
        return (m >= self.sr_lo) & (m < self.sr_hi)

    def sb(self, m: np.ndarray) -> np.ndarray:
        m = np.asarray(m)
        return ((m >= self.sb_lo) & (m < self.sr_lo)) | ((m >= self.sr_hi) & (m < self.sb_hi))


@dataclass(frozen=True)
class Flow:
    """A zuko flow and its training (background, ANODE and R-ANODE signal flows)."""

    kind: str
    transforms: int
    hidden: tuple[int, ...]
    bins: int
    epochs: int
    batch_size: int
    lr: float
    patience: int
    max_events: int
    min_steps: int = 0


@dataclass(frozen=True)
class Classifier:
    """The xgboost classifier of CATHODE, TRANSIT (CWoLa), IAD, supervised and the closure test."""

    n_estimators: int
    max_depth: int
    learning_rate: float
    early_stopping: int
    min_child_weight: float


@dataclass(frozen=True)
class Config:
    regions: Regions
    split_fractions: tuple[float, ...]
    injections: tuple[int, ...]
    seeds: int
    curve_injection: int
    kfold: int
    oversample: float
    w_init: float
    w_lr_scale: float
    w_wrong_factor: float
    w_floor: float
    min_bkg_pass: int
    low_injection_s_over_sqrt_b: float
    background_flow: Flow
    anode_flow: Flow
    signal_flow: Flow
    classifier: Classifier
    reduced_vs_paper: str
    splits: int = 1
    scan_job: str = "seed"
    w_warmup_steps: int = 0
    methods: tuple[str, ...] = METHODS

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise InputError("config", "studies.ranode.methods",
                             f"unknown method {unknown[0]!r} (the scan's methods: {', '.join(METHODS)})")
        missing = [m for m in VERDICT_METHODS if m not in self.methods]
        if missing:
            raise InputError("config", "studies.ranode.methods",
                             f"must list {', '.join(missing)}: the ranode and transit verdicts read "
                             f"{', '.join(VERDICT_METHODS)}")
        object.__setattr__(self, "methods", ordered(self.methods))  # METHODS' order
        if self.split_fractions[1] < self.split_fractions[0]:
            raise InputError("config", "studies.ranode.split_fractions",
                             f"the IAD's background sample (fraction {self.split_fractions[1]}) must be at least as "
                             f"large as the data's ({self.split_fractions[0]}): else the IAD is no upper bound")
        if self.curve_injection not in self.injections:
            raise InputError("config", "studies.ranode.curve_injection",
                             f"{self.curve_injection} is not one of the injections {list(self.injections)}")
