"""Steps of the latent_space study (rule ``latent_space_<step>``)."""

from __future__ import annotations

from pathlib import Path

from ...data.toy_nanoaod import INDISTINGUISHABLE
from ...eventclass import common
from ...study import Context
from . import checks, core


def train(ctx: Context) -> None:
    """Toy NanoAOD of every model -> contrastive latent space, metrics, latent map, metrics.json."""
    c = ctx.cfg
    files = common.process_files(ctx.input.toy)
    pairs = [p for p in INDISTINGUISHABLE if p[0] in files and p[1] in files]
    m = core.run(files, pairs, common.encoder_hp(c.encoder), c.latent_dim,
                 common.train_config(ctx.seed, epochs=c.epochs, batch_size=max(common.BATCH_SIZE, 256), desc="supcon"),
                 c.n_train, c.n_eval, c.set_size, c.temperature, None, model_out=Path(ctx.output.model))
    core.plot_map(m, ctx.output.png, rlabel=f"{ctx.tier} tier")
    ctx.write_metrics({**m, "verdict": checks(m, c)})
