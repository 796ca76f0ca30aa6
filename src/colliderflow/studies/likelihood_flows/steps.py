"""Steps of the likelihood_flows study (rule ``likelihood_flows_<step>``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ...errors import InputError
from ...study import Context
from . import core


def read_masses(path: str | Path) -> np.ndarray:
    """The dimuon masses (GeV) saved by the dimuon study; one-line errors for a bad file."""
    try:
        masses = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(path, None, f"not a numpy array of dimuon masses ({type(exc).__name__})") from None
    if masses.ndim != 1 or not np.all(np.isfinite(masses)):
        raise InputError(path, None, "dimuon masses must be a 1-d array of finite values")
    return masses


def run(ctx: Context) -> None:
    """Fit, test, export the accepted flow beside metrics.json (``export/``, ONNX in ``published/``) -> figure,
    metrics.json (a rejected flow is still published, for inspection; its card says it failed the gate)."""
    cfg = dataclasses.asdict(ctx.cfg)
    masses = None
    if cfg["posterior"] == "dimuon_z":  # the dimuon study's masses of the configured dataset
        path = ctx.input.masses
        masses = read_masses(path[0] if isinstance(path, (list, tuple)) else path)
    res = core.run(cfg, ctx.seed, Path(ctx.output.metrics).parent / "export", Path(ctx.output.card).parent,
                   masses=masses)
    if not res["accepted"]:  # nothing to publish: the verdict says so; the rule's outputs still exist
        post = res["posterior"]
        core.publish_onnx(res["flow"], Path(ctx.output.card).parent, res["gof"], cfg, res["x_val"],
                          features=tuple(post["features"]), posterior=core.card_posterior(post))
    metrics = core.summarise(res, cfg, seed=ctx.seed)
    core.plot(res, cfg, ctx.output.png)
    ctx.write_metrics({**metrics, "config": cfg})
