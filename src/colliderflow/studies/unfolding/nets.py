"""Neural pieces shared by OmniFold and SPINUP: the feature transform, a
weighted binary classifier (likelihood ratios, efficiency)
trained with the project's training loop."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike

from ...nn.train import TrainConfig, fit


@dataclass
class NetConfig:
    hidden: int = 64
    layers: int = 3
    epochs: int = 20
    batch_size: int = 512
    lr: float = 2e-3
    patience: int = 5
    seed: int = 0


class Features:
    """Map observables to network inputs: log1p of the ``log`` observables,
    logit of the ``bounds`` ones ({name: (lo, hi)}); with an ``rng``,
    integer observables are spread uniformly over their unit bin (for
    densities). :meth:`inverse` maps back."""

    def __init__(self, observables: Sequence[str], log: Sequence[str] = (), integer: Sequence[str] = (),
                 bounds: dict | None = None) -> None:
        self.log = np.array([o in log for o in observables])
        self.integer = np.array([o in integer for o in observables])
        bounds = bounds or {}
        self.bounded = np.array([o in bounds for o in observables])
        self.lo = np.array([bounds.get(o, (0, 1))[0] for o in observables], dtype=float)[self.bounded]
        self.hi = np.array([bounds.get(o, (0, 1))[1] for o in observables], dtype=float)[self.bounded]

    def __call__(self, x: ArrayLike, rng: np.random.Generator | None = None) -> np.ndarray:
        x = np.array(x, dtype=float, copy=True)
        if rng is not None and self.integer.any():
            x[:, self.integer] += rng.uniform(-0.5, 0.5, (len(x), int(self.integer.sum())))
        x[:, self.log] = np.log1p(np.maximum(x[:, self.log], 0.0))
        u = np.clip((x[:, self.bounded] - self.lo) / (self.hi - self.lo), 1e-5, 1 - 1e-5)
        x[:, self.bounded] = np.log(u / (1 - u))
        return x

    def inverse(self, y: ArrayLike) -> np.ndarray:
        y = np.array(y, dtype=float, copy=True)
        y[:, self.log] = np.expm1(y[:, self.log])
        y[:, self.bounded] = self.lo + (self.hi - self.lo) / (1 + np.exp(-y[:, self.bounded]))
        return y


class Classifier(torch.nn.Module):
    """MLP with input standardisation; ``forward`` returns the logit."""

    def __init__(self, d: int, hidden: int, layers: int, mean: ArrayLike, std: ArrayLike) -> None:
        super().__init__()
        mods, width = [], d
        for _ in range(layers):
            mods += [torch.nn.Linear(width, hidden), torch.nn.SiLU()]
            width = hidden
        self.net = torch.nn.Sequential(*mods, torch.nn.Linear(width, 1))
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    def forward(self, x: ArrayLike) -> torch.Tensor:
        return self.net((x - self.mean) / self.std).squeeze(-1)


def _bce(model: torch.nn.Module, batch: list[torch.Tensor]):
    x, y, w = batch
    return (w * torch.nn.functional.binary_cross_entropy_with_logits(model(x), y, reduction="none")).mean()


#: training health of a classifier whose two samples may rightly be indistinguishable (:func:`train_classifier`)
OWN_DATA_CRITERION = ("validation loss falls by >= {min_improvement:g} from its initial value, or (the two samples "
                      "may rightly be indistinguishable, e.g. OmniFold's step 1 once the weights describe the data) "
                      "the weighted loss on the classifier's own data falls below its initial network's")


def train_classifier(x0: ArrayLike, w0: ArrayLike, x1: ArrayLike, w1: ArrayLike, cfg: NetConfig,
                     desc: str = "classifier", may_learn_nothing: bool = False) -> Classifier:
    """Weighted classifier of class 1 (``x1``, ``w1``) against class 0; the
    classes are balanced to equal total weight, so ``exp(logit)`` estimates
    ``p1(x) / p0(x)`` of the normalised densities. ``may_learn_nothing``: the
    samples may rightly be indistinguishable, so its health record uses
    :data:`OWN_DATA_CRITERION` (an optimiser that never lowers the loss on the
    network's own data still fails it)."""
    x = np.concatenate([x0, x1])
    w = np.concatenate([w0 / w0.sum(), w1 / w1.sum()])
    y = np.concatenate([np.zeros(len(x0), bool), np.ones(len(x1), bool)])
    return _natural_classifier(x, y, w, cfg, desc, may_learn_nothing)


def logit(model: Classifier, x: ArrayLike, batch: int = 65536) -> np.ndarray:
    with torch.no_grad():
        x = torch.as_tensor(np.asarray(x, dtype=np.float32))
        if not len(x):
            return np.zeros(0)
        return np.concatenate([model(x[i:i + batch]).numpy() for i in range(0, len(x), batch)])


def efficiency_model(sim: dict, feats: Features, cfg: NetConfig) -> Classifier:
    """Classifier of P(reconstructed | truth) on the simulated particle level."""
    gp = sim["gen_pass"]
    return _natural_classifier(feats(sim["gen"][gp]), sim["reco_pass"][gp], sim["weight"][gp], cfg, "efficiency")


def _natural_classifier(x: ArrayLike, y: ArrayLike, w: ArrayLike, cfg: NetConfig, desc: str,
                        may_learn_nothing: bool = False):
    """Classifier with natural class weights: sigmoid(logit) = P(y=1 | x)."""
    x = x.astype(np.float32)
    model = Classifier(x.shape[1], cfg.hidden, cfg.layers, x.mean(0), x.std(0) + 1e-6)
    wn = w / w.mean()
    tensors = [torch.from_numpy(x), torch.tensor(y, dtype=torch.float32), torch.tensor(wn, dtype=torch.float32)]
    if may_learn_nothing:
        with torch.no_grad():
            own_initial = float(_bce(model, tensors))
    fit(model, _bce, tensors,
        TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, patience=cfg.patience, seed=cfg.seed,
                    desc=desc))
    if may_learn_nothing:  # replace the shared loop's record of this training by the study's check
        from ... import health

        with torch.no_grad():
            own_final = float(_bce(model, tensors))
        name, rec = health.RECORDS.pop()
        trained = bool(rec["trained"] or (rec["steps"] > 0 and own_final < own_initial))
        if not rec["trained"]:
            import logging

            logging.getLogger(__name__).info("%s: judged on its own data instead (the samples may be "
                                             "indistinguishable): weighted loss %.5f -> %.5f, %s", name, own_initial,
                                             own_final, "trained" if trained else "DID NOT TRAIN")
        health.add(name, {**rec, "trained": trained, "own_data_initial": round(own_initial, 6),
                          "own_data_final": round(own_final, 6),
                          "criterion": OWN_DATA_CRITERION.format(min_improvement=health.MIN_IMPROVEMENT)})
    return model
