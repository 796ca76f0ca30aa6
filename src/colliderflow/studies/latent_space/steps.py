"""Steps of the latent_space study (rule ``latent_space_<step>``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...data.toy_nanoaod import INDISTINGUISHABLE
from ...errors import InputError
from ...eventclass import common
from ...study import Context
from . import core


def near_model(c: Any, files: dict, seed: int, out_dir: Path) -> dict:
    """The near-degenerate model (the toy knob ``near``): the ``near.base``
    process with its X and Y masses scaled by 1 + ``near.mass_shift``, written
    beside the other models (events from another random stream than the base
    file). At 0.08 a dedicated classifier separates it from its base with an
    AUC of about 0.7: physically different, nearly degenerate."""
    from ...data.toy_nanoaod import PROCESSES, write_process

    if c.near.mass_shift == 0:
        return {}
    base = c.near.base
    if base not in files or "m_y" not in PROCESSES[base]:
        raise InputError("config", "studies.latent_space.near.base",
                         f"{base!r} must be one of the models with a Y mass (x4j_*), got models {sorted(files)}")
    name = f"{base}_near"
    path = out_dir / f"{name}.root"
    scale = 1 + c.near.mass_shift
    write_process(path, base, 2 * (c.n_train + c.n_eval), seed + 1000,
                  params={"mass": PROCESSES[base]["mass"] * scale, "m_y": PROCESSES[base]["m_y"] * scale})
    return {name: str(path)}


def train(ctx: Context) -> None:
    """Toy NanoAOD of every model (+ the near-degenerate one) -> contrastive latent space, metrics, latent map,
    metrics.json."""
    import tempfile

    c = ctx.cfg
    files = common.process_files(ctx.input.toy)
    pairs = [p for p in INDISTINGUISHABLE if p[0] in files and p[1] in files]
    with tempfile.TemporaryDirectory() as tmp:
        extra = near_model(c, files, ctx.seed, Path(tmp))
        near = [(c.near.base, name) for name in extra]
        m = core.run({**files, **extra}, pairs, common.encoder_hp(c.encoder), c.latent_dim,
                     common.train_config(ctx.seed, epochs=c.epochs, batch_size=max(common.BATCH_SIZE, 256),
                                         desc="supcon"),
                     c.n_train, c.n_eval, c.set_size, c.temperature, None, model_out=Path(ctx.output.model),
                     near=near)
    m["near_mass_shift"] = c.near.mass_shift
    core.plot_map(m, ctx.output.png, rlabel=f"{ctx.tier} tier")
    ctx.write_metrics(m)
