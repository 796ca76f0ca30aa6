"""The config dataclasses of the unfolding study: ``studies.unfolding``
(:class:`Config`) and its dataset section ``data.unfolding`` (:class:`Data`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ibu:
    iterations: int
    bootstrap: int


@dataclass(frozen=True)
class Omnifold:
    iterations: int
    ensemble: int


@dataclass(frozen=True)
class Classifier:
    hidden: int
    layers: int
    epochs: int
    batch_size: int


@dataclass(frozen=True)
class Spinup:
    kind: str
    transforms: int
    hidden: int
    epochs: int
    batch_size: int
    proposals: int
    ensemble: int
    samples: int


@dataclass(frozen=True)
class Config:
    bins: int
    max_events: int
    ibu: Ibu
    omnifold: Omnifold
    classifier: Classifier
    spinup: Spinup
    prior_shift_tolerance: float


@dataclass(frozen=True)
class Toy:
    n_sim: int
    n_data: int


@dataclass(frozen=True)
class Data:
    source: str
    files: tuple[str, ...]
    min_pt: float
    prior_slope: float
    toy: Toy
