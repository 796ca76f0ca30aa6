"""Steps of the decay_aware study (rule ``decay_aware_<step>``)."""

from __future__ import annotations

from pathlib import Path

from ...errors import InputError
from ...eventclass import common
from ...study import Context
from . import core


def train(ctx: Context) -> None:
    """Toy NanoAOD (signal, background) -> AUC vs training size of the four classifiers, figure, metrics.json."""
    c = ctx.cfg
    files = common.process_files(ctx.input.toy)
    for key in ("signal", "background"):
        if getattr(c, key) not in files:
            raise InputError("config", f"studies.decay_aware.{key}",
                             f"process {getattr(c, key)!r} not among the inputs {sorted(files)}")
    m = core.run(files, c.signal, c.background, list(c.sizes), list(c.seeds),
                 common.encoder_hp(c.encoder), c.aux_weight, common.train_config(ctx.seed), c.target_steps,
                 c.max_epochs, None, bdt_trees=c.bdt_trees, model_out=Path(ctx.output.model))
    core.plot(m, ctx.output.png, rlabel=f"{ctx.tier} tier")
    ctx.write_metrics(m)
