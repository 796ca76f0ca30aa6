"""BitHEP (Krause, Wang, Winterhalder): the limits of low-precision ML in HEP.

Three tasks, each trained three times with the same architecture, seed and
data: full precision, binary (BitLinear) and ternary (BitNet b1.58) linear
layers from :mod:`colliderflow.nn.bitlinear`.

* ``tagging``: quark/gluon tagging with a Deep Sets network on the
  constituent features of :func:`colliderflow.nn.jets.particle_features`
  (test AUC with a paired bootstrap error of the AUC loss).
* ``regression``: the jet mass of the n leading constituents (the inputs
  the network sees) from the same features; relative resolution = half the
  16-84 % width of m_pred / m_true - 1, and its median (bias).
* ``generation``: a zuko NSF (:class:`colliderflow.nn.flows.StandardizedFlow`)
  on three jet observables (log mass, multiplicity + uniform dequantisation,
  log girth), its hyper-network layers swapped for BitLinear with float
  activations (per-token statistics would break the autoregressive masks);
  quality: a classifier (xgboost) AUC of generated vs held-out truth jets
  and Wasserstein-1 distances per observable in units of the truth spread.

BitNet keeps the input embedding and the output head in float
(``keep_first_last``); every other Linear layer is quantised. The
full-precision reference (``full_norm``) has the same LayerNorm in front of
the same layers, so the three networks differ only in precision (a plain
float Deep Sets trains worse on the small real excerpt). The weight
memory is counted by :func:`colliderflow.nn.bitlinear.weight_bits`.
The paper's claims tested here (:func:`comparisons`, bootstrap errors over
the test jets): ternary (1.58-bit) and binary weights stay within
``auc_loss_max`` of the full-precision tagging AUC and beat a
multiplicity-only tagger (null control); binary weights degrade the
regression and the generation (the paper's "limits").

Every task saves its three trained networks (``nn.train.save_model``);
:func:`publish` exports the full-precision and ternary q/g taggers to ONNX
with model cards (:mod:`colliderflow.publish`), the ternary weights as
float32 constants {-s, 0, +s} (ONNX has no 1.58-bit type).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ...errors import InputError
from . import PRECISIONS, TASKS, Config, GenerationConfig, RegressionConfig, TaggingConfig

log = logging.getLogger(__name__)

GEN_OBSERVABLES = ("mass", "multiplicity", "girth")


# ----------------------------------------------------------------- data
def load_jets(path: str | Path, task: str, classes: Sequence[str], max_jets: int, seed: int = 0) -> dict:
    """The jets of one task: q/g (``classes``, from ``tagging.classes``) for
    tagging and generation, every jet in the file for the regression; at
    most ``max_jets`` (0: all), deterministic in the seed."""
    from ...data.jet_constituents import read_jets, select_classes

    jets = read_jets(path)
    if task in ("tagging", "generation"):
        jets = select_classes(jets, list(classes))
    n, n_max = len(jets["labels"]), max_jets
    if n_max and n > n_max:
        keep = np.sort(np.random.default_rng(seed).choice(n, n_max, replace=False))
        jets = {k: (v[keep] if isinstance(v, np.ndarray) and len(v) == n else v) for k, v in jets.items()}
    if len(jets["labels"]) < 20:
        raise InputError(path, "labels", f"only {len(jets['labels'])} jets for the {task} task")
    return jets


def jet_girth(constituents: np.ndarray) -> np.ndarray:
    """pT-weighted mean distance of the constituents from the jet axis."""
    c = np.asarray(constituents, dtype=np.float64)
    pt = c[..., 0]
    return (pt * np.hypot(c[..., 1], c[..., 2])).sum(1) / np.clip(pt.sum(1), 1e-9, None)


def generation_features(constituents: np.ndarray) -> np.ndarray:
    """(n, 3) jet observables GEN_OBSERVABLES in physical units."""
    from ...data.jet_constituents import jet_observables

    obs = jet_observables(constituents)
    return np.stack([obs["mass"], obs["multiplicity"].astype(np.float64), jet_girth(constituents)], 1)


def to_flow_space(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(mass, n, girth) -> (log mass, n + U(0, 1), log girth) for the flow."""
    return np.stack([np.log(obs[:, 0]), obs[:, 1] + rng.uniform(size=len(obs)), np.log(obs[:, 2])],
                    1).astype(np.float32)


def from_flow_space(z: np.ndarray) -> np.ndarray:
    return np.stack([np.exp(z[:, 0]), np.floor(np.clip(z[:, 1], 0, None)), np.exp(z[:, 2])], 1)


def train_test(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) index arrays, a random split deterministic in ``seed``."""
    from sklearn.model_selection import train_test_split

    return train_test_split(np.arange(n), test_size=test_fraction, random_state=seed)


# ----------------------------------------------------------------- models
class DeepSets(nn.Module):
    """phi (per constituent) -> masked sum / n_slots -> rho. Input (B, N, F)
    features and (B, N) mask; output (B, n_out)."""

    def __init__(self, in_dim: int, hidden: int, n_out: int, phi_layers: int = 3, rho_layers: int = 3) -> None:
        super().__init__()
        phi, width = [], in_dim
        for _ in range(phi_layers):
            phi += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        rho = []
        for _ in range(rho_layers - 1):
            rho += [nn.Linear(hidden, hidden), nn.ReLU()]
        rho.append(nn.Linear(hidden, n_out))
        self.phi, self.rho = nn.Sequential(*phi), nn.Sequential(*rho)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.phi(x) * mask[..., None].float()
        return self.rho(h.sum(1) / x.shape[1])

    def first_last(self) -> list[str]:
        return ["phi.0", f"rho.{len(self.rho) - 1}"]


def quantise(model: nn.Module, precision: str, keep: list[str], act_bits: int | None, norm: bool = True,
             full_norm: bool = True) -> list[str]:
    """Swap the Linear layers (except ``keep``) for BitLinear at ``precision``.
    ``full`` with ``norm and full_norm``: float layers behind the same
    LayerNorm (the reference differs from the quantised nets only in
    precision); otherwise ``full`` leaves the model as it is."""
    from ...nn.bitlinear import swap_linear

    if precision not in PRECISIONS:
        raise InputError("config", "precision", f"unknown precision '{precision}' (known {list(PRECISIONS)})")
    if precision == "full" and not (norm and full_norm):
        return []
    return swap_linear(model, precision, keep=keep, act_bits=act_bits, norm=norm)


def flow_first_last(flow: nn.Module) -> list[str]:
    """Names of the first and last Linear layer of every hyper-network MLP
    of a zuko flow (its input and output layers)."""
    from zuko.nn import MLP, MaskedMLP

    names = []
    for name, mod in flow.named_modules():
        if isinstance(mod, (MLP, MaskedMLP)):
            lin = [f"{name}.{k}" for k, m in mod.named_children() if isinstance(m, nn.Linear)]
            names += [lin[0], lin[-1]] if lin else []
    return names


def _train_cfg(tcfg: TaggingConfig | RegressionConfig | GenerationConfig, seed: int, desc: str):
    from ...nn.train import TrainConfig

    return TrainConfig(epochs=tcfg.epochs, batch_size=tcfg.batch_size, lr=tcfg.lr, seed=seed,
                       patience=max(3, tcfg.epochs // 3), desc=desc)


@torch.no_grad()
def _predict(model: torch.nn.Module, x: torch.Tensor, mask: torch.Tensor, batch: int = 4096) -> np.ndarray:
    model.eval()
    return torch.cat([model(x[i:i + batch], mask[i:i + batch]) for i in range(0, len(x), batch)]).numpy()


# ----------------------------------------------------------------- tasks
def _train_deepsets(tensors: tuple[torch.Tensor, ...], tr: np.ndarray, te: np.ndarray, cfg: Config, task: str,
                    prec: str, loss_fn: Callable, seed: int, model_path: str | Path | None = None,
                    data: dict | None = None):
    """Train one Deep Sets network of ``task`` at precision ``prec`` on
    ``tensors`` = (features, mask, target)[tr]; returns its test outputs
    (n_test,) and the training/memory record. ``model_path``: the trained
    network is saved there (:func:`colliderflow.nn.train.save_model`) with the
    hyper-parameters :func:`load_deepsets` rebuilds it from (+ ``data``)."""
    from ...nn.bitlinear import weight_bits
    from ...nn.train import fit, save_model

    t = getattr(cfg, task)
    x, m, target = tensors
    torch.manual_seed(seed)
    model = DeepSets(x.shape[-1], t.hidden, 1, t.phi_layers, t.rho_layers)
    keep = model.first_last() if cfg.keep_first_last else []
    swapped = quantise(model, prec, keep, cfg.act_bits, full_norm=cfg.full_norm)
    hist = fit(model, loss_fn, (x[tr], m[tr], target[tr]), _train_cfg(t, seed, f"{task}-{prec}"))
    if model_path is not None:
        save_model(model, model_path, {
            "task": task, "precision": prec, "in_dim": int(x.shape[-1]), "hidden": t.hidden,
            "phi_layers": t.phi_layers, "rho_layers": t.rho_layers, "keep": keep, "act_bits": cfg.act_bits,
            "full_norm": cfg.full_norm, "n_constituents": int(x.shape[1]), "seed": seed,
            "memory": weight_bits(model), **(data or {})})
    out = _predict(model, x[te], m[te])[:, 0]
    if not np.isfinite(out).all():
        raise FloatingPointError(f"{task}-{prec}: non-finite network outputs")
    return out, {"memory": weight_bits(model), "swapped_layers": swapped, "epochs_run": len(hist.val_loss),
                 "best_val_loss": hist.best_val}


def _inputs(jets: dict, n: int):
    from ...nn.jets import particle_features

    if jets["constituents"].shape[1] < n:
        raise InputError(jets.get("source") or None, "n_constituents",
                         f"asked for {n} constituents, the file keeps {jets['constituents'].shape[1]}")
    f, m = particle_features(jets["constituents"], n)
    return torch.from_numpy(f), torch.from_numpy(m)


def load_deepsets(path: str | Path) -> tuple[DeepSets, dict]:
    """(trained Deep Sets network in eval mode, its hyper-parameters) from a
    file :func:`_train_deepsets` saved."""
    from ...nn.train import load_state

    state, hp = load_state(path)
    for key in ("precision", "in_dim", "hidden", "phi_layers", "rho_layers", "keep", "act_bits", "full_norm"):
        if key not in hp:
            raise InputError(Path(path).with_suffix(".json"), key, "missing from the model's hyper-parameters")
    model = DeepSets(hp["in_dim"], hp["hidden"], 1, hp["phi_layers"], hp["rho_layers"])
    quantise(model, hp["precision"], hp["keep"], hp["act_bits"], full_norm=hp["full_norm"])
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise InputError(path, "state_dict", f"does not fit the saved hyper-parameters ({exc})") from None
    return model.eval(), hp


def run_tagging(jets: dict, cfg: Config, seed: int, n_boot: int = 200,
                model_paths: dict | None = None) -> tuple[dict, dict]:
    """q/g AUC for full / binary / ternary Deep Sets; returns (metrics, arrays).
    ``model_paths``: {precision: .pt path} to save the trained taggers."""
    from sklearn.metrics import roc_auc_score, roc_curve

    x, m = _inputs(jets, cfg.n_constituents)
    y = torch.as_tensor(jets["labels"] == 0, dtype=torch.float32)  # 1 = quark (first class), 0 = gluon
    tr, te = train_test(len(y), cfg.test_fraction, seed)
    bce = nn.functional.binary_cross_entropy_with_logits

    def loss_fn(model: torch.nn.Module, b: Sequence[torch.Tensor]):
        return bce(model(b[0], b[1])[:, 0], b[2])

    # the textbook one-observable q/g tagger (quarks have fewer constituents): the null control
    res, arrays, scores = {}, {"y_test": y[te].numpy(), "multiplicity_test": m[te].sum(1).numpy()}, {}
    for prec in PRECISIONS:
        data = {"classes": list(cfg.tagging.classes), "max_jets": cfg.tagging.max_jets,
                "test_fraction": cfg.test_fraction, "n_train": int(len(tr))}
        s, info = _train_deepsets((x, m, y), tr, te, cfg, "tagging", prec, loss_fn, seed,
                                  (model_paths or {}).get(prec), data)
        scores[prec] = arrays[f"score_{prec}"] = s
        fpr, tpr, _ = roc_curve(y[te].numpy(), s)
        res[prec] = {"auc": float(roc_auc_score(y[te].numpy(), s)), **info, "rejection_at_50": _rejection(fpr, tpr,
                                  0.5)}
    boot = paired_auc_bootstrap(y[te].numpy(), scores, n_boot, seed)
    for prec in ("binary", "ternary"):
        res[prec]["auc_loss"] = res["full"]["auc"] - res[prec]["auc"]
        res[prec]["auc_loss_err"] = boot[prec]
    return {"task": "tagging", "n_train": int(len(tr)), "n_test": int(len(te)),
            "classes": list(jets["class_names"]), "signal": jets["class_names"][0], "results": res}, arrays


def _rejection(fpr: np.ndarray, tpr: np.ndarray, eff: float) -> float:
    """Background rejection 1 / eps_b at signal efficiency ``eff``."""
    e_b = float(np.interp(eff, tpr, fpr))
    return 1.0 / max(e_b, 1e-6)


def paired_auc_bootstrap(y: np.ndarray, scores: dict, n_boot: int, seed: int) -> dict:
    """Bootstrap std of AUC(full) - AUC(prec) on the same resampled test jets."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed + 1)
    diffs = {p: [] for p in scores if p != "full"}
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        if y[idx].min() == y[idx].max():
            continue
        a = roc_auc_score(y[idx], scores["full"][idx])
        for p in diffs:
            diffs[p].append(a - roc_auc_score(y[idx], scores[p][idx]))
    return {p: float(np.std(d)) if d else float("nan") for p, d in diffs.items()}


def resolution(pred: np.ndarray, true: np.ndarray) -> dict:
    """Relative resolution (half the 16-84 % width of pred/true - 1) and bias (median)."""
    r = pred / true - 1.0
    q16, q50, q84 = np.percentile(r, [16, 50, 84])
    return {"resolution": float((q84 - q16) / 2), "bias": float(q50)}


def run_regression(jets: dict, cfg: Config, seed: int, model_paths: dict | None = None) -> tuple[dict, dict]:
    """Jet-mass regression (log m, standardised) for full / binary / ternary."""
    from ...data.jet_constituents import jet_observables

    t = cfg.regression
    n = cfg.n_constituents
    mass = jet_observables(jets["constituents"][:, :n])["mass"]
    ok = mass > t.min_mass
    if ok.sum() < 20:
        raise InputError(jets.get("source") or None, "constituents", f"only {int(ok.sum())} jets above min_mass")
    x, m = _inputs(jets, n)
    x, m, mass = x[ok], m[ok], mass[ok]
    tr, te = train_test(len(mass), cfg.test_fraction, seed)
    logm = np.log(mass)
    mu, sd = float(logm[tr].mean()), float(logm[tr].std())
    target = torch.as_tensor((logm - mu) / sd, dtype=torch.float32)

    def loss_fn(model: torch.nn.Module, b: Sequence[torch.Tensor]):
        return nn.functional.mse_loss(model(b[0], b[1])[:, 0], b[2])

    res, arrays = {}, {"mass_test": mass[te]}
    for prec in PRECISIONS:
        out, info = _train_deepsets((x, m, target), tr, te, cfg, "regression", prec, loss_fn, seed,
                                    (model_paths or {}).get(prec), {"log_mass_mean": mu, "log_mass_std": sd})
        pred = arrays[f"pred_{prec}"] = np.exp(out.astype(np.float64) * sd + mu)
        res[prec] = {**resolution(pred, mass[te]), **info}
    return {"task": "regression", "target": "jet mass of the n leading constituents", "n_train": int(len(tr)),
            "n_test": int(len(te)), "results": res}, arrays


def two_sample_auc(a: np.ndarray, b: np.ndarray, seed: int, rounds: int = 60) -> float:
    """xgboost classifier AUC separating samples a and b (half to train,
    half to test; 0.5 = indistinguishable)."""
    import xgboost
    from sklearn.metrics import roc_auc_score

    n = min(len(a), len(b))
    x = np.concatenate([a[:n], b[:n]])
    y = np.r_[np.zeros(n), np.ones(n)]
    perm = np.random.default_rng(seed).permutation(2 * n)
    fit_i, test_i = perm[: n], perm[n:]
    clf = xgboost.XGBClassifier(n_estimators=rounds, max_depth=3, learning_rate=0.1, n_jobs=1, random_state=seed)
    clf.fit(x[fit_i], y[fit_i])
    return float(roc_auc_score(y[test_i], clf.predict_proba(x[test_i])[:, 1]))


def w1_scaled(a: np.ndarray, b: np.ndarray, ref_std: np.ndarray) -> list[float]:
    from scipy.stats import wasserstein_distance

    return [float(wasserstein_distance(a[:, i], b[:, i]) / ref_std[i]) for i in range(a.shape[1])]


def run_generation(jets: dict, cfg: Config, seed: int, model_paths: dict | None = None) -> tuple[dict, dict]:
    """NSF on (log m, n, log girth) for full / binary / ternary hyper-networks."""
    from ...nn.bitlinear import weight_bits
    from ...nn.flows import StandardizedFlow
    from ...nn.train import fit, save_model

    t = cfg.generation
    obs = generation_features(jets["constituents"])
    ok = (obs[:, 0] > 0) & (obs[:, 2] > 0)
    obs = obs[ok]
    tr, te = train_test(len(obs), cfg.test_fraction, seed)
    rng = np.random.default_rng(seed)
    z_tr = torch.from_numpy(to_flow_space(obs[tr], rng))
    truth = obs[te]
    ref_std = truth.std(0).clip(1e-9)
    # statistical floor: the training jets themselves vs the test jets
    floor_auc = two_sample_auc(obs[tr], truth, seed)
    floor_w1 = w1_scaled(obs[tr], truth, ref_std)
    res, arrays = {}, {"truth": truth}
    for prec in PRECISIONS:
        torch.manual_seed(seed)
        flow = StandardizedFlow.fitted_to(z_tr, kind="nsf", transforms=t.transforms, hidden=tuple(t.hidden),
                                          bins=t.bins)
        keep = flow_first_last(flow) if cfg.keep_first_last else []
        swapped = quantise(flow, prec, keep, act_bits=None, norm=False)
        hist = fit(flow, lambda f, b: f.nll(b), (z_tr,), _train_cfg(t, seed, f"generation-{prec}"))
        if (model_paths or {}).get(prec):
            save_model(flow, model_paths[prec], {
                "task": "generation", "precision": prec, "kind": "nsf", "features": list(GEN_OBSERVABLES),
                "flow_space": "log mass, multiplicity + U(0, 1), log girth", "transforms": t.transforms,
                "hidden": list(t.hidden), "bins": t.bins, "keep": keep, "act_bits": None, "norm": False,
                "seed": seed, "memory": weight_bits(flow)})
        torch.manual_seed(seed + 7)
        with torch.no_grad():
            z = flow.sample(len(truth)).numpy()
        good = np.isfinite(z).all(1)
        gen = from_flow_space(z[good])
        arrays[f"gen_{prec}"] = gen
        w1 = w1_scaled(gen, truth, ref_std)
        res[prec] = {"classifier_auc": two_sample_auc(gen, truth, seed), "w1_over_std": dict(zip(GEN_OBSERVABLES, w1)),
                     "w1_mean": float(np.mean(w1)), "finite_fraction": float(good.mean()), "memory": weight_bits(flow),
                     "swapped_layers": len(swapped), "epochs_run": len(hist.val_loss),
                     "best_val_nll": hist.best_val}
    return {"task": "generation", "observables": list(GEN_OBSERVABLES), "n_train": int(len(tr)),
            "n_test": int(len(te)), "activations": "float (weight-only quantisation: per-token statistics would mix "
            "the inputs the autoregressive masks keep apart)",
            "truth_vs_train": {"classifier_auc": floor_auc, "w1_mean": float(np.mean(floor_w1))},
            "results": res}, arrays


RUNNERS = {"tagging": run_tagging, "regression": run_regression, "generation": run_generation}


def run_task(task: str, jets_path: str | Path, cfg: Config, seed: int, out_json: str | Path, out_npz: str | Path,
             out_models: Sequence[str | Path] | None = None) -> dict:
    """Run one task on the jets file; write its metrics JSON and arrays (.npz).
    ``out_models``: one .pt path per precision (order ``PRECISIONS``) where the
    trained networks are saved (+ hyper-parameters in the .json beside each)."""
    from ...io import atomic_path, write_json

    if task not in TASKS:
        raise InputError("config", "task", f"unknown task '{task}' (known {list(TASKS)})")
    if out_models is not None and len(out_models) != len(PRECISIONS):
        raise InputError("--out-models", None,
                         f"needs one path per precision {list(PRECISIONS)}, got {len(out_models)}")
    jets = load_jets(jets_path, task, cfg.tagging.classes, getattr(cfg, task).max_jets, seed)
    doc, arrays = RUNNERS[task](jets, cfg, seed, model_paths=dict(zip(PRECISIONS, out_models or ())))
    doc.update(source=jets.get("source", ""), jets=str(jets_path), seed=seed,
               keep_first_last=cfg.keep_first_last, act_bits=cfg.act_bits, full_norm=cfg.full_norm)
    with atomic_path(out_npz) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    write_json(out_json, doc)
    for prec, r in doc["results"].items():
        log.info("%s %s: %s", task, prec, {k: v for k, v in r.items() if k not in ("memory", "swapped_layers")})
    return doc


# ----------------------------------------------------------------- publish
#: validation jets keep every quantised activation at least this far (relative,
#: ~17 float32 ulps) from a rounding tie (colliderflow.nn.bitlinear.rounding_margin)
TIE_MARGIN = 1e-6


def onnx_weight_values(onnx_path: str | Path, layers: Sequence[str]) -> dict:
    """{layer: number of distinct values of its weight initializer} in an
    ONNX file (the :class:`~colliderflow.nn.bitlinear.FrozenBitLinear`
    buffer ``<layer>.weight``); a layer whose weight is no initializer
    (computed in the graph) counts None."""
    import onnx
    from onnx import numpy_helper

    inits = {i.name: i for i in onnx.load(str(onnx_path)).graph.initializer}
    return {name: (int(len(np.unique(numpy_helper.to_array(inits[f"{name}.weight"]))))
                   if f"{name}.weight" in inits else None) for name in layers}


def _card_text(prec: str, hp: dict, mem: dict, quantised: list[str]) -> str:
    head = ("Quark/gluon tagger of the BitHEP study (Krause, Wang, Winterhalder), trained by colliderflow: "
            "Deep Sets (per-constituent MLP phi, masked sum / n_slots, MLP rho -> one logit), "
            f"{hp['phi_layers']} + {hp['rho_layers']} Linear layers of width {hp['hidden']}; "
            f"input and output layers float32 ({', '.join(hp['keep']) or 'none'}). ")
    if prec == "full":
        return head + ("Full precision: the hidden Linear layers are float32 behind the same LayerNorm (no affine) "
                       "as in the quantised networks, so only the precision differs. "
                       f"Weights {mem['full_bits'] / 8e3:.1f} kB in float32.")
    acts = (f"LayerNorm (no affine) and absmax {hp['act_bits']}-bit per-constituent activation quantisation run "
            "inside the graph (ONNX Round; an activation at a rounding tie can round to the neighbouring level in "
            "another runtime, see training_data.validation_inputs)" if hp["act_bits"]
            else "LayerNorm (no affine), float activations")
    levels, values = ("{-1, 0, +1}", "{-s, 0, +s}") if prec == "ternary" else ("{-1, +1}", "{-s, +s}")
    return head + (
        f"{prec.capitalize()} precision ({'BitNet b1.58' if prec == 'ternary' else 'BitNet'}): the hidden layers "
        f"{', '.join(quantised)} have weights s * {levels} per layer (s = mean |W| of the "
        f"trained latent weights), stored in model.onnx already quantised; {acts}. ONNX has no 1.58-bit (or "
        f"2-bit) tensor type: model.onnx stores these weights as float32 values {values} (32 bits per weight). "
        f"Packed as colliderflow.nn.bitlinear.weight_bits counts it (log2 3 = 1.58 bits per ternary weight, 1 per "
        f"binary, one float32 scale per layer, float32 biases and float layers) the weights take "
        f"{mem['total_bits'] / 1e3:.1f} kbit against {mem['full_bits'] / 1e3:.1f} kbit in float32 "
        f"({mem['ratio']:.2f}x smaller); the float32 ONNX file does not realise that saving.")


def _validation_jets(export: torch.nn.Module, hp: dict, jets_path: str | Path, n_val: int):
    """The tagger's test jets (features, float mask) in split order and the
    indices of the first ``n_val`` whose quantised activations stay
    ``TIE_MARGIN`` from a rounding tie."""
    from ...nn.bitlinear import rounding_margin

    jets = load_jets(jets_path, "tagging", hp["classes"], hp["max_jets"], hp["seed"])
    _, te = train_test(len(jets["labels"]), hp["test_fraction"], hp["seed"])
    x, m = _inputs(jets, hp["n_constituents"])
    x, m = x[te], m[te].float()
    tie_free = np.flatnonzero(rounding_margin(export, x, m, token_mask=m).numpy() >= TIE_MARGIN)
    return x, m, tie_free[:n_val]


def publish(model_paths: dict, tagging_json: str | Path, jets_path: str | Path, out_root: str | Path,
            n_val: int = 200, atol: float = 1e-5) -> dict:
    """ONNX export + model card of the trained q/g taggers ``{precision: .pt}``
    (saved by the tagging task) into ``out_root/<precision>/``, each checked
    in onnxruntime on ``n_val`` frozen test jets. The exported network is
    :func:`colliderflow.nn.bitlinear.freeze` of the trained one (quantised
    weights as constants); ``export_vs_training_forward`` is its largest
    difference from the trained network's eval-mode forward on those jets,
    ``onnx_weight_distinct_values`` the number of distinct weight values per
    quantised layer in the ONNX file.

    The frozen validation jets are the first ``n_val`` test jets whose
    quantised activations stay ``TIE_MARGIN`` away from a rounding tie: at a
    tie torch and onnxruntime (different float summation order) may round to
    different levels. ``unfiltered`` records the onnxruntime-vs-torch check on
    the first ``n_val`` test jets without that selection. Returns the record
    for published_check.json."""
    import onnxruntime as ort

    from ...io import read_json
    from ...nn.bitlinear import BitLinear, freeze
    from ...nn.jets import PARTICLE_FEATURES
    from ...publish import publish_checked

    doc = read_json(tagging_json)
    if doc.get("task") != "tagging":
        raise InputError(tagging_json, "task", f"expected the tagging task result, got {doc.get('task')!r}")
    npz = Path(tagging_json).with_suffix(".npz")
    if not npz.exists():
        raise InputError(npz, None, "file does not exist")
    with np.load(npz) as z:
        study_scores = {k: z[k] for k in z.files}
    models = {}
    for prec, path in model_paths.items():
        if prec not in PRECISIONS or prec not in doc["results"]:
            raise InputError(tagging_json, f"results.{prec}", "no tagging result for this precision")
        model, hp = load_deepsets(path)
        n = hp["n_constituents"]
        export = freeze(model)
        x_te, m_te, keep = _validation_jets(export, hp, jets_path, n_val)
        n_scanned = int(keep[-1]) + 1 if len(keep) else len(x_te)
        x, m = x_te[keep], m_te[keep]
        with torch.no_grad():
            out = model(x, m)
            drift = float((export(x, m) - out).abs().max())
            unfiltered = export(x_te[:n_val], m_te[:n_val]).numpy()
        study = study_scores[f"score_{prec}"][keep]
        selection = (f"the first {len(keep)} test jets whose quantised activations stay at least {TIE_MARGIN} "
                     "(relative) from a rounding tie, colliderflow.nn.bitlinear.rounding_margin "
                     f"({n_scanned - len(keep)}"
                     f" of the first {n_scanned} test jets excluded: at a tie torch and onnxruntime may round to "
                     "different levels)") if prec != "full" else f"the first {len(keep)} test jets"
        res, mem = doc["results"][prec], doc["results"][prec]["memory"]
        quantised = [k for k, mod in model.named_modules() if isinstance(mod, BitLinear) and mod.mode != "full"]
        metrics = {"test_auc": res["auc"], "gluon_rejection_at_50pct_quark_efficiency": res["rejection_at_50"],
                   "n_test": doc["n_test"],
                   "weight_memory": {"packed_kbit": mem["total_bits"] / 1e3, "float32_kbit": mem["full_bits"] / 1e3,
                                     "ratio": mem["ratio"], "quantised_weights": mem["quantised_weights"],
                                     "quantised_layers": mem["quantised_layers"],
                                     "counted_by": "colliderflow.nn.bitlinear.weight_bits",
                                     "onnx_storage": "float32 for every weight (ONNX has no 1.58-bit type)"}}
        if prec != "full":
            metrics.update(auc_loss_vs_full=res["auc_loss"], auc_loss_err=res["auc_loss_err"])
        rec = publish_checked(
            export, {"particles": x.numpy(), "mask": m.numpy()}, Path(out_root) / prec,
            name=f"bithep_qg_deepsets_{prec}", description=_card_text(prec, hp, mem, quantised),
            input_specs={
                "particles": {"units": "log GeV, 1, 1, rad, 1", "features": list(PARTICLE_FEATURES),
                              "preprocessing": f"colliderflow.nn.jets.particle_features of the {n} leading "
                                               "constituents (pT, eta_rel, phi_rel), zero on padding; no further "
                                               "standardisation"},
                "mask": {"units": "1", "preprocessing": "1.0 for a real constituent (pT > 0), 0.0 for padding"}},
            outputs={"score": {"description": f"logit of {doc['signal']} (quark) vs gluon: sigmoid(score) = "
                                              f"P({doc['signal']}); classes {doc['classes']}"}},
            training_data={"file": doc["jets"], "source": doc["source"], "classes": doc["classes"],
                           "signal": doc["signal"], "n_train": doc["n_train"], "n_test": doc["n_test"],
                           "split": f"sklearn train_test_split, test_size {hp['test_fraction']}, "
                                    f"random_state {hp['seed']}",
                           "validation_inputs": selection},
            metrics=metrics)
        rec.update(precision=prec, export_vs_training_forward=drift,
                   training_forward_vs_study_scores=float(np.abs(out[:, 0].numpy() - study).max()),
                   packed_weight_kbit=mem["total_bits"] / 1e3, float32_weight_kbit=mem["full_bits"] / 1e3,
                   memory_ratio=mem["ratio"], quantised_layers=quantised,
                   validation_selection={"tie_margin": TIE_MARGIN, "n_scanned": n_scanned,
                                         "n_excluded": n_scanned - len(keep)})
        if rec["exported"]:
            onnx_path = Path(out_root) / prec / "model.onnx"
            rec["onnx_file_kbyte"] = onnx_path.stat().st_size / 1e3
            rec["onnx_weight_distinct_values"] = onnx_weight_values(onnx_path, quantised)
            sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
            got = sess.run(None, {"particles": x_te[:n_val].numpy(), "mask": m_te[:n_val].numpy()})[0]
            diff = np.abs(got.astype(np.float64) - unfiltered)[:, 0]
            rec["unfiltered"] = {"n": int(len(diff)), "n_over_atol": int((diff > atol).sum()),
                                 "max_abs_diff": float(diff.max())}
        models[prec] = rec
    return {"exported": all(r["exported"] for r in models.values()),
            "passed": all(r.get("passed", False) and r["export_vs_training_forward"] <= atol for r in models.values()),
            "rule": f"passed: onnxruntime reproduces the exported network and the exported network the trained "
                    f"network's eval forward, both within {atol}", "models": models}


# ----------------------------------------------------------------- report
def load_results(paths: Sequence[str | Path]) -> tuple[dict, dict]:
    """Task JSONs (and the .npz beside each) -> ({task: doc}, {task: arrays})."""
    from ...io import read_json

    docs, arrays = {}, {}
    for p in map(Path, paths):
        doc = read_json(p)
        task = doc.get("task")
        if task not in TASKS:
            raise InputError(p, "task", f"unknown task {task!r} (known {list(TASKS)})")
        npz = p.with_suffix(".npz")
        if not npz.exists():
            raise InputError(npz, None, "file does not exist")
        with np.load(npz) as z:
            arrays[task] = {k: z[k] for k in z.files}
        docs[task] = doc
    return docs, arrays


def report(docs: dict, arrays: dict, png: str | Path, auc_loss_max: float, published: dict | None = None) -> dict:
    """Figure (per task: metric and weight memory for full / binary /
    ternary; ``png``, and the PDF beside it) and the metrics of metrics.json
    from the three task results; ``published``: the record of :func:`publish`
    (the metrics carry it as ``published``). Returns the metrics."""
    missing = [t for t in TASKS if t not in docs]
    if missing:
        raise InputError("inputs", missing[0], "task result missing")
    tag, reg, gen = docs["tagging"], docs["regression"], docs["generation"]
    summary = {}
    for task in TASKS:
        for prec, r in docs[task]["results"].items():
            summary.setdefault(task, {})[prec] = {k: v for k, v in r.items() if k != "swapped_layers"}
    tr = tag["results"]
    metrics = {
        "rule": f"holds = ternary and binary q/g AUC within {auc_loss_max} of full precision at 2 bootstrap SE, "
                "ternary above the multiplicity-only tagger, and binary weights worse than full precision in "
                "regression (resolution) and generation (W1), each beyond 2 bootstrap SE (see the verdict block)",
        "auc_loss_max": auc_loss_max,
        "tagging_auc": {p: tr[p]["auc"] for p in PRECISIONS},
        "tagging_auc_loss": {p: tr[p]["auc_loss"] for p in ("binary", "ternary")},
        "tagging_auc_loss_err": {p: tr[p]["auc_loss_err"] for p in ("binary", "ternary")},
        "regression_resolution": {p: reg["results"][p]["resolution"] for p in PRECISIONS},
        "generation_classifier_auc": {p: gen["results"][p]["classifier_auc"] for p in PRECISIONS},
        "generation_w1_mean": {p: gen["results"][p]["w1_mean"] for p in PRECISIONS},
        "generation_truth_vs_train": gen["truth_vs_train"],
        "memory_kbit": {t: {p: docs[t]["results"][p]["memory"]["total_bits"] / 1e3 for p in PRECISIONS} for t in TASKS},
        "memory_ratio": {t: {p: docs[t]["results"][p]["memory"]["ratio"] for p in PRECISIONS} for t in TASKS},
        "sizes": {t: {"n_train": docs[t]["n_train"], "n_test": docs[t]["n_test"]} for t in TASKS},
        "data_source": tag.get("source", ""),
        "details": summary,
        "generation_activations": gen["activations"],
        "tagging_activations": f"LayerNorm + absmax {tag['act_bits']}-bit per token" if tag["act_bits"] else "float",
        "keep_first_last": tag["keep_first_last"],
        "full_reference": ("float layers behind the same LayerNorm as the quantised ones" if tag["full_norm"]
                           else "plain float network (no LayerNorm)"),
    }
    metrics["comparisons"] = comparisons(arrays)
    if published is not None:
        metrics["published"] = published
    plot(docs, arrays, png)
    return metrics


def _w1_mean(gen: np.ndarray, truth: np.ndarray, ref_std: np.ndarray) -> float:
    return float(np.mean(w1_scaled(gen, truth, ref_std)))


def comparisons(arrays: dict, n_boot: int = 200, seed: int = 0) -> dict:
    """The numbers the verdict compares, each with a bootstrap standard error
    over the test jets (:func:`colliderflow.verdict.bootstrap_se`):

    * tagging: AUC of each precision, AUC(prec) - AUC(full) and
      AUC(ternary) - AUC(multiplicity only) (paired: same test jets);
    * regression: relative mass resolution of each precision and
      res(prec) - res(full) (paired: same test jets);
    * generation: mean W1 / truth spread of each precision and
      W1(prec) - W1(full); the generated samples and the truth are
      resampled independently (they are not paired)."""
    from sklearn.metrics import roc_auc_score

    from ...verdict import bootstrap_se

    t, r, g = arrays["tagging"], arrays["regression"], arrays["generation"]
    for task, keys in (("tagging", ["y_test", "multiplicity_test"] + [f"score_{p}" for p in PRECISIONS]),
                       ("regression", ["mass_test"] + [f"pred_{p}" for p in PRECISIONS]),
                       ("generation", ["truth"] + [f"gen_{p}" for p in PRECISIONS])):
        for k in keys:
            if k not in arrays[task]:
                raise InputError(f"{task}.npz", k, "array missing (rerun the task step)")
    y = t["y_test"]
    auc = {p: float(roc_auc_score(y, t[f"score_{p}"])) for p in PRECISIONS}
    auc["multiplicity"] = float(roc_auc_score(y, -t["multiplicity_test"]))
    d_auc = lambda yy, a, b: roc_auc_score(yy, a) - roc_auc_score(yy, b)  # noqa: E731
    tag = {"auc": auc, "n": int(len(y)),
           "delta_vs_full": {p: auc[p] - auc["full"] for p in ("binary", "ternary")},
           "delta_vs_full_se": {p: bootstrap_se(d_auc, y, t[f"score_{p}"], t["score_full"], n=n_boot, seed=seed)
                                for p in ("binary", "ternary")},
           "ternary_minus_multiplicity": auc["ternary"] - auc["multiplicity"],
           "ternary_minus_multiplicity_se": bootstrap_se(d_auc, y, t["score_ternary"], -t["multiplicity_test"],
                                                         n=n_boot, seed=seed)}
    mass = r["mass_test"]
    res = {p: resolution(r[f"pred_{p}"], mass)["resolution"] for p in PRECISIONS}
    d_res = lambda m, a, b: resolution(a, m)["resolution"] - resolution(b, m)["resolution"]  # noqa: E731
    reg = {"resolution": res, "n": int(len(mass)),
           "delta_vs_full": {p: res[p] - res["full"] for p in ("binary", "ternary")},
           "delta_vs_full_se": {p: bootstrap_se(d_res, mass, r[f"pred_{p}"], r["pred_full"], n=n_boot, seed=seed)
                                for p in ("binary", "ternary")}}
    truth = g["truth"]
    ref_std = truth.std(0).clip(1e-9)
    w1 = {p: _w1_mean(g[f"gen_{p}"], truth, ref_std) for p in PRECISIONS}
    rng = np.random.default_rng(seed)
    pick = lambda a: a[rng.integers(0, len(a), len(a))]  # noqa: E731
    reps = {p: [] for p in ("binary", "ternary")}
    for _ in range(n_boot):
        tb, fb = pick(truth), pick(g["gen_full"])
        w_full = _w1_mean(fb, tb, ref_std)
        for p in reps:
            reps[p].append(_w1_mean(pick(g[f"gen_{p}"]), tb, ref_std) - w_full)
    gen = {"w1_mean": w1, "n": int(len(truth)),
           "delta_vs_full": {p: w1[p] - w1["full"] for p in reps},
           "delta_vs_full_se": {p: float(np.std(v, ddof=1)) for p, v in reps.items()}}
    return {"tagging": tag, "regression": reg, "generation": gen, "n_boot": n_boot}


COLORS = {"full": "black", "binary": "tab:red", "ternary": "tab:blue"}


def _finish(ax: Any, xlabel: str, ylabel: str, headroom: float = 0.0, fontsize: int = 15) -> None:
    from ... import plotting

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if headroom:
        ax.set_ylim(0, ax.get_ylim()[1] * headroom)
    ax.legend(fontsize=fontsize)
    plotting.label(ax)


def plot(docs: dict, arrays: dict, path: str | Path) -> None:
    """Four panels: q/g ROC, mass response, generated vs truth mass, weight memory."""
    import matplotlib
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    from ... import plotting

    plotting.style()
    fig, axes = plt.subplots(1, 4, figsize=(30, 7.5))
    fig.subplots_adjust(wspace=0.32)
    ax = axes[0]
    y = arrays["tagging"]["y_test"]
    for p in PRECISIONS:
        fpr, tpr, _ = roc_curve(y, arrays["tagging"][f"score_{p}"])
        sel = fpr > 0
        ax.plot(tpr[sel], 1 / fpr[sel], color=COLORS[p], label=f"{p}: AUC {docs['tagging']['results'][p]['auc']:.3f}")
    ax.set_yscale("log")
    _finish(ax, r"quark efficiency $\epsilon_q$", r"gluon rejection $1/\epsilon_g$")
    ax = axes[1]
    true = arrays["regression"]["mass_test"]
    bins = np.linspace(-0.6, 0.6, 49)
    for p in PRECISIONS:
        r = docs["regression"]["results"][p]
        ax.hist(np.clip(arrays["regression"][f"pred_{p}"] / true - 1, bins[0], bins[-1]), bins=bins, histtype="step",
                color=COLORS[p], lw=2, label=f"{p}: $\\sigma$ {r['resolution']:.3f}, bias {r['bias']:+.3f}")
    _finish(ax, r"$m_\mathrm{pred}/m_\mathrm{true} - 1$ (jet mass)", "test jets", headroom=1.4)
    ax = axes[2]
    truth = arrays["generation"]["truth"][:, 0]
    bins = np.linspace(0, np.percentile(truth, 99.5), 41)
    ax.hist(truth, bins=bins, histtype="stepfilled", color="0.85", label="truth (test jets)", density=True)
    for p in PRECISIONS:
        r = docs["generation"]["results"][p]
        ax.hist(arrays["generation"][f"gen_{p}"][:, 0], bins=bins, histtype="step", color=COLORS[p], lw=2, density=True,
                label=f"{p}: clf AUC {r['classifier_auc']:.3f}, $W_1$ {r['w1_mean']:.3f}")
    _finish(ax, "jet mass [GeV]", "normalised", headroom=1.4, fontsize=14)
    ax = axes[3]
    width = 0.25
    for k, p in enumerate(PRECISIONS):
        vals = [docs[t]["results"][p]["memory"]["total_bits"] / 8e3 for t in TASKS]
        xs = np.arange(len(TASKS)) + (k - 1) * width
        ax.bar(xs, vals, width, color=COLORS[p], label=p)
        if p != "full":
            for x_, v, t in zip(xs, vals, TASKS):
                ax.text(x_, v * 1.1, f"/{docs[t]['results'][p]['memory']['ratio']:.1f}", ha="center", fontsize=12)
    ax.set_xticks(np.arange(len(TASKS)), TASKS)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.LogFormatter(labelOnlyBase=False))  # 2, 30: as the majors
    _finish(ax, "task", "weight memory [kB]")
    plotting.save(fig, path)
