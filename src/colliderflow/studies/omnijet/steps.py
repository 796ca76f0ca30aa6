"""Steps of the omnijet study (rule ``omnijet_<step>``)."""

from __future__ import annotations

from ...errors import InputError
from ...io import read_json
from ...study import Context
from . import REDUCED

#: frozen validation inputs of each published model
N_VAL = 200


def tokenizer(ctx: Context) -> None:
    """Train the VQ-VAE constituent tokenizer and tokenize every jet."""
    from .tokenizer import run_tokenizer

    c, t = ctx.cfg, ctx.cfg.tokenizer
    run_tokenizer(ctx.input.jets, ctx.output.model, ctx.output.tokens, ctx.output.stats, list(c.classes),
                  c.n_constituents, c.test_fraction, t.codebook_size, t.latent_dim, t.hidden, t.beta, t.decay,
                  t.epochs, t.batch_size, t.lr, ctx.seed)


def backbone(ctx: Context) -> None:
    """Train the GPT-style backbone on the tokens, generate jets, compare with held-out jets."""
    from .backbone import run_backbone

    b = ctx.cfg.backbone
    run_backbone(ctx.input.model, ctx.input.tokens, ctx.output.model, ctx.output.samples, ctx.output.stats, b.dim,
                 b.heads, b.layers, b.emb_dim, b.epochs, b.batch_size, b.lr, b.patience, ctx.cfg.n_generate,
                 ctx.cfg.temperature, ctx.seed, bf16=ctx.cfg.bf16)


def transfer(ctx: Context) -> None:
    """Tagging from the generative backbone: scratch vs frozen vs fine-tuned vs training size."""
    from .transfer import run_transfer

    t = ctx.cfg.transfer
    run_transfer(ctx.input.model, ctx.input.tokens, ctx.output.transfer, list(t.tag_classes), list(ctx.cfg.classes),
                 list(t.sizes), list(t.seeds), t.batch_size, t.lr, t.finetune_lr, t.target_steps, t.max_epochs,
                 t.patience, t.n_test, ctx.seed, bf16=ctx.cfg.bf16)


def publish(ctx: Context) -> None:
    """Tokenizer, decoder and backbone as ONNX + model cards, checked in onnxruntime."""
    from pathlib import Path

    from ...publish import write_check
    from .publish import publish as publish_models

    out_dir = Path(ctx.output.tokenizer).parent.parent
    write_check(ctx.output.check, publish_models(
        ctx.input.tokenizer, ctx.input.tokens, ctx.input.tokenizer_json, ctx.input.gpt, ctx.input.generation, out_dir,
        ctx.input.jets, ctx.cfg.source, N_VAL, ctx.seed))


def report(ctx: Context) -> None:
    """Generation and transfer figures, metrics.json (the published models under ``published``)."""
    from .report import generation_test, load_samples, plot_generation, plot_transfer

    tok, gen, tr = read_json(ctx.input.tokenizer), read_json(ctx.input.generation), read_json(ctx.input.transfer)
    for key, doc, src in (("w1", gen, ctx.input.generation), ("mean", tr, ctx.input.transfer),
                          ("test", tok, ctx.input.tokenizer)):
        if key not in doc:
            raise InputError(src, key, "field missing")
    samples = load_samples(ctx.input.samples)
    plot_generation(samples, gen, ctx.output.png, rlabel=f"{ctx.tier} tier")
    plot_transfer(tr, ctx.output.tpng, rlabel=f"{ctx.tier} tier")
    metrics = {"tokenizer": tok, "generation": gen, "transfer": tr,
               "generation_test": generation_test(samples, seed=ctx.seed),
               "published": read_json(ctx.input.publish)}
    ctx.write_metrics(metrics, reduced_vs_paper=REDUCED)
