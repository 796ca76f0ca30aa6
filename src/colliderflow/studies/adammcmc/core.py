"""AdamMCMC (arXiv:2312.14027) around a pretrained jet tagger.

* Data: the fine-class jet toy (:mod:`colliderflow.data.jet_constituents`);
  in distribution (ID) = ``signal`` vs ``background`` classes (default top
  vs light quark + gluon), split into training and test jets; out of
  distribution (OOD) = classes never seen in training (default X2p300,
  X4p125).
* Tagger: an MLP on the flattened per-constituent features
  (:func:`colliderflow.nn.jets.particle_features`) of the ``n_constituents``
  leading constituents, standardised with the training set's mean/std,
  trained with the shared loop (:func:`colliderflow.nn.train.fit`).
  A deep ensemble of ``n_samples`` such taggers (different seeds) is the
  baseline.
* Sampler: :class:`colliderflow.nn.adammcmc.AdamMCMC` on the tempered
  posterior ``exp(-temperature * L)``, ``L`` the mean binary cross-entropy on
  the full training set, ``temperature = temperature_per_jet * n_train``
  (1: the Bayesian posterior with a flat prior).
* Acceptance scan: short chains from the trained weights for each
  ``sigma`` in ``scan_sigmas``, spherical (stretch 0) vs prolate (``stretch``).
* Chain: ``burn_in`` steps, then ``n_samples`` weight samples every ``thin``
  steps; predictive mean and spread (std over the samples of the sigmoid
  output) per jet, ID test vs OOD, against the ensemble's.
* Publishing: :func:`publish` exports the pretrained tagger (the chains'
  starting point) as ONNX + model card with the study's spreads as metrics.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...data.jet_constituents import read_jets, select_classes
from ...errors import InputError
from ...nn.adammcmc import AdamMCMC, check_sampler_config
from ...nn.jets import PARTICLE_FEATURES, particle_features
from ...nn.train import TrainConfig, fit, load_state, save_model, seed_everything
from . import Config, acceptance_holds, spread_ood_gt_id

log = logging.getLogger(__name__)



# ------------------------------------------------------------------ config
def check_config(cfg: Config, source: str = "config") -> None:
    """Checks that span several keys (single values are checked by the schema):
    the signal, background and OOD classes must not overlap."""
    classes = [*cfg.signal, *cfg.background, *cfg.ood]
    if len(set(classes)) != len(classes):
        raise InputError(source, "studies.adammcmc.ood", f"signal, background and ood classes overlap: {classes}")


# ------------------------------------------------------------------ data
def load_data(jets_path: str | Path, *, signal: Sequence[str], background: Sequence[str], ood: Sequence[str],
              n_constituents: int, test_fraction: float, seed: int,
              ood_path: str | Path | None = None) -> dict:
    """Features of the ID training/test jets (labels: 1 = signal) and of the
    OOD jets (from ``ood_path``, default the same file), as float32 arrays
    (n, n_constituents * 5), unstandardised."""
    jets = read_jets(jets_path)
    n_max = jets["constituents"].shape[1]
    if n_constituents > n_max:
        raise InputError(jets_path, "studies.adammcmc.n_constituents",
                         f"asked for {n_constituents} constituents, the file keeps {n_max}")
    id_jets = select_classes(jets, [*signal, *background])
    y = (id_jets["labels"] < len(signal)).astype(np.float32)
    x = particle_features(id_jets["constituents"], n_constituents)[0].reshape(len(y), -1)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    if n_test < 10 or len(y) - n_test < 10:
        raise InputError(jets_path, "labels", f"only {len(y)} jets of the classes {[*signal, *background]}")
    te, tr = perm[:n_test], perm[n_test:]
    ood_file = jets if ood_path is None or Path(ood_path) == Path(jets_path) else read_jets(ood_path)
    if ood_file["constituents"].shape[1] < n_constituents:
        raise InputError(ood_path, "studies.adammcmc.n_constituents",
                         f"asked for {n_constituents} constituents, the file keeps {ood_file['constituents'].shape[1]}")
    ood_jets = select_classes(ood_file, list(ood))
    x_ood = particle_features(ood_jets["constituents"], n_constituents)[0].reshape(len(ood_jets["labels"]), -1)
    if len(x_ood) == 0:
        raise InputError(ood_path or jets_path, "labels", f"no jets of the OOD classes {list(ood)}")
    return {"x_train": x[tr], "y_train": y[tr], "x_test": x[te], "y_test": y[te], "x_ood": x_ood,
            "ood_labels": ood_jets["labels"], "ood_names": list(ood), "source": jets.get("source", "")}


class Tagger(nn.Module):
    """Standardisation (buffers from the training set) + MLP -> one logit."""

    def __init__(self, n_in: int, hidden: Sequence[int], mean: np.ndarray | None = None,
                 std: np.ndarray | None = None) -> None:
        super().__init__()
        sizes = [n_in, *hidden, 1]
        layers = [m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.ReLU())][:-1]
        self.net = nn.Sequential(*layers)
        self.register_buffer("mean", torch.zeros(n_in) if mean is None else torch.as_tensor(mean))
        self.register_buffer("std", torch.ones(n_in) if std is None else torch.as_tensor(std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std).squeeze(-1)


def make_tagger(x_train: np.ndarray, hidden: Sequence[int]) -> Tagger:
    mean = x_train.mean(0)
    std = x_train.std(0)
    return Tagger(x_train.shape[1], hidden, mean.astype(np.float32), np.where(std > 0, std, 1.0).astype(np.float32))


def _bce(model: torch.nn.Module, batch: Sequence[torch.Tensor]):
    x, y = batch
    return nn.functional.binary_cross_entropy_with_logits(model(x), y)


def train_taggers(jets_path: str | Path, out_dir: str | Path, *, signal: Sequence[str], background: Sequence[str],
                  ood: Sequence[str], n_constituents: int, hidden: Sequence[int], epochs: int,
                  batch_size: int, train_lr: float, test_fraction: float, n_samples: int, seed: int,
                  ood_path: str | Path | None = None) -> dict:
    """The pretrained tagger (``tagger.pt``) and a deep ensemble of
    ``n_samples`` taggers with other seeds (``ensemble_<k>.pt``)."""
    data = load_data(jets_path, signal=signal, background=background, ood=ood, n_constituents=n_constituents,
                     test_fraction=test_fraction, seed=seed, ood_path=ood_path)
    out_dir = Path(out_dir)
    tensors = (torch.from_numpy(data["x_train"]), torch.from_numpy(data["y_train"]))
    hp = dict(n_in=int(data["x_train"].shape[1]), hidden=list(hidden), n_constituents=n_constituents,
              signal=list(signal), background=list(background), ood=list(ood), test_fraction=test_fraction,
              seed=seed, jets=str(jets_path), ood_jets=str(ood_path or jets_path))
    summary = {}
    for k, name in enumerate(["tagger", *[f"ensemble_{i}" for i in range(n_samples)]]):
        s = seed + 1000 * k
        seed_everything(s)
        model = make_tagger(data["x_train"], hidden)
        hist = fit(model, _bce, tensors, TrainConfig(epochs=epochs, batch_size=batch_size, lr=train_lr, seed=s,
                                                      patience=max(3, epochs // 3), desc=name))
        save_model(model, out_dir / f"{name}.pt", {**hp, "train_seed": s})
        summary[name] = {"best_val_loss": hist.best_val, "best_epoch": hist.best_epoch}
    return summary


def load_tagger(path: str | Path) -> tuple[Tagger, dict]:
    state, hp = load_state(path)
    if "hidden" not in hp or "n_in" not in hp:
        raise InputError(Path(path).with_suffix(".json"), "hidden", "hyper-parameters missing")
    model = Tagger(hp["n_in"], hp["hidden"])
    model.load_state_dict(state)
    model.eval()
    return model, hp


# ------------------------------------------------------------------ sampling
def gibbs_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, prior_std: float) -> torch.Tensor:
    """The sampled loss L: mean binary cross-entropy on (x, y) plus the
    Gaussian weight prior N(0, prior_std^2) per weight, scaled by 1/n so that
    ``exp(-n L)`` is the Bayesian posterior (without a prior the posterior of
    separable data is improper: the chain runs off to ever larger weights)."""
    sq = sum((p * p).sum() for p in model.parameters())
    return nn.functional.binary_cross_entropy_with_logits(model(x), y) + sq / (2 * len(y) * prior_std ** 2)


def _closure(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, prior_std: float):
    return lambda: gibbs_loss(model, x, y, prior_std)


#: the sampling chain moved: a chain that accepts (almost) nothing is stuck at its start (the default tier's
#: prolate chain accepts ~0.6)
MIN_CHAIN_ACCEPTANCE = 0.05


def run_chain(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, lr: float, sigma: float, stretch: float,
              temperature: float, steps: int, prior_std: float, reverse: str = "same_step",
              seed: int = 0, keep_every: int = 0, burn_in: int = 0) -> dict:
    """AdamMCMC chain on ``model`` (modified in place) for ``steps`` steps on
    the full batch (x, y). Returns the acceptance rate and, with
    ``keep_every``, the flat weight vectors after ``burn_in`` every
    ``keep_every`` steps."""
    dev = next(model.parameters()).device
    gen = torch.Generator(device=dev).manual_seed(seed)  # on the chain's device: no host-side draws
    sampler = AdamMCMC(model.parameters(), lr=lr, sigma=sigma, stretch=stretch, temperature=temperature,
                       reverse=reverse, generator=gen)
    closure = _closure(model, x, y, prior_std)
    kept, losses, accepted = [], [], []
    for i in range(steps):
        info = sampler.step(closure)
        losses.append(info["loss"])
        accepted.append(bool(info["accepted"]))
        if keep_every and i >= burn_in and (i - burn_in + 1) % keep_every == 0:
            kept.append(nn.utils.parameters_to_vector(model.parameters()).detach().clone())
    return {"acceptance": sampler.acceptance_rate, "samples": kept, "losses": losses, "accepted": accepted}


def _predict(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return torch.sigmoid(model(x)).cpu().numpy()


def _predict_vectors(model: torch.nn.Module, vectors: Sequence[torch.Tensor], x: torch.Tensor) -> np.ndarray:
    out = []
    for v in vectors:
        nn.utils.vector_to_parameters(v, model.parameters())
        out.append(_predict(model, x))
    return np.stack(out)


def sample(tagger_path: str | Path, ensemble_paths: Sequence[str | Path], out_npz: str | Path, out_json: str | Path,
           *, lr: float, sigma: float, stretch: float, temperature_per_jet: float, prior_std: float,
           scan_sigmas: Sequence[float], scan_steps: int, burn_in: int, thin: int, n_samples: int, reverse: str,
           seed: int) -> dict:
    """Acceptance scan, the sampling chain, and the predictions of the MCMC
    samples, the ensemble and the pretrained tagger on the ID test and OOD
    jets (``out_npz``); scan and chain numbers to ``out_json``."""
    import time

    from ...io import atomic_path, write_json

    check_sampler_config(lr, sigma, stretch, temperature_per_jet, source="config")
    from ... import health
    from ...nn.device import select

    dev = select()
    model, hp = load_tagger(tagger_path)
    data = load_data(hp["jets"], signal=hp["signal"], background=hp["background"], ood=hp["ood"],
                     n_constituents=hp["n_constituents"], test_fraction=hp["test_fraction"], seed=hp["seed"],
                     ood_path=hp.get("ood_jets"))
    # the chains' data and weights resident on the device (a no-op on the CPU)
    x, y = torch.from_numpy(data["x_train"]).to(dev), torch.from_numpy(data["y_train"]).to(dev)
    n_train = len(y)
    lam = temperature_per_jet * n_train
    start = {k: v.clone() for k, v in model.state_dict().items()}
    model.to(dev)

    scan = {"sigma": list(map(float, scan_sigmas)), "spherical": [], "prolate": []}
    flags = {"spherical": [], "prolate": []}  # per-step accept flags: the block bootstrap of the verdict
    t0 = time.process_time()
    for i, s in enumerate(scan_sigmas):
        for kind, st in (("spherical", 0.0), ("prolate", stretch)):
            model.load_state_dict(start)
            res = run_chain(model, x, y, lr=lr, sigma=s, stretch=st, temperature=lam, steps=scan_steps,
                            prior_std=prior_std, reverse=reverse, seed=seed + 17 * i + (kind == "prolate"))
            scan[kind].append(res["acceptance"])
            flags[kind].append(res["accepted"])
    scan_cpu = time.process_time() - t0
    log.info("acceptance scan: %s", scan)

    model.load_state_dict(start)
    t0 = time.process_time()
    chain = run_chain(model, x, y, lr=lr, sigma=sigma, stretch=stretch, temperature=lam,
                      steps=burn_in + thin * n_samples, prior_std=prior_std, reverse=reverse, seed=seed + 1,
                      keep_every=thin, burn_in=burn_in)
    chain_cpu = time.process_time() - t0
    losses = np.asarray(chain["losses"], dtype=float)
    rec = health.record(losses[0], float(np.min(losses)), losses[-1], len(losses),
                        trained=bool(np.isfinite(losses).all() and chain["acceptance"] >= MIN_CHAIN_ACCEPTANCE),
                        criterion=f"AdamMCMC chain: acceptance >= {MIN_CHAIN_ACCEPTANCE:g} and every Gibbs loss "
                                  "finite (loss: the chain's Gibbs loss at its start, lowest and end)")
    health.add("AdamMCMC chain", {**rec, "device": str(dev), "acceptance": round(chain["acceptance"], 4)})
    samples = chain["samples"][:n_samples]
    x_te, x_ood = torch.from_numpy(data["x_test"]).to(dev), torch.from_numpy(data["x_ood"]).to(dev)
    p = {"mcmc_test": _predict_vectors(model, samples, x_te), "mcmc_ood": _predict_vectors(model, samples, x_ood)}
    # noise-floor null: the MAP weights moved by the same distances as the chain's samples, in random
    # directions (isotropic noise, no posterior geometry): spread that any weight jitter would give
    model.load_state_dict(start)
    start_vec = nn.utils.parameters_to_vector(model.parameters()).detach().clone()
    gen = torch.Generator().manual_seed(seed + 5)
    noise = []
    for v in samples:
        d = torch.randn(start_vec.shape, generator=gen).to(dev)
        noise.append(start_vec + d * (torch.linalg.vector_norm(v - start_vec) / torch.linalg.vector_norm(d)))
    p["noise_test"] = _predict_vectors(model, noise, x_te)
    p["noise_ood"] = _predict_vectors(model, noise, x_ood)
    members = [load_tagger(pth)[0].to(dev) for pth in ensemble_paths]
    p["ensemble_test"] = np.stack([_predict(m, x_te) for m in members])
    p["ensemble_ood"] = np.stack([_predict(m, x_ood) for m in members])
    model.load_state_dict(start)
    p["pretrained_test"] = _predict(model, x_te)
    p["pretrained_ood"] = _predict(model, x_ood)
    with atomic_path(out_npz) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, y_test=data["y_test"], ood_labels=data["ood_labels"],
                                scan_accepted_spherical=np.array(flags["spherical"], dtype=np.uint8),
                                scan_accepted_prolate=np.array(flags["prolate"], dtype=np.uint8), **p)
    info = {"scan": scan, "scan_steps": scan_steps, "lr": lr, "sigma": sigma, "stretch": stretch,
            "temperature": lam, "temperature_per_jet": temperature_per_jet, "prior_std": prior_std,
            "n_train": n_train,
            "n_test": int(len(data["y_test"])), "n_ood": int(len(data["x_ood"])), "ood_names": data["ood_names"],
            "reverse": reverse, "chain_acceptance": chain["acceptance"], "chain_steps": len(chain["losses"]),
            "burn_in": burn_in, "thin": thin, "n_samples": len(samples),
            "chain_loss_start": chain["losses"][0], "chain_loss_end": chain["losses"][-1],
            "scan_cpu_s": scan_cpu, "chain_cpu_s": chain_cpu, "signal": hp["signal"],
            "background": hp["background"]}
    write_json(out_json, info)
    return info


# ------------------------------------------------------------------ report
#: steps per block of the acceptance block bootstrap (consecutive MH decisions are correlated)
ACCEPT_BLOCK = 10
#: bootstrap resamples of the verdict's errors
N_BOOT = 300


def acceptance_error(flags: np.ndarray, seed: int = 0, block: int = ACCEPT_BLOCK, n: int = N_BOOT) -> float:
    """Standard error of the acceptance rate of one chain's accept flags (steps,) by a block bootstrap
    (blocks of ``block`` consecutive steps, so the chain's autocorrelation is kept)."""
    from ...verdict import bootstrap_se

    f = np.asarray(flags, dtype=float)
    nb = max(len(f) // block, 2)
    blocks = f[:nb * block].reshape(nb, -1).mean(1) if len(f) >= 2 * block else f
    return bootstrap_se(lambda b: float(b.mean()), blocks, n=n, seed=seed)


def spread_comparison(arr: dict, seed: int = 0, n: int = N_BOOT) -> dict:
    """The spread statistics of the verdict, per model (mcmc, ensemble, noise): mean per-jet spread in (ID)
    and out of distribution (OOD), their difference, log(OOD / ID); and paired-bootstrap standard errors
    (ID and OOD jets resampled independently, the same jets for every model) of each model's OOD - ID
    difference and of the log-ratio differences mcmc - ensemble and mcmc - noise."""
    models = [m for m in ("mcmc", "ensemble", "noise") if f"{m}_test" in arr]
    sd = {m: (arr[f"{m}_test"].std(0, ddof=1), arr[f"{m}_ood"].std(0, ddof=1)) for m in models}
    n_id, n_ood = len(sd[models[0]][0]), len(sd[models[0]][1])

    def stats(i_id: np.ndarray, i_ood: np.ndarray) -> dict:
        out = {}
        for m in models:
            a, b = sd[m][0][i_id].mean(), sd[m][1][i_ood].mean()
            out[f"{m}_diff"] = b - a
            out[f"{m}_log_ratio"] = float(np.log(max(b, 1e-12) / max(a, 1e-12)))
        for m in models[1:]:
            out[f"mcmc_minus_{m}_log_ratio"] = out["mcmc_log_ratio"] - out[f"{m}_log_ratio"]
        return out

    value = stats(np.arange(n_id), np.arange(n_ood))
    rng = np.random.default_rng(seed)
    reps = [stats(rng.integers(0, n_id, n_id), rng.integers(0, n_ood, n_ood)) for _ in range(n)]
    err = {k: float(np.std([r[k] for r in reps], ddof=1)) for k in value}
    return {"value": {k: float(v) for k, v in value.items()}, "error": err, "n_boot": n, "n_id": n_id,
            "n_ood": n_ood}


def spread_summary(pred: np.ndarray) -> dict:
    """Per-jet std over the samples (rows) of the sigmoid outputs: mean,
    median and its standard error."""
    std = pred.std(0, ddof=1)
    return {"mean": float(std.mean()), "median": float(np.median(std)),
            "mean_err": float(std.std(ddof=1) / math.sqrt(len(std)))}


def load_samples(samples_npz: str | Path) -> dict:
    """The predictions written by :func:`sample`, checked for missing arrays and NaN/inf."""
    p = Path(samples_npz)
    if not p.exists():
        raise InputError(p, None, "file does not exist")
    arr = dict(np.load(p))
    for key in ("y_test", "mcmc_test", "mcmc_ood", "ensemble_test", "ensemble_ood", "pretrained_test", "noise_test",
                "noise_ood", "scan_accepted_spherical", "scan_accepted_prolate"):
        if key not in arr:
            raise InputError(p, key, "array missing")
        if not np.isfinite(arr[key]).all():
            raise InputError(p, key, "holds NaN or inf")
    return arr


def report(samples_npz: str | Path, sample_json: str | Path, out_dir: str | Path, *, tier: str,
           acceptance_margin: float,
           n_sigma: float = 3.0, published: str | Path | None = None) -> dict:
    """Figures (acceptance vs sigma; spread distributions ID vs OOD, MCMC vs
    ensemble) and the metrics of metrics.json; returns the metrics.
    ``holds`` (:func:`colliderflow.studies.adammcmc.verdict`): the prolate
    acceptance exceeds the spherical one by more than ``acceptance_margin``
    (absolute) at every scanned sigma up to the chain's sigma (the small-step
    regime the paper's stretch is for) and is nowhere lower by more than the
    margin, and the MCMC OOD mean spread exceeds the ID one by ``n_sigma``
    standard errors."""
    from sklearn.metrics import roc_auc_score

    from ...io import read_json

    arr = load_samples(samples_npz)
    info = read_json(sample_json)
    out_dir = Path(out_dir)
    y = arr["y_test"]
    spreads = {f"{m}_{d}": spread_summary(arr[f"{m}_{d}"]) for m in ("mcmc", "ensemble") for d in ("test", "ood")}
    auc = {"pretrained": float(roc_auc_score(y, arr["pretrained_test"])),
           "mcmc_mean": float(roc_auc_score(y, arr["mcmc_test"].mean(0))),
           "ensemble_mean": float(roc_auc_score(y, arr["ensemble_test"].mean(0)))}
    auc["mcmc_members"] = [float(roc_auc_score(y, q)) for q in arr["mcmc_test"]]
    auc["ensemble_members"] = [float(roc_auc_score(y, q)) for q in arr["ensemble_test"]]
    # per OOD class
    per_class = {}
    for i, name in enumerate(info["ood_names"]):
        sel = arr["ood_labels"] == i
        per_class[name] = {m: spread_summary(arr[f"{m}_ood"][:, sel])["mean"] for m in ("mcmc", "ensemble")}
    # the scan's acceptance rates and their errors from the stored accept flags (the rates equal sampling.json's)
    scan = {"sigma": info["scan"]["sigma"],
            **{kind: arr[f"scan_accepted_{kind}"].mean(1).tolist() for kind in ("spherical", "prolate")}}
    info = {**info, "scan": scan}
    acc_err = {kind: [acceptance_error(f, seed=i) for i, f in enumerate(arr[f"scan_accepted_{kind}"])]
               for kind in ("spherical", "prolate")}
    sig, sph, pro = np.array(scan["sigma"]), np.array(scan["spherical"]), np.array(scan["prolate"])
    gain = pro - sph
    small = sig <= info["sigma"] * (1 + 1e-9)  # the regime the sampler is run in
    _figures(arr, info, spreads, auc, out_dir, tier)
    metrics = {
        "acceptance_scan": {"sigma": scan["sigma"], "spherical": scan["spherical"], "prolate": scan["prolate"],
                            "spherical_err": acc_err["spherical"], "prolate_err": acc_err["prolate"],
                            "error": f"block bootstrap of the accept flags ({ACCEPT_BLOCK}-step blocks)",
                            "steps_per_point": info["scan_steps"], "stretch": info["stretch"], "lr": info["lr"]},
        "acceptance_gain": gain.tolist(),
        "acceptance_gain_min_at_small_sigma": float(gain[small].min()) if small.any() else None,
        "acceptance_claim_holds": acceptance_holds(scan, info["sigma"], acceptance_margin),
        "chain": {k: info[k] for k in ("sigma", "stretch", "lr", "temperature", "temperature_per_jet", "prior_std",
                                       "n_train", "reverse", "chain_acceptance", "chain_steps", "burn_in", "thin",
                                       "n_samples", "chain_loss_start", "chain_loss_end")},
        "spread": spreads,
        "spread_ood_over_id": {m: spreads[f"{m}_ood"]["mean"] / max(spreads[f"{m}_test"]["mean"], 1e-12)
                               for m in ("mcmc", "ensemble")},
        "spread_per_ood_class": per_class,
        "spread_comparison": spread_comparison(arr),
        "noise_null": "MAP weights moved by the chain samples' distances in random directions (isotropic noise)",
        "spread_claim_holds": spread_ood_gt_id(spreads, "mcmc", n_sigma),
        "ensemble_spread_ood_gt_id": spread_ood_gt_id(spreads, "ensemble", n_sigma),
        "auc": auc,
        "classes": {"signal": info["signal"], "background": info["background"], "ood": info["ood_names"]},
        "n_test": info["n_test"], "n_ood": info["n_ood"],
        "cpu_s": {"scan": info["scan_cpu_s"], "chain": info["chain_cpu_s"]},
        "tolerances": {"acceptance_margin": acceptance_margin, "spread_n_sigma": n_sigma},
    }
    if published is not None:  # the ONNX export of the pretrained tagger (:func:`publish`)
        metrics["published"] = read_json(published)
    return metrics


# ------------------------------------------------------------------ publishing
def publish(tagger_path: str | Path, samples_npz: str | Path, sample_json: str | Path, out_dir: str | Path,
            n_val: int = 200) -> dict:
    """ONNX + model card of the pretrained tagger (the point every AdamMCMC
    chain starts from), checked in onnxruntime on ``n_val`` frozen ID test
    jets. The card's metrics are the tagger's test AUC and the study's
    predictive spreads in and out of distribution (from :func:`sample`'s
    predictions). Returns the check record (``exported``, ``passed``, ...)."""
    from sklearn.metrics import roc_auc_score

    from ...io import read_json
    from ...publish import publish_checked

    model, hp = load_tagger(tagger_path)
    arr, info = load_samples(samples_npz), read_json(sample_json)
    data = load_data(hp["jets"], signal=hp["signal"], background=hp["background"], ood=hp["ood"],
                     n_constituents=hp["n_constituents"], test_fraction=hp["test_fraction"], seed=hp["seed"],
                     ood_path=hp.get("ood_jets"))
    n = hp["n_constituents"]
    ood = "+".join(info["ood_names"])
    spreads = {m: {"in_distribution": spread_summary(arr[f"{m}_test"]),
                   "out_of_distribution": spread_summary(arr[f"{m}_ood"])} for m in ("mcmc", "ensemble")}
    return publish_checked(
        model, {"x": data["x_test"][:n_val]}, out_dir,
        name="adammcmc_pretrained_tagger",
        description=(f"MLP jet tagger, {'+'.join(hp['signal'])} (signal) vs {'+'.join(hp['background'])}, trained "
                     "with Adam on the binary cross-entropy: the MAP starting point of the AdamMCMC chains "
                     "(arXiv:2312.14027; "
                     f"the sampled posterior adds a Gaussian weight prior of std {info['prior_std']:g}, weak at "
                     f"{info['n_train']} training jets). Trained by colliderflow; one network, the posterior samples "
                     "are not published."),
        input_specs={"x": {"units": "log GeV, 1, 1, rad, 1", "features": [f"{f}_{i}" for i in range(n)
                                                                            for f in PARTICLE_FEATURES],
                           "preprocessing": f"colliderflow.nn.jets.particle_features of the {n} leading constituents "
                                            "(pT, eta_rel, phi_rel), zero on padding, flattened constituent-major to "
                                            f"{n * len(PARTICLE_FEATURES)} numbers; standardised inside the model"}},
        outputs={"logit": {"description": "signal logit; sigmoid gives the signal probability"}},
        training_data={"file": hp["jets"], "source": data["source"], "n_train": int(len(data["y_train"])),
                       "note": f"the training loop holds out {TrainConfig().val_fraction:.0%} of these for "
                               "early stopping",
                       "signal": hp["signal"], "background": hp["background"], "train_seed": hp.get("train_seed"),
                       "test_fraction": hp["test_fraction"]},
        metrics={"test_auc": float(roc_auc_score(arr["y_test"], arr["pretrained_test"])), "n_test": info["n_test"],
                 "predictive_spread": {
                     "definition": "per-jet std of the sigmoid output over the samples, mean over jets (+- its "
                                   f"standard error); in distribution = ID test jets, out = {ood} jets",
                     "adammcmc": spreads["mcmc"], "deep_ensemble": spreads["ensemble"],
                     "n_samples": info["n_samples"], "n_ood": info["n_ood"]},
                 "chain_acceptance": info["chain_acceptance"]})


def _figures(arr: dict, info: dict, spreads: dict, auc: dict, out_dir: str | Path, tier: str):
    import matplotlib.pyplot as plt

    from ... import plotting

    plotting.style()
    scan = info["scan"]
    fig, ax = plt.subplots(figsize=(7.5, 6))
    ax.plot(scan["sigma"], scan["prolate"], "o-", color="C0",
            label=rf"prolate ($\sigma_\nabla$ = {info['stretch']:g} $|u|$)")
    ax.plot(scan["sigma"], scan["spherical"], "s--", color="C1", label="spherical (no stretch)")
    ax.set_xscale("log")
    ax.set_ylim(-0.03, 1.05)
    ax.set_xlabel(r"proposal width $\sigma$ (weight units)")
    ax.set_ylabel("acceptance rate")
    ax.axvline(info["sigma"], color="grey", ls=":", lw=1, label=rf"chain $\sigma$ (Adam lr {info['lr']:g})")
    ax.legend(fontsize=14, loc="best")
    plotting.label(ax, rlabel=f"{tier} tier")
    plotting.save(fig, out_dir / "acceptance_vs_sigma.png")

    fig, axes = plt.subplots(1, 2, figsize=(15, 6.5), sharey=True)
    hi = max(float(np.quantile(arr[k].std(0, ddof=1), 0.995)) for k in ("mcmc_ood", "ensemble_ood", "mcmc_test",
                                                                        "ensemble_test"))
    bins = np.linspace(0, max(hi, 1e-6), 40)
    for ax, m, title in zip(axes, ("mcmc", "ensemble"), ("AdamMCMC samples", "deep ensemble")):
        for d, lab, col in (("test", "in distribution (" + "+".join(info["signal"] + info["background"]) + ")", "C0"),
                            ("ood", "out of distribution (" + "+".join(info["ood_names"]) + ")", "C3")):
            s = arr[f"{m}_{d}"].std(0, ddof=1)
            ax.hist(s, bins=bins, density=True, histtype="step", lw=2, color=col,
                    label=f"{lab}: mean {spreads[f'{m}_{d}']['mean']:.3f}")
        a = auc["mcmc_mean"] if m == "mcmc" else auc["ensemble_mean"]
        ax.set_xlabel("predictive spread (std of tagger outputs)", fontsize=18)
        ax.set_yscale("log")
        ax.legend(fontsize=12, title=f"{title}: {arr[f'{m}_test'].shape[0]} taggers, ID AUC {a:.4f}",
                  title_fontsize=13, loc="upper right")
    axes[0].set_ylabel("density")
    plotting.label(axes[0], rlabel="")
    plotting.save(fig, out_dir / "predictive_spread.png")
