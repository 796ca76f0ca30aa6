"""Fitting a (conditional) flow by maximum likelihood with the shared training
loop: used by the conditional-flow inference studies (bsm_scan,
mle_calibration, likelihood_flows) and l2lflows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import ArrayLike

from .flows import StandardizedFlow
from .train import TrainConfig, fit


def train_flow(x: ArrayLike, c: ArrayLike | None = None, *, kind: str = "nsf", transforms: int = 3,
               hidden: Sequence[int] = (64, 64), bins: int = 8, epochs: int = 30, batch_size: int = 512,
               lr: float = 2e-3, seed: int = 0, patience: int = 8, desc: str = "flow") -> tuple[StandardizedFlow, dict]:
    """A (conditional) :class:`StandardizedFlow` fitted by maximum likelihood with
    the shared training loop; returns (flow, history dict with its ``health``: did it learn)."""
    x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    tensors = [x]
    if c is not None:
        c = torch.as_tensor(np.asarray(c), dtype=torch.float32).reshape(len(x), -1)
        tensors.append(c)
    torch.manual_seed(seed)
    flow = StandardizedFlow.fitted_to(x, c, kind=kind, transforms=transforms, hidden=tuple(hidden), bins=bins)
    hist = fit(flow, lambda m, b: m.nll(b), tensors,
               TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, patience=patience, desc=desc))
    return flow, {**hist.as_dict(), "health": hist.health()}
