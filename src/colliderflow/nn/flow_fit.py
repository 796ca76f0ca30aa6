"""Fitting a (conditional) flow by maximum likelihood with the shared training
loop: used by the conditional-flow inference studies (bsm_scan,
mle_calibration, likelihood_flows) and l2lflows."""

from __future__ import annotations

import numpy as np
import torch

from .flows import StandardizedFlow
from .train import TrainConfig, fit


def train_flow(x, c=None, *, kind="nsf", transforms=3, hidden=(64, 64), bins=8, epochs=30, batch_size=512,
               lr=2e-3, seed=0, patience=8, desc="flow") -> tuple[StandardizedFlow, dict]:
    """A (conditional) :class:`StandardizedFlow` fitted by maximum likelihood with
    the shared training loop; returns (flow, history dict)."""
    x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    tensors = [x]
    if c is not None:
        c = torch.as_tensor(np.asarray(c), dtype=torch.float32).reshape(len(x), -1)
        tensors.append(c)
    torch.manual_seed(seed)
    flow = StandardizedFlow.fitted_to(x, c, kind=kind, transforms=transforms, hidden=tuple(hidden), bins=bins)
    hist = fit(flow, lambda m, b: m.nll(b), tensors,
               TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, patience=patience, desc=desc))
    return flow, hist.as_dict()
