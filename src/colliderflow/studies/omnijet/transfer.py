"""OmniJet-alpha step 3: tagging from the generative backbone (from scratch,
frozen, fine-tuned) vs the number of labelled jets."""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...errors import InputError
from ...io import read_json, write_json
from ...metrics import Stopwatch
from ...nn.train import TrainConfig, fit, seed_everything
from . import MODES
from .backbone import JetGPT, load_gpt, make_gpt, sequences
from .tokenizer import load_tokens

log = logging.getLogger(__name__)


class Tagger(nn.Module):
    """Backbone embedding (masked mean of the causal outputs) + MLP head."""

    def __init__(self, gpt: JetGPT, n_classes: int = 2) -> None:
        super().__init__()
        self.gpt = gpt
        self.head = nn.Sequential(nn.Linear(gpt.dim, gpt.dim), nn.GELU(), nn.Linear(gpt.dim, n_classes))

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.gpt.embed(tokens, mask))


def _ce_loss(model: nn.Module, batch: Sequence[torch.Tensor]):
    *x, y = batch
    return F.cross_entropy(model(*x), y)


def _steps_epochs(n: int, batch_size: int, target_steps: int, max_epochs: int) -> int:
    per_epoch = max(1, math.ceil(0.8 * n / batch_size))
    return int(min(max_epochs, max(2, math.ceil(target_steps / per_epoch))))


def train_tagger(mode: str, gpt_pre: JetGPT, tokens: np.ndarray, labels: np.ndarray, hp: dict, batch_size: int,
                 lr: float, finetune_lr: float,
                 target_steps: int, max_epochs: int, patience: int, seed: int, bf16: bool = False,
                 frozen_embed: Callable[[np.ndarray], torch.Tensor] | None = None,
                 ) -> Callable[[np.ndarray], np.ndarray]:
    """One tagger: ``scratch`` (fresh backbone, all trained), ``frozen``
    (pre-trained backbone fixed, head only; the embeddings are computed once)
    or ``finetuned`` (pre-trained backbone, all trained at ``finetune_lr``).
    Returns ``predict(tokens) -> class``. ``bf16``: autocast on CUDA
    (:class:`colliderflow.nn.train.TrainConfig`). ``frozen_embed(tokens)``: the
    frozen backbone's embedding of jets to predict (the caller's cache: the test
    jets' embedding is the same for every frozen tagger)."""
    if mode not in MODES:
        raise InputError("config", "studies.omnijet.transfer.mode", f"unknown mode {mode!r} (known {list(MODES)})")
    seed_everything(seed)
    inp, mask, _ = (torch.as_tensor(a) for a in sequences(tokens, hp["n_codes"]))
    y = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    epochs = _steps_epochs(len(y), batch_size, target_steps, max_epochs)
    cfg = dict(epochs=epochs, batch_size=batch_size, seed=seed, patience=patience, desc=f"tag-{mode}", bf16=bf16)
    if mode == "frozen":
        gpt = copy.deepcopy(gpt_pre).eval()
        with torch.no_grad():
            emb = gpt.embed(inp, mask)
        head = Tagger(gpt).head
        fit(head, lambda m, b: nn.functional.cross_entropy(m(b[0]), b[1]), [emb, y], TrainConfig(lr=lr, **cfg))

        def predict(t: np.ndarray):
            if frozen_embed is not None:
                with torch.no_grad():
                    return head(frozen_embed(t)).argmax(1).numpy()
            i, m, _ = (torch.as_tensor(a) for a in sequences(t, hp["n_codes"]))
            with torch.no_grad():
                return head(gpt.embed(i, m)).argmax(1).numpy()
    else:
        gpt = make_gpt(**hp) if mode == "scratch" else copy.deepcopy(gpt_pre)
        tagger = Tagger(gpt)
        fit(tagger, _ce_loss, [inp, mask, y], TrainConfig(lr=lr if mode == "scratch" else finetune_lr, **cfg))
        tagger.eval()

        def predict(t: np.ndarray):
            i, m, _ = (torch.as_tensor(a) for a in sequences(t, hp["n_codes"]))
            with torch.no_grad():
                return tagger(i, m).argmax(1).numpy()
    return predict


def run_transfer(gpt_path: str | Path, tokens_path: str | Path, out: str | Path, tag_classes: Sequence[str],
                 class_names: Sequence[str], sizes: Sequence[int], seeds: Sequence[int], batch_size: int, lr: float,
                 finetune_lr: float, target_steps: int, max_epochs: int, patience: int, n_test: int,
                 seed: int, bf16: bool = False) -> dict:
    """Accuracy vs training-set size for the three modes over ``seeds``;
    labelled jets come from the training split, the test jets from the
    held-out split. Writes ``out`` (JSON)."""
    if len(set(tag_classes)) != 2:
        raise InputError("config", "studies.omnijet.transfer.tag_classes",
                         f"need two distinct classes, got {list(tag_classes)}")
    missing = [c for c in tag_classes if c not in class_names]
    if missing:
        raise InputError("config", "studies.omnijet.transfer.tag_classes",
                         f"{missing[0]!r} is not among the pre-training classes {list(class_names)}")
    sizes = sorted(int(s) for s in sizes)
    gpt = load_gpt(gpt_path)
    hp = read_json(Path(gpt_path).with_suffix(".json"))
    d = load_tokens(tokens_path)
    lab_ids = [list(class_names).index(c) for c in tag_classes]

    def pick(idx: np.ndarray):
        idx = idx[np.isin(d["labels"][idx], lab_ids)]
        return d["tokens"][idx], (d["labels"][idx] == lab_ids[1]).astype(np.int64)

    pool_t, pool_y = pick(d["train"])
    test_t, test_y = pick(d["test"])
    if sizes[-1] > len(pool_y):
        raise InputError("config", "studies.omnijet.transfer.sizes",
                         f"largest size {sizes[-1]} exceeds the {len(pool_y)} labelled training jets")
    rng = np.random.default_rng(seed)
    te = rng.permutation(len(test_y))[:n_test]
    test_t, test_y = test_t[te], test_y[te]
    acc = {m: {str(s): [] for s in sizes} for m in MODES}
    cache: dict[int, tuple[np.ndarray, torch.Tensor]] = {}

    def frozen_embed(t: np.ndarray) -> torch.Tensor:
        """The pre-trained (frozen, eval-mode) backbone's embedding of ``t``, computed once per array."""
        if id(t) not in cache or cache[id(t)][0] is not t:
            i, m, _ = (torch.as_tensor(a) for a in sequences(t, hp["n_codes"]))
            with torch.no_grad():
                cache[id(t)] = (t, gpt.eval().embed(i, m))
        return cache[id(t)][1]

    with Stopwatch() as sw:
        for r in seeds:
            perm = np.random.default_rng(seed + 1000 * (r + 1)).permutation(len(pool_y))
            for s in sizes:
                sel = perm[:s]
                for m in MODES:
                    predict = train_tagger(m, gpt, pool_t[sel], pool_y[sel], hp, batch_size, lr, finetune_lr,
                                           target_steps, max_epochs, patience, seed + r, bf16=bf16,
                                           frozen_embed=frozen_embed)
                    acc[m][str(s)].append(float((predict(test_t) == test_y).mean()))
                log.info("size %d seed %d: %s", s, r, {m: acc[m][str(s)][-1] for m in MODES})
    res = {"tag_classes": list(tag_classes), "sizes": sizes, "seeds": list(seeds), "n_test": int(len(test_y)),
           "accuracy": acc,
           "mean": {m: {s: float(np.mean(v)) for s, v in acc[m].items()} for m in MODES},
           "std": {m: {s: float(np.std(v)) for s, v in acc[m].items()} for m in MODES},
           "cpu_s": round(sw.cpu, 2)}
    write_json(out, res)
    return res
