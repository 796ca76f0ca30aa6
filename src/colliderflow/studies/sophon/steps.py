"""Steps of the sophon study (rule ``sophon_<step>``)."""

from __future__ import annotations

from pathlib import Path

from ...io import read_json, write_json
from ...study import Context

#: frozen validation inputs of the published encoder
N_VAL = 200


def pretrain(ctx: Context) -> None:
    """Pre-train on the fine classes, one resonance held out; one checkpoint (the cached artifact)."""
    from . import core

    core.pretrain(ctx.input.jets, ctx.output.model, ctx.cfg, ctx.seed)


def target(ctx: Context) -> None:
    """The toy transfer target (q, g and the held-out class), independent of the pre-training jets."""
    from . import core

    core.make_target(ctx.output.jets, ctx.cfg, ctx.cfg.n_constituents, ctx.seed + 2405)


def transfer(ctx: Context) -> None:
    """Fine-tune, probe and scratch for every labelled size and seed -> transfer.json."""
    from . import core

    write_json(ctx.output.transfer, core.transfer(ctx.input.jets, ctx.input.pretrained, ctx.cfg, ctx.seed))


def publish(ctx: Context) -> None:
    """The pre-trained encoder as ONNX + model card, checked in onnxruntime."""
    from ...publish import write_check
    from . import export

    out_dir = Path(ctx.output.onnx).parent
    write_check(ctx.output.check, export.publish(ctx.input.pretrained, ctx.input.jets, out_dir, N_VAL))


def report(ctx: Context) -> None:
    """Figure (rejection vs labelled jets) and metrics.json."""
    from . import core

    t = read_json(ctx.input.transfer)
    pub = read_json(ctx.input.publish)
    summary = core.summarise(t)
    core.plot(t, summary, ctx.output.png, rlabel=f"{ctx.tier} tier, {len(t['seeds'])} seeds (band: min to max)")
    metrics = {"summary": summary, "pretrain": t["pretrain"], "heldout": t["heldout"],
               "target": t.get("target", "toy"), "background": t["background"],
               "excluded_from_pretraining": t.get("excluded_from_pretraining", []),
               "sizes_per_class": t["sizes"], "seeds": t["seeds"],
               "n_test_per_class": t["n_test_per_class"], "published_encoder": pub}
    ctx.write_metrics(metrics)
