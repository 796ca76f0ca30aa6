"""L-GATr, a Lorentz-equivariant geometric-algebra transformer (arXiv:2411.00446,
"A Lorentz-Equivariant Transformer for All of the LHC"), as a small top tagger.

* **Model**: :class:`LGATrTagger` wraps :class:`lgatr.LGATr` (the PyPI
  package; no geometric algebra is reimplemented here). Each constituent's
  four-momentum (E, px, py, pz) divided by one global scale is embedded as
  the vector part of a multivector (``lgatr.embed_vector``); padded slots are
  masked out of the attention. The invariant readout is the scalar component
  (``lgatr.extract_scalar``) of the output multivector, either averaged over
  the constituents (``readout="mean"``) or taken from an extra global token
  whose multivector is zero and whose scalar input flags it
  (``readout="token"``, the paper's tagging readout). Two variants
  (:data:`KINDS`): ``lgatr`` gets no reference multivectors, so it is
  exactly invariant under proper orthochronous Lorentz transformations
  SO+(1,3) (this is the one the invariance test checks); ``lgatr_sb`` is
  the paper's tagging setup, with the beam (x-y plane) and time reference
  multivectors (``lgatr.get_spurions``) as extra input channels, which
  break the symmetry down to rotations about the beam axis and let the
  network use lab-frame energies.
* **Baseline**: :class:`BaselineTagger`, the shared non-equivariant
  :class:`colliderflow.nn.jets.JetTransformer` on the same four-momentum
  components, standardised per component (a non-equivariant network may do
  that; the equivariant one may only use one global scale, which commutes
  with every Lorentz transformation).
* **Invariance**: :func:`invariance_scan` transforms every constituent of a
  jet with the same random rotation followed by a boost of fixed rapidity
  (:func:`colliderflow.data.kinematics.random_lorentz`) and records the
  shift of the output logit.
* **Data efficiency**: :func:`run_seed` trains both models on nested training
  sets of increasing size; :func:`report` writes the paper-style figure (AUC
  and 1/eps_B vs training-set size), the invariance figure and metrics.json.
* **Publishing**: :func:`publish` exports the invariant L-GATr and the
  baseline of one seed as ONNX + model cards (:mod:`colliderflow.publish`).
  The TorchScript exporter cannot convert lgatr's layers (its error is
  recorded); L-GATr goes through the dynamo exporter, in float64, and the
  exported model's shift under a boost is recorded.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from lgatr import (
    LGATr,
    MLPConfig,
    PrimitivesConfig,
    SelfAttentionConfig,
    embed_vector,
    extract_scalar,
    get_num_spurions,
    get_spurions,
)

from ...errors import InputError
from ...nn.jets import PAIR_FEATURES, PARTICLE_FEATURES, JetTransformer, pair_features, particle_features
from . import Config, baseline_breaks, invariance_ok
from . import TrainConfig as TrainSection

log = logging.getLogger(__name__)

READOUTS = ("mean", "token")
#: the exactly invariant L-GATr, L-GATr with the paper's symmetry-breaking spurions, the plain transformer
KINDS = ("lgatr", "lgatr_sb", "baseline")
#: every model trained at every size: KINDS and the paper's competitor, a ParT-like transformer
TRAINED = (*KINDS, "part")


# ----------------------------------------------------------------- data
def load_task(path: str | Path, signal: str, background: Sequence[str], n_constituents: int) -> dict:
    """Signal vs background jets of a jet-constituent file as four-momenta.

    Returns ``p4`` (n, N, 4) float64 (E, px, py, pz) in GeV in the jet frame,
    ``mask`` (n, N) bool, ``y`` (n,) 1 = signal, and the class names.
    """
    from ...data.jet_constituents import four_vectors, read_jets, select_classes

    background = list(background)
    if signal in background:
        raise InputError("config", "studies.lgatr.background", f"signal class {signal!r} also listed as background")
    jets = select_classes(read_jets(path), [signal, *background])
    cons = jets["constituents"]
    if cons.shape[1] < n_constituents:
        raise InputError(path, "constituents", f"file keeps {cons.shape[1]} constituents, "
                                               f"config asks for n_constituents={n_constituents}")
    p4 = four_vectors(cons[:, :n_constituents])
    mask = jets["mask"][:, :n_constituents]
    y = (jets["labels"] == 0).astype(np.float32)
    if y.sum() == 0 or y.sum() == len(y):
        raise InputError(path, "labels", "need both signal and background jets")
    return {"p4": p4, "mask": mask, "y": y, "classes": jets["class_names"], "source": jets.get("source", "")}


def split_indices(n: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training pool, test) indices; the test set depends on ``seed`` only."""
    if not 0 < n_test < n:
        raise InputError("config", "studies.lgatr.n_test", f"must be between 1 and {n - 1} (the file has {n} jets)")
    perm = np.random.default_rng(seed).permutation(n)
    return perm[n_test:], perm[:n_test]


def global_scale(p4: np.ndarray, mask: np.ndarray) -> float:
    """The one momentum scale (GeV) of the L-GATr inputs: the median jet
    mass of the given jets divided by the number of constituent slots N.

    A single number commutes with every Lorentz transformation (per-component
    scales would not), and a Lorentz-invariant choice keeps the scale itself
    frame-independent. Since m^2 = sum_ij p_i.p_j over about N^2 pairs, this
    makes the typical pair invariant p_i.p_j / scale^2 of order one, which
    the network's layer norms and gates need: with the component spread as
    scale (about 45 GeV on the toy) the massless inputs' invariants are
    ~1e-3 and the network barely trains.
    """
    jet = np.asarray(p4, float).sum(1)
    m2 = jet[:, 0] ** 2 - (jet[:, 1:] ** 2).sum(1)
    s = float(np.median(np.sqrt(np.clip(m2, 0.0, None)))) / np.asarray(mask).shape[1]
    if not math.isfinite(s) or s <= 0:
        raise InputError(None, "four-momenta", "cannot set the momentum scale: median jet mass is zero or not finite")
    return s


# ----------------------------------------------------------------- models
class LGATrTagger(torch.nn.Module):
    """L-GATr binary tagger: ``forward(p4 (B, N, 4) GeV, mask (B, N)) ->
    logit (B,)``, Lorentz invariant without spurions. Hyper-parameters:
    ``blocks``, ``mv_channels``, ``s_channels``, ``heads``, ``mlp_ratio``,
    ``readout``; ``spurions`` adds the beam and time reference multivectors
    (times ``spurion_scale``) as input channels of every constituent."""

    def __init__(self, scale: float, blocks: int = 2, mv_channels: int = 4, s_channels: int = 8,
                 heads: int = 2, mlp_ratio: int = 2, readout: str = "mean", spurions: bool = False,
                 spurion_scale: float = 1.0) -> None:
        super().__init__()
        if readout not in READOUTS:
            raise InputError("config", "studies.lgatr.lgatr.readout", f"unknown readout {readout!r} ({READOUTS})")
        self.readout, self.spurions = readout, bool(spurions)
        self.register_buffer("scale", torch.tensor(float(scale), dtype=torch.float64))
        self.spurion_scale = float(spurion_scale)
        n_in = 1 + (get_num_spurions() if self.spurions else 0)
        # sparse_gp=False: the dense geometric product is ~25 % faster on one CPU thread
        self.net = LGATr(num_blocks=blocks, in_mv_channels=n_in, out_mv_channels=1, hidden_mv_channels=mv_channels,
                         in_s_channels=1, out_s_channels=1, hidden_s_channels=s_channels,
                         attention=SelfAttentionConfig(num_heads=heads), mlp=MLPConfig(mlp_ratio=mlp_ratio),
                         primitives=PrimitivesConfig(sparse_gp=False))

    def forward(self, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = mask.bool()
        dtype = next(self.net.parameters()).dtype
        mv = embed_vector((p4 / self.scale).to(dtype))[..., None, :]  # (B, N, 1, 16)
        if self.spurions:  # the paper's symmetry breaking: beam (x-y plane) and time references as extra channels
            ref = self.spurion_scale * get_spurions(device=mv.device, dtype=dtype)
            mv = torch.cat([mv, ref.expand(*mv.shape[:2], *ref.shape)], -2)
        s = mask[..., None].to(dtype)
        if self.readout == "token":  # global token: zero multivector, scalar flag 1
            b = len(mv)
            token = torch.zeros_like(mv[:, :1])
            if self.spurions:
                token[:, :, 1:] = mv[:, :1, 1:]
            mv = torch.cat([token, mv], 1)
            s = torch.cat([torch.ones(b, 1, 1, dtype=dtype, device=s.device), torch.zeros_like(s)], 1)
            mask = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=mask.device), mask], 1)
        n = mask.shape[1]
        # real keys only; a padded query still sees itself (no empty softmax rows)
        attn = (mask[:, None, None, :] | torch.eye(n, dtype=torch.bool, device=mask.device)).expand(-1, 1, n, n)
        out_mv, _ = self.net(mv, s, attn_mask=attn)
        score = extract_scalar(out_mv)[..., 0, 0]  # (B, N')
        if self.readout == "token":
            return score[:, 0]
        m = mask.to(dtype)
        return (score * m).sum(1) / m.sum(1).clamp(min=1.0)


class BaselineTagger(torch.nn.Module):
    """Non-equivariant transformer (:class:`JetTransformer`) on (E, px, py,
    pz) standardised per component with ``mean``, ``std`` (4,):
    ``forward(p4 (B, N, 4) GeV, mask (B, N)) -> logit (B,)``."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, dim: int = 24, heads: int = 2, layers: int = 2) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean, np.float64)))
        self.register_buffer("std", torch.as_tensor(np.asarray(std, np.float64)))
        self.net = JetTransformer(4, dim=dim, heads=heads, layers=layers, n_out=1)

    def forward(self, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        dtype = next(self.net.parameters()).dtype
        x = ((p4 - self.mean) / self.std).to(dtype) * mask[..., None].to(dtype)
        return self.net(x, mask)[:, 0]


def p4_to_constituents(p4: np.ndarray) -> np.ndarray:
    """Jet-frame (E, px, py, pz) (the jet along x, :func:`colliderflow.data.jet_constituents.four_vectors`)
    -> (pT, eta_rel, phi_rel), zero where pT is 0."""
    p4 = np.asarray(p4, np.float64)
    pt = np.hypot(p4[..., 1], p4[..., 2])
    safe = np.where(pt > 0, pt, 1.0)
    c = np.stack([pt, np.arcsinh(p4[..., 3] / safe), np.arctan2(p4[..., 2], p4[..., 1])], -1)
    return c * (pt > 0)[..., None]


def part_inputs(p4: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ParT inputs of four-momenta: particle features, mask, pair features (:mod:`colliderflow.nn.jets`)."""
    c = p4_to_constituents(p4)
    x, mask = particle_features(c)
    return x, mask, pair_features(c)


class PartTagger(torch.nn.Module):
    """The paper's competitor in miniature: a ParT-like transformer (:class:`JetTransformer` with the ParT
    pairwise-interaction attention bias from ln dR, ln kT, ln z, ln m^2) on (pT, eta, phi) particle
    features, both standardised with ``stats`` (means / stds of the training jets' features):
    ``forward(p4 (B, N, 4) GeV, mask (B, N)) -> logit (B,)``. Not Lorentz equivariant.

    The features are a fixed function of the four-momenta: training and evaluation compute them once per
    jet (:meth:`features`, on the CPU in numpy) and call :meth:`forward_features` (on any device), not
    once per batch and epoch."""

    def __init__(self, stats: dict, dim: int = 24, heads: int = 2, layers: int = 2) -> None:
        super().__init__()
        for k, v in stats.items():
            self.register_buffer(k, torch.as_tensor(np.asarray(v, np.float32)))
        self.net = JetTransformer(len(PARTICLE_FEATURES), dim=dim, heads=heads, layers=layers, n_out=1,
                                  pair_dim=len(PAIR_FEATURES))

    @staticmethod
    def features(p4: np.ndarray | torch.Tensor, mask: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(particle features, mask, pair features) CPU tensors of jets (:func:`part_inputs`), the mask
        restricted to ``mask``."""
        p4 = p4.detach().cpu().numpy() if isinstance(p4, torch.Tensor) else np.asarray(p4, np.float64)
        x, m, pairs = (torch.from_numpy(a) for a in part_inputs(p4))
        return x, m & torch.as_tensor(np.asarray(mask.cpu() if isinstance(mask, torch.Tensor) else mask)).bool(), pairs

    def forward(self, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        dev = self.x_mean.device
        return self.forward_features(*(t.to(dev) for t in self.features(p4, mask)))

    def forward_features(self, x: torch.Tensor, m: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
        """The logit from :meth:`features`."""
        m = m.bool()
        x = (x - self.x_mean) / self.x_std * m[..., None]
        valid = (pairs != 0).any(-1, keepdim=True)
        pairs = (pairs - self.p_mean) / self.p_std * valid
        return self.net(x, m, pairs)[:, 0]


def part_stats(p4: np.ndarray) -> dict:
    """Feature means / stds over real constituents and valid pairs (PartTagger's standardisation)."""
    x, mask, pairs = part_inputs(p4)
    ps = pairs[(pairs != 0).any(-1)]
    xs = x[mask]
    return {"x_mean": xs.mean(0), "x_std": np.maximum(xs.std(0), 1e-3),
            "p_mean": ps.mean(0) if len(ps) else np.zeros(len(PAIR_FEATURES)),
            "p_std": np.maximum(ps.std(0), 1e-3) if len(ps) else np.ones(len(PAIR_FEATURES))}


def component_stats(p4: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-component mean and std (4,) over the real constituents (baseline only)."""
    vals = np.asarray(p4)[np.asarray(mask)]
    return vals.mean(0), np.maximum(vals.std(0), 1e-6)


def n_params(model: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def predict(model: torch.nn.Module, p4: np.ndarray, mask: np.ndarray, batch: int = 512) -> np.ndarray:
    """Logits (n,) in float64, the model evaluated in its own dtype on the configured device
    (:func:`colliderflow.nn.device.select`; the inputs moved there once, the model back where it was)."""
    from ...nn.device import select

    model.eval()
    dev = select()
    home = next(model.parameters(), torch.empty(0)).device
    model.to(dev)
    if isinstance(model, PartTagger):  # its features once for all jets, not per batch
        tensors, fn = [t.to(dev) for t in model.features(p4, mask)], model.forward_features
    else:
        tensors = [torch.as_tensor(np.asarray(p4, np.float64)).to(dev), torch.as_tensor(np.asarray(mask)).to(dev)]
        fn = model
    out = []
    try:
        with torch.no_grad():
            for i in range(0, len(p4), batch):
                out.append(fn(*(t[i:i + batch] for t in tensors)).double().cpu().numpy())
    finally:
        model.to(home)
    return np.concatenate(out) if out else np.zeros(0)


def model_hparams(cfg: Config, kind: str, spurion_scale: float = 1.0) -> dict:
    """Hyper-parameters of one of :data:`KINDS` from the study config
    (``lgatr_sb`` is ``cfg.lgatr`` with the spurions switched on)."""
    if kind == "baseline":
        return dataclasses.asdict(cfg.baseline)
    if kind == "part":
        return dataclasses.asdict(cfg.part)
    if kind == "lgatr":
        return dataclasses.asdict(cfg.lgatr)
    if kind == "lgatr_sb":
        return dict(dataclasses.asdict(cfg.lgatr), spurions=True, spurion_scale=spurion_scale)
    raise InputError("config", "model", f"unknown model kind {kind!r} (known {KINDS})")


def train_model(kind: str, p4: np.ndarray, mask: np.ndarray, y: np.ndarray, hp: dict, train: TrainSection, seed: int,
                scale: float) -> tuple[torch.nn.Module, dict]:
    """Train one tagger (``kind`` in :data:`KINDS`) with the shared loop
    (:func:`colliderflow.nn.train.fit`, binary cross-entropy on the logit).
    The number of epochs is ``train.samples / n_train`` (rounded up,
    at most ``train.max_epochs``): every size sees about the same number
    of jets, as in a fixed-iteration training."""
    from ...nn.train import TrainConfig, fit

    torch.manual_seed(seed)
    if kind in ("lgatr", "lgatr_sb"):
        model = LGATrTagger(scale, **hp)
    elif kind == "baseline":
        model = BaselineTagger(*component_stats(p4, mask), **hp)
    elif kind == "part":
        model = PartTagger(part_stats(p4), **hp)
    else:
        raise InputError("config", "model", f"unknown model kind {kind!r}")
    epochs = int(min(train.max_epochs, max(1, math.ceil(train.samples / len(y)))))
    loss = torch.nn.BCEWithLogitsLoss()
    target = torch.as_tensor(np.asarray(y, np.float32))
    if kind == "part":  # the ParT features once per jet, not per batch and epoch
        def loss_fn(m: torch.nn.Module, batch: Sequence[torch.Tensor]):
            return loss(m.forward_features(*batch[:3]), batch[3])

        tensors = (*PartTagger.features(p4, mask), target)
    else:
        def loss_fn(m: torch.nn.Module, batch: Sequence[torch.Tensor]):
            return loss(m(batch[0], batch[1]), batch[2])

        tensors = (torch.as_tensor(p4), torch.as_tensor(mask), target)
    hist = fit(model, loss_fn, tensors, TrainConfig(
        epochs=epochs, batch_size=train.batch_size, lr=train.lr, seed=seed,
        patience=train.patience, desc=f"{kind}-n{len(y)}-s{seed}", bf16=train.bf16))
    return model, {"epochs": epochs, "best_epoch": hist.best_epoch, "best_val_loss": hist.best_val}


# ----------------------------------------------------------------- metrics
def roc_summary(y: np.ndarray, score: np.ndarray, eff_s: float) -> dict:
    """AUC and background rejection 1/eps_B at signal efficiency ``eff_s``
    (sklearn's ROC, eps_B interpolated in eps_S; when no background passes
    the rejection is the lower bound n_background)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    y = np.asarray(y)
    fpr, tpr, _ = roc_curve(y, score)
    n_b = int((y == 0).sum())
    eps_b = float(np.interp(eff_s, tpr, fpr))
    return {"auc": float(roc_auc_score(y, score)), "rejection": 1.0 / max(eps_b, 1.0 / n_b),
            "eps_b": eps_b, "n_background": n_b}


def invariance_scan(model: torch.nn.Module, p4: np.ndarray, mask: np.ndarray, rapidities: Sequence[float],
                    n_transforms: int,
                    seed: int) -> dict:
    """Output shift |logit(Lambda p) - logit(p)| under random Lorentz
    transformations (random rotation, then a boost of each rapidity along a
    random direction; one transform per jet, ``n_transforms`` repetitions).

    Returns per rapidity the median, 90 % quantile and maximum shift (over
    jets and repetitions) and the typical logit spread (std over the jets),
    against which a shift is small or large.
    """
    from ...data.kinematics import apply_lorentz, random_lorentz

    rng = np.random.default_rng(seed)
    ref = predict(model, p4, mask)
    out = {"rapidity": [float(r) for r in rapidities], "median": [], "q90": [], "max": [],
           "logit_std": float(ref.std())}
    for w in rapidities:
        shifts = []
        for _ in range(n_transforms):
            lam = random_lorentz(rng, len(p4), w)
            shifts.append(np.abs(predict(model, apply_lorentz(lam, p4), mask) - ref))
        s = np.concatenate(shifts)
        out["median"].append(float(np.median(s)))
        out["q90"].append(float(np.quantile(s, 0.9)))
        out["max"].append(float(s.max()))
    return out


# ----------------------------------------------------------------- steps
def _validate(cfg: Config) -> None:
    """Checks that span values (single values are checked by the schema)."""
    sizes = cfg.train_sizes
    if sorted(sizes) != list(sizes):
        raise InputError("config", "studies.lgatr.train_sizes", f"need increasing sizes >= 10, got {list(sizes)}")


def run_seed(jets_path: str | Path, out_dir: str | Path, cfg: Config, seed: int, data_seed: int) -> dict:
    """Train L-GATr and the baseline on nested training sets (the first
    ``n`` jets of a seed-dependent shuffle of the training pool) for every
    size in ``cfg.train_sizes``; evaluate on the fixed test set. Saves the
    models of the largest size and ``result.json``."""
    from ...io import write_json
    from ...metrics import Stopwatch
    from ...nn.train import save_model

    _validate(cfg)
    task = load_task(jets_path, cfg.signal, cfg.background, cfg.n_constituents)
    pool, test = split_indices(len(task["y"]), cfg.n_test, data_seed)
    if cfg.train_sizes[-1] > len(pool):
        raise InputError(jets_path, "studies.lgatr.train_sizes",
                         f"largest size {cfg.train_sizes[-1]} exceeds the {len(pool)} jets outside the test set")
    order = pool[np.random.default_rng(seed).permutation(len(pool))]
    p4, mask, y = task["p4"], task["mask"], task["y"]
    scale = global_scale(p4[pool], mask[pool])
    # only the spurions' direction is a reference, their size is free: scale / median constituent energy
    # makes their invariants with the inputs, E_i / median E, of order one (with size 1 the time
    # spurion's E_i / scale ~ 10 made some seeds diverge)
    spurion_scale = scale / float(np.median(p4[pool][mask[pool]][:, 0]))
    out_dir = Path(out_dir)
    res = {"seed": seed, "signal": cfg.signal, "background": list(cfg.background),
           "source": task["source"], "n_test": int(len(test)), "n_signal_test": int(y[test].sum()),
           "scale": scale, "spurion_scale": spurion_scale, "runs": []}
    for n in cfg.train_sizes:
        idx = order[:n]
        for kind in TRAINED:
            hp = model_hparams(cfg, kind, spurion_scale)
            with Stopwatch() as sw:
                model, info = train_model(kind, p4[idx], mask[idx], y[idx], hp, cfg.train, seed, scale)
                score = predict(model, p4[test], mask[test])
            row = {"model": kind, "n_train": int(n), "n_params": n_params(model), "cpu_s": round(sw.cpu, 2),
                   **info, **roc_summary(y[test], score, cfg.efficiency)}
            log.info("%s n=%d seed=%d: AUC %.4f, 1/eps_B %.1f (%.1f s CPU)", kind, n, seed, row["auc"],
                     row["rejection"], sw.cpu)
            res["runs"].append(row)
            if n == cfg.train_sizes[-1] and kind in KINDS:
                hp = dict(hp, kind=kind, scale=scale)
                if kind == "baseline":
                    hp["mean"], hp["std"] = (v.tolist() for v in component_stats(p4[idx], mask[idx]))
                save_model(model, out_dir / f"{kind}.pt", hp)
    write_json(out_dir / "result.json", res)
    return res


def load_model(path: str | Path) -> torch.nn.Module:
    """A tagger saved by :func:`run_seed` (state dict + hyper-parameters)."""
    from ...nn.train import load_state

    state, hp = load_state(path)
    hp = dict(hp)
    kind, scale = hp.pop("kind"), hp.pop("scale")
    if kind == "baseline":
        model = BaselineTagger(hp.pop("mean"), hp.pop("std"), **hp)
    else:
        model = LGATrTagger(scale, **hp)
    model.load_state_dict(state)
    return model.eval()


def aggregate(results: list[dict]) -> dict:
    """Mean and standard deviation over seeds of AUC and 1/eps_B per model
    and training size."""
    out = {}
    for kind in TRAINED:
        rows = [r for res in results for r in res["runs"] if r["model"] == kind]
        if not rows:
            raise InputError(None, "runs", f"no {kind} runs in the result files")
        sizes = sorted({r["n_train"] for r in rows})
        d = {"n_train": sizes, "n_params": rows[0]["n_params"] if rows else 0}
        for key in ("auc", "rejection"):
            vals = [[r[key] for r in rows if r["n_train"] == n] for n in sizes]
            d[key] = [float(np.mean(v)) for v in vals]
            d[f"{key}_std"] = [float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for v in vals]
            d[f"{key}_seeds"] = vals
        d["cpu_s"] = float(sum(r["cpu_s"] for r in rows))
        out[kind] = d
    return out


def report(result_paths: Sequence[str | Path], model_dir: str | Path, jets_path: str | Path, out_dir: str | Path,
           cfg: Config, data_seed: int, tier: str,
           published: str | Path | None = None) -> dict:
    """Invariance scan (models of the first seed at the largest size; L-GATr
    in float32 and float64), the two figures and the metrics of metrics.json
    (with the record of the ONNX exports, :func:`publish`, under ``published``
    when its JSON path is given); returns the metrics.

    ``holds`` (:func:`colliderflow.studies.lgatr.verdict`): (a) L-GATr's shift relative to the
    logit spread is at most ``tol_float64`` (maximum) in float64 at every
    tested rapidity, and at most ``tol_float32`` (median) in float32 up to
    ``float32_max_rapidity`` (beyond it float32 rounding of the boosted
    inputs grows like exp(2 rapidity): collinear constituents' invariants
    p_i.p_j are small differences of large components), (b) the baseline
    shifts clearly, median > ``baseline_min_shift`` x the logit spread at the
    largest rapidity, and (c) at the smallest training size the mean AUC of
    L-GATr in the paper's tagging setup (beam and time spurions) is at least
    the baseline's minus the combined seed spread sqrt(sd_L^2 + sd_B^2).
    """
    _validate(cfg)
    results = [json.loads(Path(p).read_text()) for p in result_paths]
    agg = aggregate(results)
    task = load_task(jets_path, cfg.signal, cfg.background, cfg.n_constituents)
    _, test = split_indices(len(task["y"]), cfg.n_test, data_seed)
    inv_cfg = cfg.invariance
    sel = test[:inv_cfg.n_jets]
    p4, mask = task["p4"][sel], task["mask"][sel]
    models = {kind: load_model(Path(model_dir) / f"{kind}.pt") for kind in KINDS}
    rap = inv_cfg.rapidities
    args = (p4, mask, rap, inv_cfg.n_transforms, data_seed)
    inv = {"lgatr_float32": invariance_scan(models["lgatr"], *args), "baseline": invariance_scan(models["baseline"],
                                            *args),
           "lgatr_sb": invariance_scan(models["lgatr_sb"], *args),
           "lgatr_float64": invariance_scan(models["lgatr"].double(), *args)}
    for d in inv.values():
        d["relative_median"] = [m / d["logit_std"] for m in d["median"]]
    for d in inv.values():
        d["relative_max"] = [m / d["logit_std"] for m in d["max"]]
    inv_ok = invariance_ok(inv, inv_cfg)
    base_breaks = baseline_breaks(inv, inv_cfg)
    l, b, li = agg["lgatr_sb"], agg["baseline"], agg["lgatr"]
    spread = math.hypot(l["auc_std"][0], b["auc_std"][0])
    small_ok = bool(l["auc"][0] >= b["auc"][0] - spread)
    spread_inv = math.hypot(li["auc_std"][0], b["auc_std"][0])

    out_dir = Path(out_dir)
    plot_performance(agg, cfg, results[0]["n_test"] - results[0]["n_signal_test"], out_dir / "lgatr_performance.png")
    plot_invariance(inv, inv_cfg, out_dir / "lgatr_invariance.png")
    beta = [math.tanh(w) for w in rap]
    metrics = {
        "performance": agg,
        "invariance": inv,
        "boost_beta": beta,
        "n_params": {kind: agg[kind]["n_params"] for kind in KINDS},
        "smallest_size": {"n_train": l["n_train"][0], "auc_lgatr": l["auc"][0], "auc_baseline": b["auc"][0],
                          "auc_part": agg["part"]["auc"][0],
                          "seed_spread": spread, "lgatr_not_worse": small_ok,
                          "auc_lgatr_invariant": li["auc"][0], "seed_spread_invariant": spread_inv,
                          "lgatr_invariant_not_worse": bool(li["auc"][0] >= b["auc"][0] - spread_inv)},
        "invariance_within_tolerance": inv_ok,
        "baseline_not_invariant": base_breaks,
        "rule": ("holds = L-GATr with beam and time spurions (the paper's tagging setup) is not worse than the "
                 "ParT-like transformer by more than the AUC tolerance at every training size, and better at the "
                 f"smallest, at 2 SE of the paired seed differences ({len(results)} seeds). The invariance scan "
                 "is recorded (invariance_within_tolerance, baseline_not_invariant) as a check of the lgatr "
                 "package, not as part of the claim"),
        "task": {"signal": cfg.signal, "background": list(cfg.background),
                 "n_constituents": cfg.n_constituents, "source": results[0]["source"],
                 "n_test": results[0]["n_test"], "efficiency": cfg.efficiency},
        "seeds": [r["seed"] for r in results],
    }
    if published is not None:
        from ...io import read_json

        metrics["published"] = read_json(published)
    return metrics


# ----------------------------------------------------------------- publishing
#: the published models (the invariant L-GATr and the plain transformer)
PUBLISHED = ("lgatr", "baseline")


def onnx_boost_shift(onnx_path: str | Path, p4: np.ndarray, mask: np.ndarray, rapidity: float, seed: int) -> dict:
    """Run a published model in onnxruntime on jets and on the same jets after
    a random rotation and a boost of ``rapidity``
    (:func:`colliderflow.data.kinematics.random_lorentz`, one per jet): the
    largest and median |d logit| and the logit spread (std over the jets)."""
    import onnxruntime as ort

    from ...data.kinematics import apply_lorentz, random_lorentz

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    dtype = np.float64 if sess.get_inputs()[0].type == "tensor(double)" else np.float32
    lam = random_lorentz(np.random.default_rng(seed), len(p4), rapidity)
    mask = np.asarray(mask, dtype)
    ref, = sess.run(["logit"], {"p4": np.asarray(p4, dtype), "mask": mask})
    out, = sess.run(["logit"], {"p4": apply_lorentz(lam, p4).astype(dtype), "mask": mask})
    shift = np.abs(out.astype(np.float64) - ref)
    return {"rapidity": float(rapidity), "max_abs_shift": float(shift.max()),
            "median_abs_shift": float(np.median(shift)), "logit_std": float(ref.std())}


def publish(model_dir: str | Path, jets_path: str | Path, out_dir: str | Path, cfg: Config, data_seed: int,
            n_val: int = 200) -> dict:
    """ONNX + model card of the invariant L-GATr and the plain transformer of
    one seed (``model_dir``: ``{kind}.pt`` and ``result.json`` written by
    :func:`run_seed`) under ``out_dir/{kind}``, each checked in onnxruntime on
    ``n_val`` frozen test jets, plus the exported model's output shift under a
    boost of the largest scanned rapidity (:func:`onnx_boost_shift`).

    The TorchScript exporter (the project's default) is tried first; where it
    cannot convert the model (lgatr's layers) its error is kept and the
    torch.export-based exporter is used. L-GATr is exported in float64: in
    float32 the network's own rounding noise (torch float32 vs float64) is
    about the size of the 1e-5 check and of the float32 invariance violation
    the study measures. Returns ``{kind: record}``.
    """
    from ...io import read_json
    from ...publish import publish_checked

    _validate(cfg)
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    res_path = model_dir / "result.json"
    res = read_json(res_path)
    task = load_task(jets_path, cfg.signal, cfg.background, cfg.n_constituents)
    _, test = split_indices(len(task["y"]), cfg.n_test, data_seed)
    sel = test[:n_val]
    p4, mask = task["p4"][sel], task["mask"][sel].astype(np.float32)
    n, n_train = cfg.n_constituents, cfg.train_sizes[-1]
    task_text = f"{cfg.signal} (signal) vs {'+'.join(cfg.background)}"
    p4_prep = (f"colliderflow.data.jet_constituents.four_vectors of the {n} leading constituents (massless "
               "(E, px, py, pz) from pT, eta_rel, phi_rel, jet axis along x), zero on padding")
    out = {}
    for kind in PUBLISHED:
        model = load_model(model_dir / f"{kind}.pt")
        row = next((r for r in res["runs"] if r["model"] == kind and r["n_train"] == n_train), None)
        if row is None:
            raise InputError(res_path, "runs", f"no {kind} run with n_train={n_train}")
        if kind == "lgatr":
            model, precision = model.double(), np.float64
            desc = ("L-GATr top tagger (arXiv:2411.00446; lgatr package, trained by colliderflow): Lorentz-equivariant "
                    "geometric-algebra transformer on constituent four-momenta, scalar readout averaged over the "
                    "constituents; no reference multivectors, so the logit is invariant under proper orthochronous "
                    "Lorentz transformations. Exported in float64 (weights trained in float32).")
            prep = f"{p4_prep}; divided inside the model by one global scale, {model.scale.item():.6g} GeV"
        else:
            precision = np.float32
            desc = ("Plain transformer top tagger (colliderflow.nn.jets.JetTransformer), the non-equivariant baseline "
                    "of the L-GATr study (arXiv:2411.00446); not Lorentz invariant.")
            prep = f"{p4_prep}; standardised per component inside the model"
        card = dict(
            name=f"lgatr_study_{kind}_seed{res['seed']}", description=desc,
            input_specs={"p4": {"units": "GeV", "features": ["E", "px", "py", "pz"], "preprocessing": prep},
                         "mask": {"units": "1", "preprocessing": (
                             "1.0 for a real constituent (pT > 0, colliderflow.data.jet_constituents."
                             "constituent_mask), 0.0 for padding")}},
            outputs={"logit": {"description": f"{task_text} logit; sigmoid gives the signal probability"}},
            training_data={"file": str(jets_path), "source": res["source"], "n_train": n_train,
                           "signal": cfg.signal, "background": list(cfg.background), "seed": res["seed"]},
            metrics={"test_auc": row["auc"], f"rejection_at_eff_s_{cfg.efficiency:g}": row["rejection"],
                     "n_test": res["n_test"], "n_background_test": row["n_background"],
                     "note": "the rejection equals n_background_test where no test background passes (a lower bound)",
                     "n_params": row["n_params"]},
            float_dtype=precision)
        rec = publish_checked(model, {"p4": p4, "mask": mask}, out_dir / kind, **card)
        if not rec["exported"]:  # e.g. lgatr's layer norm: shape-dependent arguments the TorchScript exporter rejects
            failed = rec
            rec = publish_checked(model, {"p4": p4, "mask": mask}, out_dir / kind, **card, dynamo=True, opset=18)
            rec["torchscript_export"] = failed
        rec["exporter"] = ("dynamo" if "torchscript_export" in rec else "torchscript") if rec["exported"] else None
        if rec["exported"]:
            rec["boost"] = onnx_boost_shift(out_dir / kind / "model.onnx", p4, mask,
                                            max(cfg.invariance.rapidities), data_seed)
        log.info("published %s: %s", kind, rec)
        out[kind] = rec
    return out


# ----------------------------------------------------------------- figures
_COLORS = {"lgatr": "tab:red", "lgatr_sb": "tab:orange", "baseline": "tab:blue", "part": "tab:green"}
_LABELS = {"lgatr": "L-GATr (invariant)", "lgatr_sb": "L-GATr + spurions", "baseline": "Transformer",
           "part": "ParT-like (pair bias)"}


def plot_performance(agg: dict, cfg: Config, n_background: int, path: str | Path) -> None:
    """AUC and 1/eps_B vs training-set size for every model, seed spread as
    error bars; the dotted line is the largest measurable rejection
    (n_background test jets)."""
    import matplotlib.pyplot as plt

    from ... import plotting

    plotting.style()
    fig, axes = plt.subplots(1, 2, figsize=(17, 7))
    fig.subplots_adjust(wspace=0.3)
    for k, (kind, d) in enumerate(agg.items()):
        lab = f"{_LABELS[kind]} ({d['n_params']:,} parameters)"
        for ax, key in zip(axes, ("auc", "rejection")):
            x = np.asarray(d["n_train"]) * (1 + 0.03 * (k - 1.5))  # side by side
            ax.errorbar(x, d[key], yerr=d[f"{key}_std"], marker="o", capsize=4, color=_COLORS[kind], label=lab)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("Training jets")
        plotting.label(ax)
    axes[0].set_ylabel("AUC")
    axes[1].set_ylabel(rf"$1/\epsilon_B$ at $\epsilon_S = {cfg.efficiency:g}$")
    axes[1].set_yscale("log")
    low = min(min(d["rejection"]) for d in agg.values())
    axes[1].set_ylim(bottom=max(1.0, 0.3 * low), top=3 * n_background)
    axes[1].axhline(n_background, color="grey", ls=":", label="no test background passes")
    axes[1].legend(fontsize=14, loc="lower right")
    axes[0].legend(fontsize=14, title=f"{cfg.signal} vs {'+'.join(cfg.background)}", title_fontsize=14)
    plotting.save(fig, path)


def plot_invariance(inv: dict, inv_cfg: Config, path: str | Path) -> None:
    """Median |d logit| / logit spread vs boost rapidity (random rotation +
    boost), band up to the 90 % quantile."""
    import matplotlib.pyplot as plt

    from ... import plotting

    plotting.style()
    fig, ax = plt.subplots(figsize=(8.5, 6.5))
    styles = {"baseline": ("Transformer", _COLORS["baseline"], "-"),
              "lgatr_sb": ("L-GATr + spurions (float32)", _COLORS["lgatr_sb"], "-"),
              "lgatr_float32": ("L-GATr (float32)", _COLORS["lgatr"], "-"),
              "lgatr_float64": ("L-GATr (float64)", _COLORS["lgatr"], "--")}
    for key, (lab, col, ls) in styles.items():
        d = inv[key]
        w = np.asarray(d["rapidity"])
        sd = d["logit_std"]
        med = np.maximum(np.asarray(d["median"]) / sd, 1e-17)
        q90 = np.maximum(np.asarray(d["q90"]) / sd, 1e-17)
        ax.plot(w, med, ls, marker="o", color=col, label=lab)
        ax.fill_between(w, med, q90, color=col, alpha=0.15)
    ax.plot([0, inv_cfg.float32_max_rapidity], [inv_cfg.tol_float32] * 2, color="grey", ls=":",
            label="float32 tolerance")
    ax.plot([0, max(inv_cfg.rapidities)], [inv_cfg.tol_float64] * 2, color="grey", ls="--", label="float64 tolerance")
    ax.set_yscale("log")
    ax.set_xlabel(r"Boost rapidity $\omega$ (after a random rotation)")
    ax.set_ylabel(r"$|\Delta\,\mathrm{logit}|$ / logit std")
    ax.set_ylim(top=1e4)
    ax.legend(fontsize=13, ncol=2, loc="upper right")
    plotting.label(ax)
    plotting.save(fig, path)
