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
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.jet_constituents import read_jets
from ..errors import InputError
from ..nn.jets import PAIR_FEATURES, PARTICLE_FEATURES, JetTransformer, pair_features, particle_features
from ..nn.train import TrainConfig, fit

PAPER = "arXiv:2405.12972"
TITLE = "Sophon-style signature pre-training: transfer to an unseen resonance"
METHODS = ("finetune", "probe", "scratch")
LABELS = {"finetune": "pre-trained + fine-tuned", "probe": "linear probe on frozen embedding",
          "scratch": "trained from scratch"}
BACKGROUND = ("q", "g")
SIG_EFF = 0.5


# ---------------------------------------------------------------- config ---

#: the keys the pre-training reads (its cache key); the transfer reads them all
PRETRAIN_KEYS = ("heldout", "n_constituents", "dim", "heads", "layers", "n_test", "pretrain_qcd_fraction",
                 "n_pretrain_per_class", "pretrain_epochs", "batch_size", "lr")
TRANSFER_KEYS = PRETRAIN_KEYS + ("sizes", "seeds", "finetune_lr", "target_steps", "max_epochs", "probe_c")


def parse_config(text: str, keys=TRANSFER_KEYS, class_names=None) -> dict:
    """The study config as JSON (one rule param) -> dict, checked."""
    import json

    try:
        c = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError("config", "studies.sophon", f"not valid JSON ({exc})") from None
    missing = [k for k in keys if k not in c]
    if missing:
        raise InputError("config", f"studies.sophon.{missing[0]}", "missing")
    check_config(c, class_names)
    return c


def check_config(c: dict, class_names=None) -> None:
    """Bad values of ``studies.sophon`` -> InputError naming the field; keys
    absent from ``c`` are not checked."""
    def bad(field, why):
        raise InputError("config", f"studies.sophon.{field}", why)

    def num(k):
        try:
            v = float(c[k])
        except (TypeError, ValueError):
            bad(k, f"not a number: {c[k]!r}")
        if not math.isfinite(v):
            bad(k, f"not finite: {c[k]!r}")
        return v

    held = c.get("heldout")
    if held is not None:
        if class_names is not None:
            if held not in class_names:
                bad("heldout", f"{held!r} is not a class of the jets file ({list(class_names)})")
            for b in BACKGROUND:
                if b not in class_names:
                    bad("heldout", f"the jets file has no background class {b!r}")
        if held in BACKGROUND:
            bad("heldout", "the held-out signal cannot be a QCD (q/g) class")
    if "sizes" in c:
        sizes = list(c["sizes"])
        if (not sizes or any(not isinstance(s, int) or s < 2 for s in sizes) or sorted(sizes) != sizes
                or len(set(sizes)) != len(sizes)):
            bad("sizes", f"need increasing integers >= 2 (labelled jets per class), got {sizes}")
    if "seeds" in c and (len(c["seeds"]) < 2 or len(set(c["seeds"])) != len(c["seeds"])):
        bad("seeds", f"need at least two distinct seeds for a spread, got {list(c['seeds'])}")
    for k in ("n_constituents", "dim", "heads", "layers", "n_test", "pretrain_epochs", "target_steps", "max_epochs",
              "batch_size"):
        if k in c and (num(k) != int(num(k)) or num(k) < 1):
            bad(k, f"must be an integer >= 1, got {c[k]}")
    if "n_pretrain_per_class" in c and (num("n_pretrain_per_class") < 0):
        bad("n_pretrain_per_class", f"must be >= 0 (0: all), got {c['n_pretrain_per_class']}")
    if "dim" in c and "heads" in c and int(c["dim"]) % int(c["heads"]):
        bad("dim", f"{c['dim']} not divisible by heads={c['heads']}")
    for k in ("lr", "finetune_lr", "probe_c"):
        if k in c and not num(k) > 0:
            bad(k, f"must be a positive number, got {c[k]}")
    if "pretrain_qcd_fraction" in c and not 0 < num("pretrain_qcd_fraction") < 1:
        bad("pretrain_qcd_fraction", f"must lie in (0, 1), got {c['pretrain_qcd_fraction']}")


# ------------------------------------------------------------------ data ---

def partition(labels: np.ndarray, class_names, heldout: str, n_test: int, pretrain_qcd_fraction: float,
              seed: int) -> dict[str, np.ndarray]:
    """Row indices: ``pretrain`` (all classes but ``heldout``; a fraction of
    q/g), and for the transfer task ``test`` and ``pool`` (held-out resonance
    and the remaining q/g). The three sets are disjoint."""
    rng = np.random.default_rng([seed, 2405])
    names = list(class_names)
    pre, sig, bkg = [], None, []
    for k, name in enumerate(names):
        idx = rng.permutation(np.flatnonzero(labels == k))
        if name == heldout:
            sig = idx
        elif name in BACKGROUND:
            cut = int(round(pretrain_qcd_fraction * len(idx)))
            pre.append(idx[:cut])
            bkg.append(idx[cut:])
        else:
            pre.append(idx)
    bkg = rng.permutation(np.concatenate(bkg))
    for name, arr in (("signal", sig), ("background", bkg)):
        if len(arr) < n_test + 2:
            raise InputError("config", "studies.sophon.n_test",
                             f"{n_test} test jets per class leave no labelled pool ({len(arr)} {name} jets)")
    test = np.r_[sig[:n_test], bkg[:n_test]]
    pool = np.r_[sig[n_test:], bkg[n_test:]]
    return {"pretrain": np.sort(np.concatenate(pre)), "test": test, "pool": pool,
            "n_pool_signal": int(len(sig) - n_test), "n_pool_background": int(len(bkg) - n_test)}


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

    def __init__(self, hp: dict, stats: dict):
        super().__init__()
        self.hp = dict(hp)
        self.net = JetTransformer(len(PARTICLE_FEATURES), dim=hp["dim"], heads=hp["heads"], layers=hp["layers"],
                                  n_out=hp["n_out"], pair_dim=len(PAIR_FEATURES))
        for k, v in stats.items():
            self.register_buffer(k, torch.tensor(v, dtype=torch.float32))

    def _scaled(self, x, mask, pairs):
        mask = mask.bool()
        x = (x - self.x_mean) / self.x_std * mask[..., None]
        valid = (pairs != 0).any(-1, keepdim=True)
        pairs = (pairs - self.p_mean) / self.p_std * valid
        return x, mask, pairs

    def embed(self, x, mask, pairs):
        return self.net.embed(*self._scaled(x, mask, pairs))

    def forward(self, x, mask, pairs):
        return self.net.head(self.embed(x, mask, pairs))

    def new_head(self, n_out: int, seed: int) -> None:
        torch.manual_seed(seed)
        self.net.head = nn.Linear(self.net.head.in_features, n_out)
        self.hp["n_out"] = n_out


class EncoderExport(nn.Module):
    """What is published: jet embedding and pre-training class probabilities."""

    def __init__(self, tagger: Tagger):
        super().__init__()
        self.tagger = tagger

    def forward(self, x, mask, pairs):
        e = self.tagger.embed(x, mask, pairs)
        return e, torch.softmax(self.tagger.net.head(e), -1)


def save_tagger(model: Tagger, path, info: dict) -> None:
    """One file (the cached artifact): state_dict, hyper-parameters, info."""
    from ..io import atomic_path

    with atomic_path(path) as tmp:
        torch.save({"state_dict": model.state_dict(), "hp": model.hp, "info": info}, tmp)


def load_tagger(path) -> tuple[Tagger, dict]:
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


def train(model: Tagger, x, mask, pairs, y, cfg: TrainConfig, binary: bool) -> dict:
    """Cross-entropy (multi-class) or BCE (binary, one logit) through the shared loop."""
    if binary:
        def loss_fn(m, b):
            return nn.functional.binary_cross_entropy_with_logits(m(*b[:3])[:, 0], b[3].float())
    else:
        def loss_fn(m, b):
            return nn.functional.cross_entropy(m(*b[:3]), b[3])
    return fit(model, loss_fn, [x, mask, pairs, torch.as_tensor(y)], cfg).as_dict()


@torch.no_grad()
def _batched(fn, x, mask, pairs, batch: int = 2048) -> np.ndarray:
    return torch.cat([fn(x[i:i + batch], mask[i:i + batch], pairs[i:i + batch])
                      for i in range(0, len(x), batch)]).numpy()


def scores(model: Tagger, x, mask, pairs) -> np.ndarray:
    model.eval()
    return _batched(model, x, mask, pairs)[:, 0]


def embeddings(model: Tagger, x, mask, pairs) -> np.ndarray:
    model.eval()
    return _batched(model.embed, x, mask, pairs)


def pretrain(jets_path, out_path, c: dict, seed: int) -> dict:
    """Pre-train on every fine class except ``c['heldout']``; save the checkpoint."""
    jets = read_jets(jets_path)
    check_config(c, jets["class_names"])
    part = partition(jets["labels"], jets["class_names"], c["heldout"], c["n_test"], c["pretrain_qcd_fraction"], seed)
    classes = [n for n in jets["class_names"] if n != c["heldout"]]
    idx = cap_per_class(part["pretrain"], jets["labels"], c["n_pretrain_per_class"], seed)
    old = np.array([jets["class_names"].index(n) for n in classes])
    remap = np.full(len(jets["class_names"]), -1)
    remap[old] = np.arange(len(classes))
    y = remap[jets["labels"][idx]]
    x, mask, pairs = inputs(jets["constituents"][idx], c["n_constituents"])
    hp = {k: c[k] for k in ("dim", "heads", "layers", "n_constituents")} | {"n_out": len(classes)}
    torch.manual_seed(seed)
    model = Tagger(hp, feature_stats(x, mask, pairs))
    cfg = TrainConfig(epochs=c["pretrain_epochs"], batch_size=c["batch_size"], lr=c["lr"], seed=seed,
                      patience=max(3, c["pretrain_epochs"] // 3), desc="sophon pretrain")
    hist = train(model, x, mask, pairs, y, cfg, binary=False)
    info = {"classes": classes, "heldout": c["heldout"], "n_pretrain": int(len(idx)), "source": jets["source"],
            "jets_file": str(jets_path), "seed": seed, "best_epoch": hist["best_epoch"],
            "best_val_loss": hist["best_val"], "epochs_run": len(hist["val_loss"]),
            "n_parameters": int(sum(p.numel() for p in model.parameters()))}
    with torch.no_grad():
        pred = _batched(model.eval(), x[:4000], mask[:4000], pairs[:4000]).argmax(1)
        info["pretrain_set_accuracy"] = float((pred == y[:4000]).mean())
    save_tagger(model, out_path, info)
    return info


# -------------------------------------------------------------- transfer ---

def rejection_at(y, s, sig_eff: float = SIG_EFF) -> tuple[float, bool]:
    """1/eps_B at the first cut reaching ``sig_eff`` (sklearn roc_curve); when
    no background passes, the bound 1/eps_B >= n_background is returned with
    ``saturated=True``."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    eps_b = float(fpr[np.searchsorted(tpr, sig_eff, side="left")])
    n_b = int((np.asarray(y) == 0).sum())
    return (1.0 / eps_b, False) if eps_b > 0 else (float(n_b), True)


def _evaluate(y, s) -> dict:
    from sklearn.metrics import roc_auc_score

    rej, sat = rejection_at(y, s)
    return {"rejection": rej, "saturated": sat, "auc": float(roc_auc_score(y, s))}


def _balanced(y_pool: np.ndarray, n_per_class: int, rng) -> np.ndarray:
    """``n_per_class`` signal and background rows of the labelled pool."""
    return np.concatenate([rng.choice(np.flatnonzero(y_pool == k), n_per_class, replace=False) for k in (1, 0)])


def fit_probe(emb: np.ndarray, y: np.ndarray, c_reg: float):
    """Standardised logistic regression (scikit-learn) on frozen embeddings."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c_reg, max_iter=2000)).fit(emb, y)


@torch.no_grad()
def probe_head(model: Tagger, clf) -> None:
    """Set the one-logit head to the probe's decision function on the embedding."""
    scaler, lr = clf[0], clf[-1]
    w = lr.coef_[0] / scaler.scale_
    model.net.head.weight.copy_(torch.as_tensor(w, dtype=torch.float32)[None])
    model.net.head.bias.fill_(float(lr.intercept_[0] - np.dot(w, scaler.mean_)))


def transfer_one(method: str, pretrained_path, data: dict, idx: np.ndarray, c: dict, seed: int) -> dict:
    """Train one method on the labelled rows ``idx`` of the pool; test metrics."""
    x, m, p, y = (data["pool"][k][idx] for k in ("x", "mask", "pairs", "y"))
    te = data["test"]
    if method == "probe":
        enc, _ = load_tagger(pretrained_path)
        clf = fit_probe(embeddings(enc, x, m, p), y, c["probe_c"])
        return _evaluate(te["y"], clf.decision_function(embeddings(enc, te["x"], te["mask"], te["pairs"])))
    if method == "finetune":
        # linear probe first, then all weights (LP-FT): the new head starts from
        # the probe so the first steps do not scramble the pre-trained encoder
        model, _ = load_tagger(pretrained_path)
        model.new_head(1, seed)
        probe_head(model, fit_probe(embeddings(model, x, m, p), y, c["probe_c"]))
        lr = c["finetune_lr"]
    elif method == "scratch":
        hp = {k: c[k] for k in ("dim", "heads", "layers", "n_constituents")} | {"n_out": 1}
        torch.manual_seed(seed)
        model = Tagger(hp, feature_stats(x, m, p))  # standardised on its own labelled jets
        lr = c["lr"]
    else:
        raise InputError("config", "method", f"unknown transfer method {method!r} (known {METHODS})")
    cfg = TrainConfig(batch_size=c["batch_size"], lr=lr, seed=seed, val_fraction=0.25, patience=c["max_epochs"],
                      progress=False, desc=f"{method} N={len(idx) // 2} seed {seed}")
    cfg = replace(cfg, epochs=_epochs_for(int(len(idx) * 0.75), cfg.batch_size, c["target_steps"], c["max_epochs"]))
    hist = train(model, x, m, p, y, cfg, binary=True)
    out = _evaluate(te["y"], scores(model, te["x"], te["mask"], te["pairs"]))
    out["epochs"] = len(hist["val_loss"])
    return out


def transfer(jets_path, pretrained_path, c: dict, seed: int) -> dict:
    """Rejection and AUC of the three methods for every labelled size and seed."""
    jets = read_jets(jets_path)
    check_config(c, jets["class_names"])
    _, info = load_tagger(pretrained_path)
    if info["heldout"] != c["heldout"]:
        raise InputError(pretrained_path, "info.heldout",
                         f"pre-trained with {info['heldout']!r} held out, config asks for {c['heldout']!r}")
    part = partition(jets["labels"], jets["class_names"], c["heldout"], c["n_test"], c["pretrain_qcd_fraction"], seed)
    sig = jets["class_names"].index(c["heldout"])
    data = {}
    for name in ("pool", "test"):
        rows = part[name]
        x, mask, pairs = inputs(jets["constituents"][rows], c["n_constituents"])
        data[name] = {"x": x, "mask": mask, "pairs": pairs, "y": (jets["labels"][rows] == sig).astype(np.int64)}
    n_max = min(part["n_pool_signal"], part["n_pool_background"])
    if c["sizes"][-1] > n_max:
        raise InputError("config", "studies.sophon.sizes",
                         f"largest size {c['sizes'][-1]} per class exceeds the labelled pool ({n_max} per class)")
    runs = {m: {str(s): [] for s in c["sizes"]} for m in METHODS}
    for size in c["sizes"]:
        for s in c["seeds"]:
            idx = _balanced(data["pool"]["y"], size, np.random.default_rng([s, size]))
            for method in METHODS:
                runs[method][str(size)].append(transfer_one(method, pretrained_path, data, idx, c, s) | {"seed": s})
    return {"heldout": c["heldout"], "background": list(BACKGROUND), "sizes": list(c["sizes"]),
            "seeds": list(c["seeds"]), "n_test_per_class": c["n_test"], "signal_efficiency": SIG_EFF,
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


def verdict(summary: dict, sizes) -> dict:
    """holds: at the smallest labelled size the mean rejection of fine-tuning
    exceeds that of training from scratch by more than the combined seed
    spread sqrt(std_ft^2 + std_scratch^2) (sample std over seeds)."""
    s = str(sizes[0])
    ft, sc = summary["finetune"][s]["rejection"], summary["scratch"][s]["rejection"]
    spread = float(np.hypot(ft["std"], sc["std"]))
    gain = ft["mean"] - sc["mean"]
    return {"smallest_size_per_class": int(sizes[0]), "rejection_finetune": ft["mean"],
            "rejection_scratch": sc["mean"], "rejection_gain": gain, "seed_spread": spread,
            "ratio_finetune_over_scratch": ft["mean"] / sc["mean"] if sc["mean"] > 0 else float("inf"),
            "rule": "mean(R50 fine-tune) - mean(R50 scratch) > sqrt(std_ft^2 + std_scratch^2) at the smallest "
                    "labelled size (std over seeds)",
            "holds": bool(gain > spread)}


def plot(t: dict, summary: dict, path, rlabel: str = "") -> list:
    """The paper's figure: background rejection at 50 % signal efficiency vs
    number of labelled jets (and the AUC), three methods, seed min-max bands."""
    from .. import plotting

    plotting.style()
    import matplotlib.pyplot as plt

    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(1, 2, figsize=(18, 7.5))
    n = np.array(t["sizes"]) * 2
    for method, marker in zip(METHODS, "os^"):
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
    axes[0].text(0.03, 0.96, f"{t['heldout']} (unseen in pre-training) vs QCD (q+g)\n{rlabel}",
                 transform=axes[0].transAxes, va="top", fontsize=14)
    axes[0].legend(fontsize=14, loc="lower right")
    fig.tight_layout()
    return plotting.save(fig, path)


def report(transfer_json, publish_json, outdir, tier: str) -> dict:
    """metrics.json + figure from the transfer results and the publish check."""
    from ..io import read_json
    from ..metrics import write_metrics

    t = read_json(transfer_json)
    pub = read_json(publish_json)
    summary = summarise(t)
    v = verdict(summary, t["sizes"])
    outdir = Path(outdir)
    plot(t, summary, outdir / "rejection_vs_labelled.png",
         rlabel=f"{tier} tier, {len(t['seeds'])} seeds (band: min to max)")
    metrics = {"verdict": v, "summary": summary, "pretrain": t["pretrain"], "heldout": t["heldout"],
               "sizes_per_class": t["sizes"], "seeds": t["seeds"], "n_test_per_class": t["n_test_per_class"],
               "published_encoder": pub}
    return write_metrics(outdir / "metrics.json", study="sophon", paper=PAPER, title=TITLE,
                         key_metric={"name": f"R50 fine-tune / scratch at {t['sizes'][0]} labelled jets per class",
                                     "value": v["ratio_finetune_over_scratch"]},
                         claim="Pre-training on many fine-grained jet classes makes a tagger for an unseen "
                               "resonance far more label-efficient: with few labelled jets the fine-tuned "
                               "network rejects much more background than one trained from scratch.",
                         holds=v["holds"], metrics=metrics, tier=tier)
