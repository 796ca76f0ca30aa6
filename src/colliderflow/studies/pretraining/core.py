"""Self-supervised pre-training on unlabelled collision events, then
fine-tuning on small labelled simulated sets (arXiv:2312.06909).

The shared :class:`SetEncoder` is pre-trained with a SimCLR contrastive loss
on two augmented views (phi rotation, eta flip, momentum smearing, object
dropout) of each unlabelled event: the real CMS 2012 DoubleMu NanoAOD excerpt
in the `real` tier, an unlabelled mixture of the toy processes otherwise,
both read by the same NanoAOD reader. Fine-tuning (all weights) on N labelled
toy events is compared with the same network trained from scratch and with
the same pre-training on noise events (:func:`shuffled_objects`: object
slots shuffled across events), the null control: a gain that the noise
encoder also gives is an initialisation effect, not learned physics.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...eventclass.common import (
    auc,
    auc_curves,
    balanced_subset,
    labelled,
    predict,
    split_indices,
    torch_inputs,
    train_torch,
)
from ...eventclass.encoder import EventClassifier, load_encoder, load_table, objects, pretrain_contrastive, save_encoder
from ...nn.train import TrainConfig

#: How each toy file is partitioned (same seed everywhere, so disjoint sets).
PARTS = {"unlabelled": 0.4, "labelled": 0.3, "test": 0.3}


def toy_split(table: pd.DataFrame, seed: int) -> dict[str, np.ndarray]:
    return split_indices(len(table), PARTS, seed)


def unlabelled_events(files: list, source: str, n_events: int, seed: int, n_per_file: int | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Raw objects and mask of the unlabelled sample: the ``unlabelled`` part
    of every toy file (a process mixture), or the first events of real files."""
    raws, masks = [], []
    per_file = max(1, n_events // max(len(files), 1))
    for f in files:
        table = load_table(f, None if source == "toy" else per_file)
        if source == "toy":
            idx = toy_split(table, seed)["unlabelled"][:per_file]
            table = table.iloc[idx]
        r, m = objects(table)
        raws.append(r)
        masks.append(m)
    return np.concatenate(raws), np.concatenate(masks)


def shuffled_objects(raw: np.ndarray, mask: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise events for the null pre-training: every object slot (with its
    presence) is permuted across events independently, so each slot keeps its
    marginal distribution (the input scales an initialisation adapts to) while
    the events lose every correlation between their objects (no decay, no
    recoil, no event to learn)."""
    rng = np.random.default_rng([seed, 17])
    raw, mask = raw.copy(), mask.copy()
    for s in range(raw.shape[1]):
        perm = rng.permutation(len(raw))
        raw[:, s], mask[:, s] = raw[perm, s], mask[perm, s]
    return raw, mask


def pretrain(files: list, source: str, n_events: int, hp: dict, cfg: TrainConfig, out_path: str | Path,
             temperature: float, smear: float, drop: float, null: bool = False) -> dict:
    """Pre-train and save the encoder artifact (state_dict + JSON); returns its
    record. ``null``: the null control, the same pre-training on
    :func:`shuffled_objects` noise events made from the same unlabelled events."""
    raw, mask = unlabelled_events(files, source, n_events, cfg.seed)
    if null:
        raw, mask = shuffled_objects(raw, mask, cfg.seed)
    enc, hist = pretrain_contrastive(raw, mask, hp, cfg, temperature, smear, drop)
    info = {"study": "pretraining", "objective": "SimCLR (NT-Xent)", "source": source,
            "events": "noise: object slots shuffled across events (null control)" if null else "as read",
            "files": [str(f) for f in files], "n_events": int(len(raw)), "temperature": temperature,
            "augmentations": {"phi_rotation": True, "eta_flip": True, "pt_smear": smear, "object_dropout": drop},
            "objects_present_fraction": mask.mean(0).round(4).tolist(), "final_val_loss": hist["best_val"],
            "epochs": len(hist["val_loss"])}
    save_encoder(enc, out_path, info)
    return info


def finetune_curves(encoder_path: str | Path, files: dict, signal: str, background: str, sizes: list[int],
                    seeds: list[int], cfg: TrainConfig, target_steps: int, max_epochs: int,
                    n_events: int | None = None, null_encoder_path: str | Path | None = None) -> dict:
    """Test AUC vs number of labelled events: pre-trained, from scratch and
    (``null_encoder_path``) pre-trained on noise events (the null control);
    every arm of a seed fine-tunes on the same labelled subset."""
    tables = {p: load_table(files[p], n_events) for p in (signal, background)}
    parts = {p: toy_split(t, cfg.seed) for p, t in tables.items()}
    test, y_te = labelled(tables, signal, background, {p: s["test"] for p, s in parts.items()})
    pool, y_pool = labelled(tables, signal, background, {p: s["labelled"] for p, s in parts.items()})
    raw_te, mask_te = torch_inputs(test)
    raw_pool, mask_pool = torch_inputs(pool)
    _, hp = load_encoder(encoder_path)
    sizes = [s for s in sizes if s <= len(y_pool)]
    start = {"pretrained": encoder_path, "scratch": None}
    if null_encoder_path is not None:
        start["null"] = null_encoder_path
    res = {k: {str(s): [] for s in sizes} for k in start}
    for size in sizes:
        for seed in seeds:
            idx = balanced_subset(y_pool, size, np.random.default_rng([seed, size]))
            c = TrainConfig(**{**cfg.__dict__, "seed": seed, "desc": f"N={size} seed {seed}"})
            for kind, path in start.items():
                net = EventClassifier(hp, encoder=load_encoder(path)[0] if path is not None else None)
                train_torch(net, [raw_pool[idx], mask_pool[idx]], y_pool[idx], c, target_steps, max_epochs)
                res[kind][str(size)].append(auc(y_te, predict(net, [raw_te, mask_te])))
    summary = {k: {s: {"mean": float(np.mean(v)), "std": float(np.std(v)), "values": v} for s, v in r.items()}
               for k, r in res.items()}
    gain = {s: summary["pretrained"][s]["mean"] - summary["scratch"][s]["mean"] for s in summary["scratch"]}
    return {"signal": signal, "background": background, "sizes": sizes, "seeds": seeds, "n_test": int(len(y_te)),
            "auc": summary, "gain": gain, "encoder": hp}


def plot(m: dict, path: str | Path, rlabel: str = "") -> list:
    """Learning curves: test AUC vs labelled events, pre-trained vs scratch."""
    src = m["encoder"].get("source", "?")
    curves = [("pretrained", "o", f"pre-trained ({src}) + fine-tuned"), ("scratch", "s", "from scratch")]
    if "null" in m["auc"]:
        curves.append(("null", "^", "pre-trained on noise events (null) + fine-tuned"))
    return auc_curves(m, curves,
                      "labelled training events", f"{m['signal']} vs {m['background']}", path, rlabel)
