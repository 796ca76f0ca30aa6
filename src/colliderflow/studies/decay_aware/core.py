"""Decay-aware multi-task event classification (arXiv:2212.08759).

A classification head on the shared :class:`SetEncoder` event embedding plus
an auxiliary head on its object embeddings that predicts, for every pair of
reconstructed objects, whether they descend from the same parent (top quark
or resonance; generator truth from ``GenPart``). Loss = BCE(class) +
lambda * BCE(pairs). Compared with an XGBoost BDT on engineered features, a
plain MLP on the flattened objects and the same set network without the
auxiliary loss; AUC versus training-set size over several seeds.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...eventclass.common import (
    auc,
    auc_curves,
    balanced_subset,
    engineered,
    labelled,
    predict,
    split_indices,
    torch_inputs,
    train_torch,
    train_xgb,
)
from ...eventclass.encoder import N_FEATURES, EventClassifier, featurize, load_table, mlp, pair_labels, save_encoder
from ...nn.train import TrainConfig

MODELS = ("bdt", "mlp", "set", "multitask")
LABELS = {"bdt": "BDT (engineered features)", "mlp": "MLP (flat objects)", "set": "set encoder, no aux head",
          "multitask": r"decay-aware multi-task ($\lambda$ aux)"}


class MultiTaskNet(EventClassifier):
    """Encoder + event-classification head + pairwise same-parent head."""

    def __init__(self, hp: dict, hidden: int = 64) -> None:
        super().__init__(hp, hidden)
        self.pair = mlp(2 * hp["dim"], hidden, 1, depth=1)

    def pair_logits(self, h: torch.Tensor) -> torch.Tensor:
        hi, hj = h.unsqueeze(2), h.unsqueeze(1)
        return self.pair(torch.cat([hi * hj, (hi + hj).expand(-1, -1, h.shape[1], -1)], -1)).squeeze(-1)


class FlatMLP(nn.Module):
    """Plain MLP on the flattened, featurised object slots."""

    def __init__(self, n_slots: int, hidden: int = 128) -> None:
        super().__init__()
        self.net = mlp(n_slots * N_FEATURES, hidden, 1, depth=2)

    def forward(self, raw: torch.Tensor, mask: torch.Tensor, *_: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.net(featurize(raw, mask).flatten(1)).squeeze(-1),)


def pair_loss(out: tuple, x: list[torch.Tensor]) -> torch.Tensor:
    """Auxiliary loss: BCE of the same-parent head on the defined pairs;
    ``out`` = (class logit, object embeddings, pair head), ``x[2]`` the labels."""
    _, h, pair_head = out
    lab = x[2]
    logits = pair_head(h)
    ok = lab >= 0
    target = lab[ok]
    # class-balanced: most pairs do not share a parent
    pos = target.sum().clamp_min(1.0)
    return nn.functional.binary_cross_entropy_with_logits(logits[ok], target, pos_weight=(len(target) - pos) / pos)


class _WithPair(nn.Module):
    """Adapter so the shared training step sees (logit, h, pair_fn)."""

    def __init__(self, net: MultiTaskNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, raw: torch.Tensor, mask: torch.Tensor, *_: torch.Tensor) -> tuple:
        logit, h = self.net(raw, mask)
        return logit, h, self.net.pair_logits


@torch.no_grad()
def pair_accuracy(net: MultiTaskNet, raw: torch.Tensor, mask: torch.Tensor, lab: torch.Tensor) -> dict:
    """Decay-assignment accuracy of the auxiliary head on defined pairs:
    plain and balanced accuracy, and the chance levels (majority class; 0.5)."""
    net.eval()
    pos_ok, neg_ok, n_pos, n_neg = 0, 0, 0, 0
    for i in range(0, len(raw), 2048):
        _, h = net(raw[i:i + 2048], mask[i:i + 2048])
        pred = net.pair_logits(h) > 0
        lb = lab[i:i + 2048]
        ok = lb >= 0
        truth = lb > 0.5
        pos_ok += int((pred & truth & ok).sum())
        neg_ok += int((~pred & ~truth & ok).sum())
        n_pos += int((truth & ok).sum())
        n_neg += int((~truth & ok).sum())
    acc = (pos_ok + neg_ok) / max(n_pos + n_neg, 1)
    return {"accuracy": acc, "balanced_accuracy": 0.5 * (pos_ok / max(n_pos, 1) + neg_ok / max(n_neg, 1)),
            "chance_majority": max(n_pos, n_neg) / max(n_pos + n_neg, 1), "chance_balanced": 0.5,
            "positive_fraction": n_pos / max(n_pos + n_neg, 1), "n_pairs": n_pos + n_neg}


def run(files: dict, signal: str, background: str, sizes: list[int], seeds: list[int], hp: dict, aux_weight: float,
        cfg: TrainConfig, target_steps: int, max_epochs: int, n_events: int | None = None, test_fraction: float = 0.3,
        bdt_trees: int = 200, model_out: str | Path | None=None) -> dict:
    """The whole study; returns the metrics dict (AUCs per model, size, seed)."""
    tables = {p: load_table(files[p], n_events, truth=True) for p in (signal, background)}
    split = {p: split_indices(len(t), {"test": test_fraction, "pool": 1 - test_fraction}, cfg.seed)
             for p, t in tables.items()}
    test, y_te = labelled(tables, signal, background, {p: s["test"] for p, s in split.items()})
    pool, y_pool = labelled(tables, signal, background, {p: s["pool"] for p, s in split.items()})
    eng_te, eng_pool = engineered(test).to_numpy(), engineered(pool).to_numpy()
    raw_te, mask_te = torch_inputs(test)
    raw_pool, mask_pool = torch_inputs(pool)
    lab_pool, lab_te = torch.as_tensor(pair_labels(pool)), torch.as_tensor(pair_labels(test))
    n_slots = raw_te.shape[1]
    sizes = [s for s in sizes if s <= len(y_pool)]
    res = {m: {str(s): [] for s in sizes} for m in MODELS}
    aux = {str(s): [] for s in sizes}
    last_net = None
    for size in sizes:
        for seed in seeds:
            idx = balanced_subset(y_pool, size, np.random.default_rng([seed, size]))
            y = y_pool[idx]
            c = TrainConfig(**{**cfg.__dict__, "seed": seed, "desc": f"size {size} seed {seed}"})
            res["bdt"][str(size)].append(auc(y_te, train_xgb(eng_pool[idx], y, eng_te, seed, bdt_trees,
                                                               name=f"bdt {c.desc}")))
            net = FlatMLP(n_slots)
            train_torch(net, [raw_pool[idx], mask_pool[idx]], y, replace(c, desc=f"mlp {c.desc}"), target_steps,
                        max_epochs)
            res["mlp"][str(size)].append(auc(y_te, predict(net, [raw_te, mask_te])))
            for name, w in (("set", 0.0), ("multitask", aux_weight)):
                torch.manual_seed(seed)
                net = MultiTaskNet(hp)
                wrapped = _WithPair(net)
                train_torch(wrapped, [raw_pool[idx], mask_pool[idx], lab_pool[idx]], y,
                            replace(c, desc=f"{name} {c.desc}"), target_steps, max_epochs, aux_loss=pair_loss,
                            aux_weight=w)
                res[name][str(size)].append(auc(y_te, predict(net, [raw_te, mask_te])))
                if name == "multitask":
                    aux[str(size)].append(pair_accuracy(net, raw_te, mask_te, lab_te))
                    last_net = net
    if model_out is not None and last_net is not None:
        save_encoder(last_net.encoder, model_out, {"study": "decay_aware", "trained_on": [signal, background],
                                                   "aux_weight": aux_weight, "train_size": sizes[-1]})
    summary = {m: {s: {"mean": float(np.mean(v)), "std": float(np.std(v)), "values": v} for s, v in r.items()}
               for m, r in res.items()}
    aux_summary = {s: {**{k: float(np.mean([a[k] for a in v])) for k in v[0]},
                       "balanced_accuracy_values": [a["balanced_accuracy"] for a in v]} for s, v in aux.items()}
    return {"signal": signal, "background": background, "sizes": sizes, "seeds": seeds, "n_test": int(len(y_te)),
            "aux_weight": aux_weight, "auc": summary, "aux_head": aux_summary}


def plot(m: dict, path: str | Path, rlabel: str = "") -> list:
    """AUC vs training-set size for the four classifiers (the paper's figure)."""
    bacc = m["aux_head"][str(m["sizes"][-1])]["balanced_accuracy"]
    return auc_curves(m, [(name, marker, LABELS[name]) for name, marker in zip(MODELS, "sodv")], "training events",
                      f"{m['signal']} vs {m['background']}; aux pair balanced acc. {bacc:.2f}", path, rlabel)
