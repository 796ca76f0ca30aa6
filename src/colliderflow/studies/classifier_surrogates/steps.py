"""Steps of the classifier_surrogates study (rule ``classifier_surrogates_<step>``)."""

from __future__ import annotations

import dataclasses

from ...data import part_jets
from ...study import Context
from . import core

LABELS_SUFFIX = "_labels.npy"


def run(ctx: Context) -> None:
    """Top/QCD constituents (ParT .npy layout) -> tagger, surrogates, figure, metrics.json."""
    cfg = dataclasses.asdict(ctx.cfg)
    labels = ctx.input.labels
    if not labels.endswith(LABELS_SUFFIX):
        raise ValueError(f"input 'labels' must end in {LABELS_SUFFIX}: {labels}")
    prefix = labels[: -len(LABELS_SUFFIX)]
    res = core.run(part_jets.read_jets(prefix), cfg, ctx.seed)
    metrics = core.summarise(res, cfg)
    core.plot(res, cfg, ctx.output.png, rlabel=core.rlabel(metrics))
    ctx.write_metrics({**metrics, "config": cfg, "inputs": prefix})
