"""Steps of the pretraining study (rule ``pretraining_<step>``)."""

from __future__ import annotations

from pathlib import Path

from ...errors import InputError
from ...eventclass import common
from ...io import read_json
from ...study import Context
from . import core


def encoder(ctx: Context) -> None:
    """Unlabelled events (toy process mixture or real NanoAOD) -> pre-trained encoder artifact (.pt + .json),
    and the null control's encoder pre-trained the same way on noise events made from them."""
    c = ctx.cfg
    files = list(common.process_files(ctx.input.toy).values())
    for null, out in ((False, ctx.output.model), (True, ctx.output.null_model)):
        core.pretrain(files, c.unlabelled.source, c.unlabelled.n_events, common.encoder_hp(c.encoder),
                      common.train_config(ctx.seed, epochs=c.pretrain_epochs, batch_size=max(common.BATCH_SIZE, 256),
                                          desc="pretrain (noise events)" if null else "pretrain"),
                      out, c.temperature, c.smear, c.drop, null=null)


def finetune(ctx: Context) -> None:
    """Labelled toy NanoAOD + the pre-trained encoder -> learning curves vs scratch, figure, metrics.json."""
    c = ctx.cfg
    files = common.process_files(ctx.input.toy)
    for key in ("signal", "background"):
        if getattr(c, key) not in files:
            raise InputError("config", f"studies.pretraining.{key}",
                             f"process {getattr(c, key)!r} not among the inputs {sorted(files)}")
    m = core.finetune_curves(ctx.input.encoder, files, c.signal, c.background, list(c.sizes), list(c.seeds),
                             common.train_config(ctx.seed), c.target_steps, c.max_epochs, None,
                             null_encoder_path=ctx.input.null_encoder)
    core.plot(m, ctx.output.png, rlabel=f"{ctx.tier} tier")
    enc = read_json(Path(ctx.input.encoder).with_suffix(".json"))
    ctx.write_metrics({**m, "pretraining": enc})
