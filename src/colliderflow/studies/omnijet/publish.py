"""OmniJet-alpha: the tokenizer (encoder and decoder) and the GPT backbone
published as ONNX + model cards (:mod:`colliderflow.publish`), each checked
in onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...errors import InputError
from ...io import read_json
from ...publish import publish_checked
from . import PAPER
from .backbone import JetGPT, load_gpt, sequences
from .data import FEATURE_NAMES, to_features
from .tokenizer import VQVAE, load_tokenizer, load_tokens


class TokenizerExport(nn.Module):
    """Published VQ-VAE encoder: (B, 3) raw features -> token id (int64),
    the quantised latent (its codebook vector) and the decoded features;
    standardisation and un-standardisation inside."""

    def __init__(self, vq: VQVAE) -> None:
        super().__init__()
        self.vq = vq

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        idx = self.vq.nearest(self.vq.encoder((features - self.vq.mean) / self.vq.std))
        zq = self.vq.codebook[idx]
        return idx, zq, self.vq.decoder(zq) * self.vq.std + self.vq.mean

class DecoderExport(nn.Module):
    """Published VQ-VAE decoder: (B,) token ids -> (B, 3) raw features."""

    def __init__(self, vq: VQVAE) -> None:
        super().__init__()
        self.vq = vq

    def forward(self, token: torch.Tensor) -> torch.Tensor:
        return self.vq.decoder(self.vq.codebook[token]) * self.vq.std + self.vq.mean

class BackboneExport(nn.Module):
    """Published GPT backbone: one network evaluation, token ids + mask
    (float, 1 = real slot) -> next-token logits at every slot."""

    def __init__(self, gpt: JetGPT) -> None:
        super().__init__()
        self.gpt = gpt

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.gpt(tokens, mask > 0.5)


def export_modules(vq: VQVAE, gpt: JetGPT) -> dict:
    """The three published wrappers (eval mode) of a trained tokenizer and backbone."""
    return {"tokenizer": TokenizerExport(vq).eval(), "decoder": DecoderExport(vq).eval(),
            "backbone": BackboneExport(gpt).eval()}


def publish(tokenizer_path: str | Path, tokens_path: str | Path, tokenizer_json: str | Path, gpt_path: str | Path,
            generation_json: str | Path, outdir: str | Path, jets_file: str,
            source: str, n_val: int = 200, seed: int = 0) -> dict:
    """ONNX export + model card of the tokenizer (encoder), its decoder and
    the GPT backbone into ``outdir``/{tokenizer,decoder,backbone}, each
    checked in onnxruntime on ``n_val`` frozen held-out inputs. Returns one
    record per model; an exporter failure is recorded, not hidden."""
    if n_val < 1:
        raise InputError("config", "n_val", f"must be >= 1, got {n_val}")
    outdir = Path(outdir)
    vq, gpt = load_tokenizer(tokenizer_path), load_gpt(gpt_path)
    tok_stats, gen = read_json(tokenizer_json), read_json(generation_json)
    for key, doc, src in (("test", tok_stats, tokenizer_json), ("w1", gen, generation_json)):
        if key not in doc:
            raise InputError(src, key, "field missing")
    d = load_tokens(tokens_path)
    rng = np.random.default_rng(seed)
    f, m = to_features(d["constituents"][d["test"]])
    f = f[m][rng.choice(int(m.sum()), min(n_val, int(m.sum())), replace=False)]
    test_tokens = d["tokens"][d["test"]][rng.permutation(len(d["test"]))[:n_val]]
    inp, mask, _ = sequences(test_tokens, gpt.n_codes)
    mods = export_modules(vq, gpt)
    k, n_max = vq.n_codes, gpt.n_max
    training = {"file": jets_file, "source": source, "classes": tok_stats["classes"],
                "n_train_jets": tok_stats["n_train"], "n_constituents": tok_stats["n_constituents"],
                "split": f"tokens.npz 'train' indices ({tokens_path}); validation inputs from the held-out split"}
    feat_spec = {"units": "log GeV, 1, rad", "features": list(FEATURE_NAMES),
                 "preprocessing": "colliderflow.studies.omnijet.data.to_features of one real constituent (pT > 0): "
                                  "(ln pT/GeV, eta - eta_jet, phi - phi_jet); standardised inside the model"}
    res_keys = ("usage_fraction", "perplexity", "pt_rel_std", "eta_std", "phi_std", "mass_rel_std")
    tok_metrics = {kk: tok_stats["test"][kk] for kk in res_keys if kk in tok_stats["test"]}
    out = {}
    out["tokenizer"] = publish_checked(
        mods["tokenizer"], {"features": f}, outdir / "tokenizer", name="omnijet_vqvae_tokenizer",
        description=(f"Per-constituent VQ-VAE tokenizer (MLP encoder, {k}-code codebook; OmniJet-alpha-style, "
                     f"{PAPER}; trained by colliderflow): constituent features -> token id."),
        input_specs={"features": feat_spec},
        outputs={"token": {"description": f"token id 0..{k - 1} (int64): nearest codebook vector (argmin of "
                                          "the Euclidean distance) to the encoder output"},
                 "latent": {"description": "the quantised latent (codebook vector of the token)"},
                 "reconstruction": {"description": "decoded features of the token (ln pT/GeV, eta_rel, phi_rel)"}},
        metrics={**tok_metrics, "note": "held-out split; resolutions of encode -> nearest code -> decode"},
        training_data=training)
    out["decoder"] = publish_checked(
        mods["decoder"], {"token": rng.permutation(k)[:n_val]}, outdir / "decoder",
        name="omnijet_vqvae_decoder",
        description=f"Decoder of the VQ-VAE tokenizer ({PAPER}-style): token id -> constituent features.",
        input_specs={"token": {"units": "1", "preprocessing": f"token id 0..{k - 1} from the tokenizer or the "
                                                              "backbone (not the start/stop/pad ids)"}},
        outputs={"features": {"description": "(ln pT/GeV, eta_rel, phi_rel); invert with "
                                             "colliderflow.studies.omnijet.data.to_constituents"}},
        metrics=tok_metrics, training_data=training)
    out["backbone"] = publish_checked(
        mods["backbone"], {"tokens": inp, "mask": mask.astype(np.float32)}, outdir / "backbone",
        name="omnijet_gpt_backbone",
        description=(f"GPT-style causal transformer over VQ-VAE tokens (OmniJet-alpha-style, {PAPER}; trained by "
                     "colliderflow): next-token logits at every slot; generation samples the last real slot's "
                     "logits and appends the token (sampling loop not part of the graph)."),
        input_specs={"tokens": {"units": "1", "length": n_max + 1,
                                "preprocessing": f"colliderflow.studies.omnijet.backbone.sequences: [start={k}, "
                                                 f"t1..tn, "
                                                 f"pad={k + 1}..], sequence length fixed to {n_max + 1}"},
                     "mask": {"units": "1", "preprocessing": "1.0 for start and real tokens, 0.0 for padding "
                                                            "(sequences' mask as float)"}},
        outputs={"logits": {"description": f"next-token logits over the {k} codes and stop (= {k}) at each slot "
                                           "(causal: slot i sees slots <= i)"}},
        metrics={"best_val_loss": gen.get("gpt_best_val_loss"),
                 "w1_generated_vs_heldout": gen["w1"]["generated"],
                 "w1_unigram_baseline_vs_heldout": gen["w1"].get("unigram")}, training_data=training)
    return out
