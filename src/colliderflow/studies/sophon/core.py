"""Sophon-style signature pre-training (arXiv:2405.12972).

A small Particle-Transformer-like tagger (:class:`colliderflow.nn.jets.JetTransformer`
with the ParT pairwise interaction bias) is pre-trained to classify the
fine-grained jet classes of the jet-class toy, with one resonance held out.
The pre-trained network is then transferred to a binary task it never saw,
held-out resonance vs QCD (q + g jets not used in pre-training), with a few
labelled jets per class:

* ``finetune``: all weights of the pre-trained network, new binary head;
* ``probe``: a logistic regression (scikit-learn) on the frozen jet embedding;
* ``scratch``: the same architecture trained from random weights.

Metric: background rejection 1/eps_B at 50 % signal efficiency (and the AUC)
on a fixed held-out test set, vs the number of labelled jets, over seeds.

Data partition (deterministic in the seed): every jet of the pre-training
classes except q/g goes to pre-training; q/g jets are split into a
pre-training half and a transfer half; the held-out resonance is transfer only.
The transfer jets are split into a fixed test set (``n_test`` per class) and a
labelled pool the small training sets are drawn from.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ...data.jet_constituents import read_jets
from ...errors import InputError
from ...nn.jets import PAIR_FEATURES, PARTICLE_FEATURES, JetTransformer, pair_features, particle_features
from ...nn.train import TrainConfig, fit
from . import METHODS, Config

LABELS = {"finetune": "pre-trained + fine-tuned", "probe": "linear probe on frozen embedding",
          "scratch": "trained from scratch", "probe_random": "linear probe on a random-init encoder"}
BACKGROUND = ("q", "g")
SIG_EFF = 0.5


# ---------------------------------------------------------------- config ---

def check_config(c: Config, class_names: Sequence[str] | None = None, target_file: bool = False) -> None:
    """What the schema cannot check in ``studies.sophon`` (fields together, or
    against the jets file; ``target_file``: the classes are those of a real
    transfer target, the held-out class against all others) -> InputError naming the field."""
    def bad(field: str, why: str):
        raise InputError("config", f"studies.sophon.{field}", why)

    if class_names is not None:
        if target_file and c.heldout not in class_names:
            bad("heldout", f"{c.heldout!r} is not a class of the transfer target file ({list(class_names)})")
        if target_file:
            if len(class_names) < 2:
                bad("target", f"the target jets file needs a background class besides {c.heldout!r}")
        else:
            for b in BACKGROUND:
                if b not in class_names:
                    bad("heldout", f"the jets file has no background class {b!r}")
            missing = [e for e in c.exclude if e not in class_names]
            if missing:
                bad("exclude", f"{missing[0]!r} is not a class of the jets file ({list(class_names)})")
    if c.heldout in BACKGROUND:
        bad("heldout", "the held-out signal cannot be a QCD (q/g) class")
    if set(c.exclude) & {*BACKGROUND, c.heldout}:
        bad("exclude", f"lists the held-out class or a QCD class: {list(c.exclude)}")
    sizes = list(c.sizes)
    if sorted(sizes) != sizes or len(set(sizes)) != len(sizes):
        bad("sizes", f"need increasing integers >= 2 (labelled jets per class), got {sizes}")
    if len(set(c.seeds)) != len(c.seeds):
        bad("seeds", f"need at least two distinct seeds for a spread, got {list(c.seeds)}")
    if c.dim % c.heads:
        bad("dim", f"{c.dim} not divisible by heads={c.heads}")


# ------------------------------------------------------------------ data ---

def partition(labels: np.ndarray, class_names: Sequence[str], heldout: str, n_test: int, pretrain_qcd_fraction: float,
              seed: int, exclude: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Row indices: ``pretrain`` (all classes but ``heldout`` and ``exclude``; a fraction of
    q/g), and for the transfer task ``test`` and ``pool`` (held-out resonance
    and the remaining q/g). The three sets are disjoint; ``exclude`` classes are in none."""
    rng = np.random.default_rng([seed, 2405])
    names = list(class_names)
    pre, sig, bkg = [], None, []
    for k, name in enumerate(names):
        idx = rng.permutation(np.flatnonzero(labels == k))
        if name == heldout:
            sig = idx
        elif name in exclude:
            continue
        elif name in BACKGROUND:
            cut = int(round(pretrain_qcd_fraction * len(idx)))
            pre.append(idx[:cut])
            bkg.append(idx[cut:])
        else:
            pre.append(idx)
    bkg = rng.permutation(np.concatenate(bkg))
    return _test_pool(sig, bkg, n_test) | {"pretrain": np.sort(np.concatenate(pre))}


def pretrain_rows(labels: np.ndarray, class_names: Sequence[str], c: Config, seed: int) -> np.ndarray:
    """Pre-training rows: every class but ``heldout`` and ``exclude``; of q/g the first
    ``pretrain_qcd_fraction`` (the same rows :func:`partition` gives)."""
    rng = np.random.default_rng([seed, 2405])
    rows = []
    for k, name in enumerate(class_names):
        idx = rng.permutation(np.flatnonzero(labels == k))
        if name == c.heldout or name in c.exclude:
            continue
        rows.append(idx[:int(round(c.pretrain_qcd_fraction * len(idx)))] if name in BACKGROUND else idx)
    return np.sort(np.concatenate(rows))


def make_target(out_path: str | Path, c: Config, n_max: int, seed: int) -> dict:
    """The toy transfer target (its own file, independent of the pre-training jets): ``n_target_per_class``
    jets each of q, g and the held-out class (:func:`colliderflow.data.jet_constituents.generate_toy`)."""
    from ...data.jet_constituents import generate_toy, write_jets

    classes = (*BACKGROUND, c.heldout)
    jets = generate_toy(len(classes) * c.n_target_per_class, n_max, seed=seed, classes=classes)
    write_jets(out_path, jets, "toy", {"generator": "colliderflow.data.jet_constituents.generate_toy",
                                       "classes": list(classes), "seed": seed, "purpose": "sophon transfer target"})
    return {"classes": list(classes), "n_jets": int(len(jets["labels"]))}


def target_partition(labels: np.ndarray, class_names: Sequence[str], signal: str, n_test: int,
                     seed: int) -> dict[str, np.ndarray]:
    """A real transfer target (another file, e.g. TopLandscape): ``signal`` against every other class,
    split into ``test`` and ``pool`` like :func:`partition`'s transfer sets."""
    rng = np.random.default_rng([seed, 2405])
    k = list(class_names).index(signal)
    return _test_pool(rng.permutation(np.flatnonzero(labels == k)), rng.permutation(np.flatnonzero(labels != k)),
                      n_test)


def _test_pool(sig: np.ndarray, bkg: np.ndarray, n_test: int) -> dict[str, np.ndarray]:
    for name, arr in (("signal", sig), ("background", bkg)):
        if len(arr) < n_test + 2:
            raise InputError("config", "studies.sophon.n_test",
                             f"{n_test} test jets per class leave no labelled pool ({len(arr)} {name} jets)")
    test = np.r_[sig[:n_test], bkg[:n_test]]
    pool = np.r_[sig[n_test:], bkg[n_test:]]
    return {"test": test, "pool": pool, "n_pool_signal": int(len(sig) - n_test),
            "n_pool_background": int(len(bkg) - n_test)}


def cap_per_class(idx: np.ndarray, labels: np.ndarray, n_per_class: int, seed: int) -> np.ndarray:
    """At most ``n_per_class`` rows of ``idx`` per label (0: no cap)."""
    if not n_per_class:
        return idx
    rng = np.random.default_rng([seed, 7])
    keep = [rng.permutation(idx[labels[idx] == k])[:n_per_class] for k in np.unique(labels[idx])]
    return np.sort(np.concatenate(keep))


def inputs(constituents: np.ndarray, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(particle features, mask, pair features) tensors of the n leading constituents."""
    if constituents.shape[1] < n:
        raise InputError(None, "n_constituents", f"asked for {n} constituents, the file keeps {constituents.shape[1]}")
    x, mask = particle_features(constituents, n)
    return torch.from_numpy(x), torch.from_numpy(mask), torch.from_numpy(pair_features(constituents, n))


def feature_stats(x: torch.Tensor, mask: torch.Tensor, pairs: torch.Tensor) -> dict[str, list]:
    """Mean and std of the particle features over real constituents and of the
    pair features over valid pairs (the network's standardisation)."""
    xs = x[mask.bool()]
    ps = pairs[(pairs != 0).any(-1)]
    if len(ps) == 0:
        ps = torch.zeros(1, pairs.shape[-1])
    return {"x_mean": xs.mean(0).tolist(), "x_std": xs.std(0).clamp(min=1e-3).tolist(),
            "p_mean": ps.mean(0).tolist(), "p_std": ps.std(0).clamp(min=1e-3).tolist()}


# ----------------------------------------------------------------- model ---

class Tagger(nn.Module):
    """Standardisation of the raw features (buffers) + :class:`JetTransformer`
    with the ParT pair bias. Called on the unscaled ``particle_features``,
    the mask (bool or 0/1 float) and ``pair_features``."""

    def __init__(self, hp: dict, stats: dict) -> None:
        super().__init__()
        self.hp = dict(hp)
        self.net = JetTransformer(len(PARTICLE_FEATURES), dim=hp["dim"], heads=hp["heads"], layers=hp["layers"],
                                  n_out=hp["n_out"], pair_dim=len(PAIR_FEATURES))
        for k, v in stats.items():
            self.register_buffer(k, torch.tensor(v, dtype=torch.float32))

    def _scaled(self, x: torch.Tensor, mask: torch.Tensor, pairs: torch.Tensor):
        mask = mask.bool()
        x = (x - self.x_mean) / self.x_std * mask[..., None]
        valid = (pairs != 0).any(-1, keepdim=True)
        pairs = (pairs - self.p_mean) / self.p_std * valid
        return x, mask, pairs

    def embed(self, x: torch.Tensor, mask: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
        return self.net.embed(*self._scaled(x, mask, pairs))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
        return self.net.head(self.embed(x, mask, pairs))

    def new_head(self, n_out: int, seed: int) -> None:
        torch.manual_seed(seed)
        self.net.head = nn.Linear(self.net.head.in_features, n_out)
        self.hp["n_out"] = n_out


class EncoderExport(nn.Module):
    """What is published: jet embedding and pre-training class probabilities."""

    def __init__(self, tagger: Tagger) -> None:
        super().__init__()
        self.tagger = tagger

    def forward(self, x: torch.Tensor, mask: torch.Tensor, pairs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        e = self.tagger.embed(x, mask, pairs)
        return e, torch.softmax(self.tagger.net.head(e), -1)


def save_tagger(model: Tagger, path: str | Path, info: dict) -> None:
    """One file (the cached artifact): state_dict, hyper-parameters, info."""
    from ...io import atomic_path

    with atomic_path(path) as tmp:
        torch.save({"state_dict": model.state_dict(), "hp": model.hp, "info": info}, tmp)


def load_tagger(path: str | Path) -> tuple[Tagger, dict]:
    path = Path(path)
    if not path.exists():
        raise InputError(path, None, "model file does not exist")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "hp", "info"):
        if key not in blob:
            raise InputError(path, key, "missing from the pre-trained checkpoint")
    st = blob["state_dict"]
    stats = {k: st[k].tolist() for k in ("x_mean", "x_std", "p_mean", "p_std")}
    model = Tagger(blob["hp"], stats)
    model.load_state_dict(st)
    return model.eval(), blob["info"]


# -------------------------------------------------------------- training ---

def _epochs_for(n_train: int, batch_size: int, target_steps: int, max_epochs: int) -> int:
    """About ``target_steps`` optimiser steps, whatever the labelled-set size."""
    return int(min(max_epochs, max(1, math.ceil(target_steps / math.ceil(n_train / batch_size)))))


def train(model: Tagger, x: torch.Tensor, mask: torch.Tensor, pairs: torch.Tensor, y: np.ndarray, cfg: TrainConfig,
          binary: bool, val: tuple | None = None) -> dict:
    """Cross-entropy (multi-class) or BCE (binary, one logit) through the shared loop;
    ``val`` = (x, mask, pairs, y) of a fixed validation set (default: the loop's own split)."""
    if binary:
        def loss_fn(m: torch.Tensor, b: torch.Tensor):
            return nn.functional.binary_cross_entropy_with_logits(m(*b[:3])[:, 0], b[3].float())
    else:
        def loss_fn(m: torch.Tensor, b: torch.Tensor):
            return nn.functional.cross_entropy(m(*b[:3]), b[3])
    val_tensors = None if val is None else [*val[:3], torch.as_tensor(val[3])]
    return fit(model, loss_fn, [x, mask, pairs, torch.as_tensor(y)], cfg, val_tensors=val_tensors).as_dict()


def split_validation(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows) of a labelled set, ``fraction`` of each class held out."""
    rng = np.random.default_rng([seed, len(y), 25])
    val = np.concatenate([rng.permutation(np.flatnonzero(y == k))[:max(1, int(round(fraction * np.sum(y == k))))]
                          for k in np.unique(y)])
    return np.setdiff1d(np.arange(len(y)), val), np.sort(val)


@torch.no_grad()
def _batched(fn: Callable, x: torch.Tensor, mask: torch.Tensor, pairs: torch.Tensor, batch: int = 2048) -> np.ndarray:
    """``fn`` (a :class:`Tagger` or its ``embed``) over all rows on the configured device
    (:func:`colliderflow.nn.device.select`; inputs moved once, the model back where it was)."""
    from ...nn.device import select

    model = getattr(fn, "__self__", fn)
    dev, home = select(), next(model.parameters(), torch.empty(0)).device
    if dev.type == "cpu":
        return torch.cat([fn(x[i:i + batch], mask[i:i + batch], pairs[i:i + batch])
                          for i in range(0, len(x), batch)]).numpy()
    x, mask, pairs = x.to(dev), mask.to(dev), pairs.to(dev)
    model.to(dev)
    try:
        return torch.cat([fn(x[i:i + batch], mask[i:i + batch], pairs[i:i + batch])
                          for i in range(0, len(x), batch)]).cpu().numpy()
    finally:
        model.to(home)


def scores(model: Tagger, x: torch.Tensor, mask: torch.Tensor, pairs: torch.Tensor) -> np.ndarray:
    model.eval()
    return _batched(model, x, mask, pairs)[:, 0]


def embeddings(model: Tagger, x: torch.Tensor, mask: torch.Tensor, pairs: torch.Tensor) -> np.ndarray:
    model.eval()
    return _batched(model.embed, x, mask, pairs)


def pretrain(jets_path: str | Path, out_path: str | Path, c: Config, seed: int) -> dict:
    """Pre-train on every fine class except ``c.heldout``; save the checkpoint."""
    jets = read_jets(jets_path)
    check_config(c, jets["class_names"])
    classes = [n for n in jets["class_names"] if n != c.heldout and n not in c.exclude]
    idx = cap_per_class(pretrain_rows(jets["labels"], jets["class_names"], c, seed), jets["labels"],
                        c.n_pretrain_per_class, seed)
    old = np.array([jets["class_names"].index(n) for n in classes])
    remap = np.full(len(jets["class_names"]), -1)
    remap[old] = np.arange(len(classes))
    y = remap[jets["labels"][idx]]
    x, mask, pairs = inputs(jets["constituents"][idx], c.n_constituents)
    hp = {k: getattr(c, k) for k in ("dim", "heads", "layers", "n_constituents")} | {"n_out": len(classes)}
    torch.manual_seed(seed)
    model = Tagger(hp, feature_stats(x, mask, pairs))
    cfg = TrainConfig(epochs=c.pretrain_epochs, batch_size=c.batch_size, lr=c.lr, seed=seed,
                      patience=max(3, c.pretrain_epochs // 3), desc="sophon pretrain", bf16=c.bf16)
    hist = train(model, x, mask, pairs, y, cfg, binary=False)
    info = {"classes": classes, "heldout": c.heldout, "excluded": list(c.exclude),
            "n_pretrain": int(len(idx)), "source": jets["source"],
            "jets_file": str(jets_path), "seed": seed, "best_epoch": hist["best_epoch"],
            "best_val_loss": hist["best_val"], "epochs_run": len(hist["val_loss"]),
            "n_parameters": int(sum(p.numel() for p in model.parameters()))}
    with torch.no_grad():
        pred = _batched(model.eval(), x[:4000], mask[:4000], pairs[:4000]).argmax(1)
        info["pretrain_set_accuracy"] = float((pred == y[:4000]).mean())
    save_tagger(model, out_path, info)
    return info


# -------------------------------------------------------------- transfer ---

def rejection_at(y: np.ndarray, s: np.ndarray, sig_eff: float = SIG_EFF) -> tuple[float, bool]:
    """1/eps_B at the first cut reaching ``sig_eff`` (sklearn roc_curve); when
    no background passes, the bound 1/eps_B >= n_background is returned with
    ``saturated=True``."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    eps_b = float(fpr[np.searchsorted(tpr, sig_eff, side="left")])
    n_b = int((np.asarray(y) == 0).sum())
    return (1.0 / eps_b, False) if eps_b > 0 else (float(n_b), True)


def _evaluate(y: np.ndarray, s: np.ndarray) -> dict:
    from sklearn.metrics import roc_auc_score

    rej, sat = rejection_at(y, s)
    return {"rejection": rej, "saturated": sat, "auc": float(roc_auc_score(y, s))}


def _balanced(y_pool: np.ndarray, n_per_class: int, rng: np.random.Generator) -> np.ndarray:
    """``n_per_class`` signal and background rows of the labelled pool."""
    return np.concatenate([rng.choice(np.flatnonzero(y_pool == k), n_per_class, replace=False) for k in (1, 0)])


def fit_probe(emb: np.ndarray, y: np.ndarray, c_reg: float) -> Any:
    """Standardised logistic regression (scikit-learn) on frozen embeddings."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c_reg, max_iter=2000)).fit(emb, y)


@torch.no_grad()
def probe_head(model: Tagger, clf: Any) -> None:
    """Set the one-logit head to the probe's decision function on the embedding."""
    scaler, lr = clf[0], clf[-1]
    w = lr.coef_[0] / scaler.scale_
    model.net.head.weight.copy_(torch.as_tensor(w, dtype=torch.float32)[None])
    model.net.head.bias.fill_(float(lr.intercept_[0] - np.dot(w, scaler.mean_)))


def frozen_probe(enc: Tagger, data: dict, idx: np.ndarray, c: Config) -> dict:
    """The linear probe on the frozen encoder's embeddings of the labelled rows ``idx``, and the test
    embeddings: what the probe and the fine-tune's first stage share."""
    x, m, p, y = (data["pool"][k][idx] for k in ("x", "mask", "pairs", "y"))
    te = data["test"]
    if "emb" not in te:  # the same encoder every time: embed the test set once
        te["emb"] = embeddings(enc, te["x"], te["mask"], te["pairs"])
    emb = embeddings(enc, x, m, p)
    return {"probe": fit_probe(emb, y, c.probe_c), "test_emb": te["emb"], "emb": emb}


def transfer_one(method: str, pretrained_path: str | Path, data: dict, idx: np.ndarray, c: Config, seed: int,
                 frozen: dict | None = None) -> dict:
    """Train one method on the labelled rows ``idx`` of the pool; test metrics.
    ``frozen``: :func:`frozen_probe` of these rows, when the caller has it already."""
    x, m, p, y = (data["pool"][k][idx] for k in ("x", "mask", "pairs", "y"))
    te = data["test"]
    if method in ("probe", "finetune") and frozen is None:
        frozen = frozen_probe(load_tagger(pretrained_path)[0], data, idx, c)
    if method == "probe":
        return _evaluate(te["y"], frozen["probe"].decision_function(frozen["test_emb"]))
    if method == "probe_random":  # the null: the same probe on a random-init encoder (no pre-training)
        hp = {k: getattr(c, k) for k in ("dim", "heads", "layers", "n_constituents")} | {"n_out": 1}
        torch.manual_seed(seed)
        rnd = Tagger(hp, feature_stats(x, m, p))
        clf = fit_probe(embeddings(rnd, x, m, p), y, c.probe_c)
        return _evaluate(te["y"], clf.decision_function(embeddings(rnd, te["x"], te["mask"], te["pairs"])))
    val = None
    if method == "finetune":
        # linear probe first, then all weights (LP-FT): the new head starts from
        # the probe so the first steps do not scramble the pre-trained encoder.
        # The probe sees only the fine-tune's training rows: a probe fitted on the
        # validation rows too would start the fine-tune from a validation loss
        # measured on data it has seen (and judge its training against that).
        tr, va = split_validation(y, 0.25, seed)
        model, _ = load_tagger(pretrained_path)
        model.new_head(1, seed)
        probe_head(model, fit_probe(frozen["emb"][tr], y[tr], c.probe_c))
        val = (x[va], m[va], p[va], y[va])
        x, m, p, y = x[tr], m[tr], p[tr], y[tr]
        lr = c.finetune_lr
    elif method == "scratch":
        hp = {k: getattr(c, k) for k in ("dim", "heads", "layers", "n_constituents")} | {"n_out": 1}
        torch.manual_seed(seed)
        model = Tagger(hp, feature_stats(x, m, p))  # standardised on its own labelled jets
        lr = c.lr
    else:
        raise InputError("config", "method", f"unknown transfer method {method!r} (known {METHODS})")
    cfg = TrainConfig(batch_size=c.batch_size, lr=lr, seed=seed, val_fraction=0.25, patience=c.max_epochs,
                      progress=False, desc=f"{method} N={len(idx) // 2} seed {seed}", bf16=c.bf16)
    cfg = replace(cfg, epochs=_epochs_for(int(len(idx) * 0.75), cfg.batch_size, c.target_steps, c.max_epochs))
    hist = train(model, x, m, p, y, cfg, binary=True, val=val)
    out = _evaluate(te["y"], scores(model, te["x"], te["mask"], te["pairs"]))
    out["epochs"] = len(hist["val_loss"])
    return out


def transfer(jets_path: str | Path, pretrained_path: str | Path, c: Config, seed: int) -> dict:
    """Rejection and AUC of the three methods for every labelled size and seed."""
    jets = read_jets(jets_path)
    check_config(c, jets["class_names"], target_file=True)
    _, info = load_tagger(pretrained_path)
    if info["heldout"] != c.heldout:
        raise InputError(pretrained_path, "info.heldout",
                         f"pre-trained with {info['heldout']!r} held out, config asks for {c.heldout!r}")
    if list(info.get("excluded", [])) != list(c.exclude):
        raise InputError(pretrained_path, "info.excluded",
                         f"pre-trained without {info.get('excluded', [])}, config excludes {list(c.exclude)}")
    part = target_partition(jets["labels"], jets["class_names"], c.heldout, c.n_test, seed)
    sig = jets["class_names"].index(c.heldout)
    data = {}
    for name in ("pool", "test"):
        rows = part[name]
        x, mask, pairs = inputs(jets["constituents"][rows], c.n_constituents)
        data[name] = {"x": x, "mask": mask, "pairs": pairs, "y": (jets["labels"][rows] == sig).astype(np.int64)}
    n_max = min(part["n_pool_signal"], part["n_pool_background"])
    if c.sizes[-1] > n_max:
        raise InputError("config", "studies.sophon.sizes",
                         f"largest size {c.sizes[-1]} per class exceeds the labelled pool ({n_max} per class)")
    runs = {m: {str(s): [] for s in c.sizes} for m in METHODS}
    enc, _ = load_tagger(pretrained_path)
    for size in c.sizes:
        for s in c.seeds:
            idx = _balanced(data["pool"]["y"], size, np.random.default_rng([s, size]))
            frozen = frozen_probe(enc, data, idx, c)
            for method in METHODS:
                runs[method][str(size)].append(transfer_one(method, pretrained_path, data, idx, c, s, frozen)
                                               | {"seed": s})
    background = [n for n in jets["class_names"] if n != c.heldout]
    return {"heldout": c.heldout, "background": background, "target": c.target, "target_source": jets["source"],
            "excluded_from_pretraining": list(c.exclude), "sizes": list(c.sizes),
            "seeds": list(c.seeds), "n_test_per_class": c.n_test, "signal_efficiency": SIG_EFF,
            "pretrain": info, "runs": runs}


# --------------------------------------------------------------- summary ---

def summarise(t: dict) -> dict:
    """Mean, std, min, max over seeds of rejection and AUC per method and size."""
    out = {}
    for method, per in t["runs"].items():
        out[method] = {}
        for size, rs in per.items():
            d = {}
            for k in ("rejection", "auc"):
                v = np.array([r[k] for r in rs], dtype=float)
                d[k] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                        "min": float(v.min()), "max": float(v.max()), "values": v.tolist()}
            d["saturated_runs"] = int(sum(r["saturated"] for r in rs))
            out[method][size] = d
    return out


def plot(t: dict, summary: dict, path: str | Path, rlabel: str = "") -> list:
    """The paper's figure: background rejection at 50 % signal efficiency vs
    number of labelled jets (and the AUC), three methods, seed min-max bands."""
    from ... import plotting

    plotting.style()
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(1, 2, figsize=(18, 7.5))
    n = np.array(t["sizes"]) * 2
    for method, marker in zip(METHODS, "os^v"):
        for ax, key in zip(axes, ("rejection", "auc")):
            d = [summary[method][str(s)][key] for s in t["sizes"]]
            mean = np.array([v["mean"] for v in d])
            ax.plot(n, mean, marker=marker, label=LABELS[method])
            ax.fill_between(n, [v["min"] for v in d], [v["max"] for v in d], alpha=0.25)
    axes[0].set_yscale("log")
    axes[0].set_ylabel(r"background rejection $1/\varepsilon_B$ at $\varepsilon_S = 50\%$", fontsize=20)
    axes[1].set_ylabel("test AUC", fontsize=20)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xticks(n, [str(v) for v in n])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("labelled training jets (signal + background)", fontsize=20)
        plotting.label(ax, "")
    bkg = "+".join(t["background"])
    where = "" if t.get("target", "toy") == "toy" else f" [{t['target']}]"
    axes[0].text(0.03, 0.96, f"{t['heldout']}{where} (unseen in pre-training) vs {bkg}\n{rlabel}",
                 transform=axes[0].transAxes, va="top", fontsize=14)
    axes[0].legend(fontsize=14, loc="lower right")
    fig.tight_layout()
    return plotting.save(fig, path)
