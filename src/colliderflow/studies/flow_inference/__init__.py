"""Conditional flows for inference (issue 7): BSM parameter scan
(arXiv:2409.13201), maximum-likelihood calibration (Du, Krause, Mikuni,
Nachman, Pang, Shih), likelihood communication with goodness-of-fit tests
(Araz et al., nabu) and classifier surrogates (arXiv:2402.15558)."""

from __future__ import annotations

import numpy as np
import torch

from ...errors import InputError
from ...nn.flows import StandardizedFlow
from ...nn.train import TrainConfig, fit


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


def require_keys(cfg: dict, keys, where: str) -> None:
    missing = [k for k in keys if k not in cfg]
    if missing:
        raise InputError(where, missing[0], "config key missing")


STUDIES = ("bsm_scan", "mle_calibration", "likelihood_flows", "classifier_surrogates")


def run_study(name: str, cfg: dict, seed: int, outdir, tier: str = "default", inputs=None) -> dict:
    """Run one study end to end: the module's ``run`` -> ``summarise`` -> ``plot``,
    then ``metrics.json`` (with ``holds`` from ``summarise``). Returns the metrics doc."""
    import importlib
    from pathlib import Path

    from ...metrics import write_metrics

    if name not in STUDIES:
        raise InputError("config", "study", f"unknown study '{name}' (one of {', '.join(STUDIES)})")
    mod = importlib.import_module(f"{__name__}.{name}")
    outdir = Path(outdir)
    extra = {}
    if name == "likelihood_flows":
        res = mod.run(cfg, seed, outdir / "export")
    elif name == "classifier_surrogates":
        from ...data import part_jets

        if not inputs:
            raise InputError("config", "inputs", "classifier_surrogates needs a jet-constituent file prefix")
        res = mod.run(part_jets.read_jets(inputs), cfg, seed)
        extra["inputs"] = str(inputs)
    else:
        res = mod.run(cfg, seed)
    metrics, holds = mod.summarise(res, cfg)
    rl = mod.rlabel(metrics) if hasattr(mod, "rlabel") else ""
    if name == "bsm_scan":
        mod.plot(res, outdir / f"{name}.png", rlabel=rl)
    else:
        mod.plot(res, cfg, outdir / f"{name}.png", rlabel=rl)
    meta = mod.META
    return write_metrics(outdir / "metrics.json", study=name, paper=meta["paper"], title=meta["title"],
                         key_metric=meta["key_metric"](metrics), claim=meta["claim"], holds=holds,
                         metrics={**metrics, "config": cfg, **extra}, tier=tier)
