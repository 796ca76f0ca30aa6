"""Convolutional L2LFlows (Buss, Gaede, Kasieczka, Krause, Shih;
arXiv:2405.20407) in miniature, evaluated the CaloChallenge way.

Model (layer to layer):

* an **energy flow** p(log(E_l / E_inc), l = 1..L | log E_inc): a zuko NSF
  (:func:`colliderflow.nn.flow_fit.train_flow`);
* one **layer flow** per layer, p(y_l | log E_inc, log E_l, y_{l-1}), over the
  preprocessed voxels y_l of the layer seen as an (angular x radial) image.
  Each is a stack of coupling transforms with checkerboard masks and
  rational-quadratic spline transforms (zuko's
  :class:`zuko.flows.coupling.GeneralCouplingTransform` and
  :class:`zuko.transforms.MonotonicRQSTransform`); zuko's hyper-network is an
  MLP over a flat vector, so :class:`ConvCouplingTransform` swaps it for
  :class:`CylinderConditioner`, a convolutional network (circular padding in
  the angle, zero padding in radius) that sees the unchanged half of the
  layer, the previous layer and the energies as image channels.

Preprocessing of the sparse voxels (:func:`to_flow_space`): zero voxels get
uniform noise below the readout threshold, the layer is normalised to its
(noisy) energy and mapped with a logit; generation inverts this, renormalises
the layer to the energy flow's E_l and zeroes voxels below the threshold.

Evaluation as in the CaloChallenge: classifiers between generated and
reference showers on low-level voxels and on high-level features (AUC),
Wasserstein-1 distances of per-layer energies and shower shapes (in units of
the reference standard deviation, with the reference-vs-reference floor), and
generation time per shower; a naive baseline samples every voxel
independently from the reference marginals in bins of incident energy.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import zuko
from torch import nn
from zuko.flows.coupling import GeneralCouplingTransform
from zuko.lazy import Flow, LazyTransform, UnconditionalDistribution
from zuko.transforms import MonotonicRQSTransform

from ...data import calochallenge
from ...errors import InputError
from ...nn.train import TrainConfig, fit
from . import ClassifierConfig, Config, published


def plain(cfg: Config) -> dict:
    """A config dataclass as the JSON-able dict it was read from (tuples as lists)."""
    def conv(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, tuple | list):
            return [conv(x) for x in v]
        return v

    return conv(dataclasses.asdict(cfg))


# --------------------------------------------------------------------------- preprocessing


def dequantize(voxels: np.ndarray, threshold: float, rng: np.random.Generator, fraction: float = 0.02) -> np.ndarray:
    """Zero voxels -> Uniform(0, ``fraction`` * threshold); voxels at or above
    the readout threshold are kept (inverted by zeroing everything below the
    threshold; ``fraction`` < 1 leaves a margin for generated values)."""
    v = np.asarray(voxels, dtype=float)
    if np.any((v > 0) & (v < threshold)):
        raise InputError(None, "threshold", f"voxels between 0 and the threshold {threshold} MeV: wrong threshold")
    return np.where(v > 0, v, rng.uniform(0.0, fraction * threshold, v.shape))


def to_flow_space(voxels: np.ndarray, energy: np.ndarray, alpha: float = 1e-6) -> np.ndarray:
    """Dequantised layer voxels (N, n) -> logit(alpha + (1 - 2 alpha) v), with
    v = voxel / ``energy`` (N,) the voxel's fraction of the layer energy."""
    v = np.asarray(voxels, dtype=float) / np.asarray(energy, dtype=float)[:, None]
    p = alpha + (1 - 2 * alpha) * v
    return np.log(p) - np.log1p(-p)


def from_flow_space(y: np.ndarray, energy: np.ndarray, threshold: float, alpha: float = 1e-6) -> np.ndarray:
    """Inverse of :func:`to_flow_space` and :func:`dequantize`: fractions
    renormalised to sum to one, scaled to ``energy`` (N,), voxels below
    ``threshold`` set to zero."""
    p = 1.0 / (1.0 + np.exp(-np.asarray(y, dtype=float)))
    v = np.clip((p - alpha) / (1 - 2 * alpha), 0.0, None)
    v = v / np.clip(v.sum(1, keepdims=True), 1e-30, None)
    out = v * np.asarray(energy, dtype=float)[:, None]
    out[out < threshold] = 0.0
    return out


def layer_shape(geometry: calochallenge.Geometry) -> tuple[int, int]:
    """The common (n_alpha, n_r) image shape of the active layers."""
    shapes = {geometry.layers[i].shape for i in geometry.active}
    if len(shapes) != 1:
        raise InputError(None, "geometry", f"the convolutional layer flows need identical layers, got {sorted(shapes)}")
    return shapes.pop()


def preprocess(incident: np.ndarray, showers: np.ndarray, geometry: calochallenge.Geometry, threshold: float,
               alpha: float, seed: int, fraction: float = 0.02) -> dict:
    """Flow inputs: ``log_e`` log E_inc (N,), ``log_frac`` log(E_l/E_inc) (N, L)
    of the dequantised layers, ``y`` (N, L, n_voxels_per_layer)."""
    rng = np.random.default_rng(seed)
    ys, energies = [], []
    for i in geometry.active:
        v = dequantize(geometry.layer_voxels(showers, i), threshold, rng, fraction)
        e = v.sum(1)
        energies.append(e)
        ys.append(to_flow_space(v, e, alpha))
    energies = np.stack(energies, 1)
    return {"log_e": np.log(incident), "log_frac": np.log(energies / incident[:, None]), "y": np.stack(ys, 1)}


# --------------------------------------------------------------------------- convolutional coupling flow


class CylinderConv(nn.Module):
    """3x3 convolution on (alpha, r) images: circular padding in the angle,
    zero padding in radius."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=(0, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(nn.functional.pad(x, (0, 0, 1, 1), mode="circular"))


class CylinderConditioner(nn.Module):
    """Hyper-network of a coupling transform for one layer image.

    Input: the flat vector [x_a (unchanged voxels), context] with context =
    [standardised log E_inc, standardised log E_l, previous layer (n_pix) or
    nothing]. The voxels are scattered back into the (alpha, r) image; the
    channels are that image, the mask, the previous layer (if any) and one
    constant map per scalar. Output: the ``total`` spline parameters of every
    transformed voxel, flattened (what zuko's coupling expects).
    """

    def __init__(self, shape: tuple[int, int], mask: torch.Tensor, n_scalars: int, previous: bool, channels: int,
                 total: int) -> None:
        super().__init__()
        self.shape, self.n_scalars, self.previous, self.total = tuple(shape), n_scalars, previous, total
        self.register_buffer("mask_img", mask.float().reshape(1, 1, *shape))
        self.register_buffer("idx_a", mask.nonzero().squeeze(-1))
        self.register_buffer("idx_b", (~mask).nonzero().squeeze(-1))
        c_in = 2 + int(previous) + n_scalars
        self.net = nn.Sequential(CylinderConv(c_in, channels), nn.SiLU(), CylinderConv(channels, channels), nn.SiLU(),
                                 nn.Conv2d(channels, total, 1))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        lead = inp.shape[:-1]
        inp = inp.reshape(-1, inp.shape[-1])
        n_pix = self.shape[0] * self.shape[1]
        n_a = len(self.idx_a)
        x_a, scal = inp[:, :n_a], inp[:, n_a:n_a + self.n_scalars]
        img = inp.new_zeros(len(inp), n_pix)
        img[:, self.idx_a] = x_a
        chans = [img.reshape(-1, 1, *self.shape), self.mask_img.expand(len(inp), -1, -1, -1)]
        if self.previous:
            chans.append(inp[:, n_a + self.n_scalars:].reshape(-1, 1, *self.shape))
        chans.append(scal[:, :, None, None].expand(-1, -1, *self.shape))
        out = self.net(torch.cat(chans, 1))  # (B, total, A, R)
        out = out.flatten(2).transpose(1, 2)[:, self.idx_b]  # (B, n_b, total)
        return out.reshape(*lead, -1)


class ConvCouplingTransform(GeneralCouplingTransform):
    """zuko's general coupling transform (spline univariate transforms) with a
    :class:`CylinderConditioner` in place of its MLP hyper-network."""

    def __new__(cls, *args, **kwargs) -> ConvCouplingTransform:
        return LazyTransform.__new__(cls)

    def __init__(self, shape: tuple[int, int], mask: torch.Tensor, n_scalars: int, previous: bool, channels: int = 16,
                 bins: int = 8) -> None:
        LazyTransform.__init__(self)
        self.univariate = MonotonicRQSTransform
        self.shapes = ((bins,), (bins,), (bins - 1,))
        self.total = 3 * bins - 1
        mask = torch.as_tensor(mask, dtype=torch.bool)
        self.register_buffer("mask", mask)
        self.hyper = CylinderConditioner(shape, mask, n_scalars, previous, channels, self.total)


def checkerboard(shape: tuple[int, int], parity: int) -> torch.Tensor:
    a, r = torch.meshgrid(torch.arange(shape[0]), torch.arange(shape[1]), indexing="ij")
    return ((a + r) % 2 == parity).reshape(-1)


def mlp_coupling(shape: tuple[int, int], mask: torch.Tensor, previous: bool, hidden: Sequence[int],
                 bins: int = 8) -> GeneralCouplingTransform:
    """The ablation: the same checkerboard spline coupling with zuko's MLP hyper-network over the flat vector
    [unchanged voxels, log E_inc, log E_l, previous layer] (the original L2LFlows' fully connected
    conditioners) in place of :class:`CylinderConditioner`."""
    n = shape[0] * shape[1]
    return GeneralCouplingTransform(n, 2 + (n if previous else 0), mask=mask, univariate=MonotonicRQSTransform,
                                    shapes=((bins,), (bins,), (bins - 1,)), hidden_features=tuple(hidden))


class LayerFlow(nn.Module):
    """p(y_l | log E_inc, log E_l, y_{l-1}) for one layer image; inputs
    standardised per voxel by buffers fitted to the training data. ``mlp_hidden``
    (the ablation) swaps the convolutional conditioners for MLPs of these widths."""

    def __init__(self, shape: tuple[int, int], previous: bool, transforms: int = 4, channels: int = 16,
                 bins: int = 8, mlp_hidden: Sequence[int] | None = None) -> None:
        super().__init__()
        n = shape[0] * shape[1]
        self.previous = previous
        masks = [checkerboard(shape, k % 2) for k in range(transforms)]
        self.flow = Flow([ConvCouplingTransform(shape, m, 2, previous, channels, bins) if mlp_hidden is None
                          else mlp_coupling(shape, m, previous, mlp_hidden, bins) for m in masks],
                         UnconditionalDistribution(zuko.distributions.DiagNormal, torch.zeros(n), torch.ones(n),
                                                   buffer=True))
        for name, size in (("y_mean", n), ("y_std", n), ("s_mean", 2), ("s_std", 2), ("p_mean", n), ("p_std", n)):
            self.register_buffer(name, torch.zeros(size) if "mean" in name else torch.ones(size))

    def fit_standardisation(self, y: torch.Tensor, scalars: torch.Tensor, prev: torch.Tensor | None = None) -> None:
        self.y_mean.copy_(y.mean(0)), self.y_std.copy_(y.std(0).clamp_min(1e-3))
        self.s_mean.copy_(scalars.mean(0)), self.s_std.copy_(scalars.std(0).clamp_min(1e-3))
        if prev is not None:
            self.p_mean.copy_(prev.mean(0)), self.p_std.copy_(prev.std(0).clamp_min(1e-3))

    def context(self, scalars: torch.Tensor, prev: torch.Tensor | None) -> torch.Tensor:
        c = (scalars - self.s_mean) / self.s_std
        if self.previous:
            c = torch.cat([c, (prev - self.p_mean) / self.p_std], -1)
        return c

    def log_prob(self, y: torch.Tensor, scalars: torch.Tensor, prev: torch.Tensor | None = None) -> torch.Tensor:
        z = (y - self.y_mean) / self.y_std
        return self.flow(self.context(scalars, prev)).log_prob(z) - torch.log(self.y_std).sum()

    def sample(self, scalars: torch.Tensor, prev: torch.Tensor | None = None) -> torch.Tensor:
        return self.flow(self.context(scalars, prev)).sample() * self.y_std + self.y_mean

    def nll(self, batch: Sequence[torch.Tensor]) -> torch.Tensor:
        y, s = batch[0], batch[1]
        prev = batch[2] if self.previous else None
        return -self.log_prob(y, s, prev).mean() / y.shape[-1]


class L2LFlow(nn.Module):
    """The energy flow and the chain of layer flows."""

    def __init__(self, n_layers: int, shape: tuple[int, int], energy: dict, layer: dict,
                 conditioner: str = "conv") -> None:
        super().__init__()
        from ...nn.flows import StandardizedFlow

        if conditioner not in ("conv", "mlp"):
            raise ValueError(f"conditioner must be conv or mlp, not {conditioner!r}")
        self.hparams = dict(n_layers=n_layers, shape=list(shape), energy=dict(energy), layer=dict(layer),
                            conditioner=conditioner)
        self.energy = StandardizedFlow(n_layers, 1, kind="nsf", transforms=energy["transforms"],
                                       hidden=tuple(energy["hidden"]), bins=energy["bins"])
        self.layers = nn.ModuleList(LayerFlow(tuple(shape), previous=i > 0, transforms=layer["transforms"],
                                              channels=layer["channels"], bins=layer["bins"],
                                              mlp_hidden=layer["mlp_hidden"] if conditioner == "mlp" else None)
                                    for i in range(n_layers))
        # range of log(E_l/E_inc) in the training data: sampled energies are clipped to it (the flow's
        # Gaussian tails would otherwise give rare layer energies far above the incident energy)
        self.register_buffer("log_frac_min", torch.full((n_layers,), -30.0))
        self.register_buffer("log_frac_max", torch.zeros(n_layers))

    @torch.no_grad()
    def sample(self, log_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(log(E_l/E_inc) (N, L), y (N, L, n_pix)) for log incident energies (N,)."""
        log_frac = torch.clamp(self.energy.sample(c=log_e[:, None]), self.log_frac_min, self.log_frac_max)
        ys, prev = [], None
        for i, lf in enumerate(self.layers):
            scal = torch.stack([log_e, log_e + log_frac[:, i]], 1)
            prev = lf.sample(scal, prev)
            ys.append(prev)
        return log_frac, torch.stack(ys, 1)


def train(incident: np.ndarray, showers: np.ndarray, geometry: calochallenge.Geometry, cfg: Config,
          seed: int, conditioner: str = "conv", energy_from: L2LFlow | None = None) -> tuple[L2LFlow, dict]:
    """Train the energy flow and every layer flow (teacher forcing: each layer
    flow sees the true previous layer); returns (model, histories).
    ``conditioner`` "mlp" trains the ablation's layer flows; ``energy_from``
    takes its energy flow from another model (the ablation shares the
    convolutional model's, so the comparison isolates the layer flows)."""
    from ...nn.flow_fit import train_flow

    shape = layer_shape(geometry)
    pre = preprocess(incident, showers, geometry, cfg.threshold_mev, cfg.alpha, seed, cfg.noise_fraction)
    n_layers = len(geometry.active)
    model = L2LFlow(n_layers, shape, plain(cfg.energy_flow), plain(cfg.layer_flow), conditioner)
    if energy_from is None:
        ef = cfg.energy_flow
        eflow, h_e = train_flow(pre["log_frac"], pre["log_e"], kind="nsf", transforms=ef.transforms,
                                hidden=list(ef.hidden), bins=ef.bins, epochs=ef.epochs, batch_size=ef.batch_size,
                                lr=ef.lr, seed=seed, patience=ef.patience, desc="energy flow")
        model.energy.load_state_dict(eflow.state_dict())
    else:
        model.energy.load_state_dict(energy_from.energy.state_dict())
        h_e = {"shared": "the energy flow of the convolutional model"}
    model.log_frac_min.copy_(torch.as_tensor(pre["log_frac"].min(0)))
    model.log_frac_max.copy_(torch.as_tensor(pre["log_frac"].max(0)))
    hist = {"energy": h_e, "layers": []}
    log_e = torch.as_tensor(pre["log_e"], dtype=torch.float32)
    y = torch.as_tensor(pre["y"], dtype=torch.float32)
    log_el = log_e[:, None] + torch.as_tensor(pre["log_frac"], dtype=torch.float32)
    lf_cfg = cfg.layer_flow
    for i, lf in enumerate(model.layers):
        scal = torch.stack([log_e, log_el[:, i]], 1)
        tensors = [y[:, i], scal] + ([y[:, i - 1]] if i > 0 else [])
        lf.fit_standardisation(*tensors)
        torch.manual_seed(seed + 1 + i)
        h = fit(lf, lambda m, b: m.nll(b), tensors,
                TrainConfig(epochs=lf_cfg.epochs, batch_size=lf_cfg.batch_size, lr=lf_cfg.lr,
                            seed=seed + 1 + i, patience=lf_cfg.patience, desc=f"{conditioner} layer flow {i}"))
        hist["layers"].append(h.as_dict())
    return model, hist


def generate(model: L2LFlow, incident: np.ndarray, geometry: calochallenge.Geometry, threshold: float, alpha: float,
             batch_size: int = 2000,
             seed: int = 0) -> tuple[np.ndarray, dict]:
    """Showers (N, n_voxels) in MeV for incident energies (N,) in MeV, and the
    generation time per shower (wall and CPU, this process's threads). The
    flows sample on :func:`colliderflow.nn.device.select`'s device (the model
    goes back to the CPU afterwards); the timing records the device."""
    from ...nn.device import select

    dev = select()
    torch.manual_seed(seed)
    out = np.zeros((len(incident), geometry.n_voxels))
    offsets = geometry.offsets()
    model.to(dev)
    w0, c0 = time.perf_counter(), time.process_time()
    try:
        for s in range(0, len(incident), batch_size):
            inc = np.asarray(incident[s:s + batch_size], dtype=float)
            log_frac, y = model.sample(torch.as_tensor(np.log(inc), dtype=torch.float32, device=dev))
            log_frac, y = log_frac.cpu(), y.cpu()  # one copy per batch (and the device's sync for the timing)
            e_layer = np.exp(log_frac.numpy().astype(float)) * inc[:, None]
            for k, i in enumerate(geometry.active):
                out[s:s + len(inc), offsets[i]:offsets[i + 1]] = from_flow_space(y[:, k].numpy(), e_layer[:, k],
                                                                                 threshold, alpha)
    finally:
        model.to("cpu")
    timing = {"wall_ms_per_shower": 1e3 * (time.perf_counter() - w0) / len(incident),
              "cpu_ms_per_shower": 1e3 * (time.process_time() - c0) / len(incident),
              "batch_size": batch_size, "threads": torch.get_num_threads(), "device": str(dev)}
    return out, timing


def save(model: L2LFlow, path: str | Path) -> None:
    from ...nn.train import save_model

    save_model(model, path, model.hparams)


def load(path: str | Path) -> L2LFlow:
    from ...nn.train import load_state

    state, hp = load_state(path)
    for key in ("n_layers", "shape", "energy", "layer"):
        if key not in hp:
            raise InputError(Path(path).with_suffix(".json"), key, "hyper-parameter missing")
    model = L2LFlow(hp["n_layers"], hp["shape"], hp["energy"], hp["layer"], hp.get("conditioner", "conv"))
    model.load_state_dict(state)
    return model.eval()


# --------------------------------------------------------------------------- baseline


def independent_voxels(train_inc: np.ndarray, train_showers: np.ndarray, incident: np.ndarray, n_bins: int,
                       seed: int) -> np.ndarray:
    """The naive generator: every voxel drawn independently from its marginal
    over the reference showers in the same bin of log incident energy
    (``n_bins`` quantile bins), so all voxel-voxel correlations are lost."""
    rng = np.random.default_rng(seed)
    edges = np.quantile(np.log(train_inc), np.linspace(0, 1, n_bins + 1))
    b_ref = np.clip(np.searchsorted(edges, np.log(train_inc), side="right") - 1, 0, n_bins - 1)
    b_new = np.clip(np.searchsorted(edges, np.log(incident), side="right") - 1, 0, n_bins - 1)
    out = np.zeros((len(incident), train_showers.shape[1]))
    cols = np.arange(train_showers.shape[1])
    for b in range(n_bins):
        pool = train_showers[b_ref == b]
        sel = np.where(b_new == b)[0]
        if len(sel):
            out[sel] = pool[rng.integers(0, len(pool), (len(sel), len(cols))), cols]
    return out


# --------------------------------------------------------------------------- evaluation


def low_level(incident: np.ndarray, showers: np.ndarray) -> np.ndarray:
    """Classifier inputs of the challenge's low-level test: log10 E_inc and the
    voxel energies divided by E_inc."""
    return np.column_stack([np.log10(incident), showers / incident[:, None]])


def high_level_inputs(incident: np.ndarray, showers: np.ndarray, geometry: calochallenge.Geometry) -> np.ndarray:
    """log10 E_inc, log10 of layer energy / E_inc, centres of energy and widths."""
    hl = calochallenge.high_level(showers, geometry)
    return np.column_stack([np.log10(incident), np.log10(hl["energy"] / incident[:, None] + 1e-6),
                            hl["ec_x"], hl["ec_y"], hl["width_x"], hl["width_y"]])


def classifier_auc(x_ref: np.ndarray, x_gen: np.ndarray, cfg: ClassifierConfig, seed: int,
                   scores: bool = False) -> float | tuple[float, np.ndarray, np.ndarray]:
    """ROC AUC of an MLP (sklearn) separating generated from reference showers,
    trained on half of each sample and evaluated on the other half (with
    ``scores``: also that half's labels and classifier outputs)."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    n = min(len(x_ref), len(x_gen))
    x = np.concatenate([x_ref[:n], x_gen[:n]])
    y = np.r_[np.zeros(n), np.ones(n)]
    xa, xb, ya, yb = train_test_split(x, y, test_size=0.5, random_state=seed, stratify=y)
    clf = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=tuple(cfg.hidden), alpha=cfg.l2,
                                                        max_iter=cfg.max_iter, early_stopping=True,
                                                        n_iter_no_change=cfg.patience, random_state=seed))
    with threadpool_limits(1):
        clf.fit(xa, ya)
        p = clf.predict_proba(xb)[:, 1]
    auc = float(roc_auc_score(yb, p))
    return (auc, yb, p) if scores else auc


def w1_scaled(ref: np.ndarray, gen: np.ndarray) -> np.ndarray:
    """Wasserstein-1 distance per column in units of the reference standard deviation."""
    from scipy.stats import wasserstein_distance

    ref, gen = np.atleast_2d(ref.T).T, np.atleast_2d(gen.T).T
    return np.array([wasserstein_distance(ref[:, j], gen[:, j]) / max(ref[:, j].std(), 1e-12)
                     for j in range(ref.shape[1])])


def shape_features(incident: np.ndarray, showers: np.ndarray, geometry: calochallenge.Geometry) -> dict[str,
                   np.ndarray]:
    """Per-layer quantities compared by W1: ``energy`` the layer energy as a
    fraction of the incident energy (the incident spectrum itself is an
    input, not a result), radial ``width`` (mm), centre of energy ``ec_x``
    (mm), ``sparsity``; plus ``energy_mev`` (MeV) for the figures."""
    hl = calochallenge.high_level(showers, geometry)
    return {"energy": hl["energy"] / np.asarray(incident)[:, None], "width": np.hypot(hl["width_x"], hl["width_y"]),
            "ec_x": hl["ec_x"], "sparsity": hl["sparsity"]}


def evaluate(ref: tuple[np.ndarray, np.ndarray], samples: dict, geometry: calochallenge.Geometry, cfg: Config,
             seed: int) -> dict:
    """AUCs and W1 distances of every sample ``{name: (incident, showers)}``
    against the reference ``(incident, showers)``; a sample named "reference"
    (other reference showers) gives the reference-vs-reference floor."""
    res = {}
    ref_low, ref_high = low_level(*ref), high_level_inputs(*ref, geometry)
    ref_feat = shape_features(*ref, geometry)
    from sklearn.metrics import roc_auc_score

    from ...verdict import bootstrap_se

    def auc_of(y: np.ndarray, p: np.ndarray) -> float:
        return float(roc_auc_score(y, p))

    for name, (inc, sh) in samples.items():
        feat = shape_features(inc, sh, geometry)
        r = {f"w1_{k}": w1_scaled(ref_feat[k], feat[k]).tolist() for k in ref_feat}
        for level, x_ref, x_gen in (("low", ref_low, low_level(inc, sh)),
                                    ("high", ref_high, high_level_inputs(inc, sh, geometry))):
            auc, y, p = classifier_auc(x_ref, x_gen, cfg.classifier, seed, scores=True)
            r[f"auc_{level}"] = auc
            # the classifier's test half resampled: the AUC's statistical error (not the training's)
            r[f"auc_{level}_err"] = bootstrap_se(auc_of, y, p, n=N_BOOT, seed=seed)
        res[name] = r
    return res


#: shower-shape features of the layer flows (the layer energies come from the energy flow)
SHAPES = ("width", "ec_x", "sparsity")
#: bootstrap resamples of the verdict's errors
N_BOOT = 100


def shape_w1(ref_feat: dict, feat: dict, i_ref: np.ndarray | None = None, i_gen: np.ndarray | None = None) -> float:
    """Mean over the :data:`SHAPES` features and the layers of the scaled W1 (:func:`w1_scaled`) of a
    sample's features ``feat`` against the reference's (rows ``i_gen`` and ``i_ref``, default all)."""
    vals = [w1_scaled(ref_feat[k] if i_ref is None else ref_feat[k][i_ref],
                      feat[k] if i_gen is None else feat[k][i_gen]) for k in SHAPES]
    return float(np.mean(np.concatenate(vals)))


def shape_comparison(ref: tuple, samples: dict, geometry: calochallenge.Geometry, seed: int,
                     n_boot: int = N_BOOT) -> dict:
    """Shower-shape W1 (:func:`shape_w1`) of every sample ``{name: (incident, showers)}`` against the
    reference, and paired-bootstrap standard errors of each value and of each difference from the
    "l2lflows" sample (the samples share their incident energies, so rows are resampled together; the
    reference rows independently)."""
    ref_feat = shape_features(*ref, geometry)
    feats = {k: shape_features(*v, geometry) for k, v in samples.items()}
    n_ref, n = len(ref[0]), min(len(v[0]) for v in samples.values())
    value = {k: shape_w1(ref_feat, f) for k, f in feats.items()}
    rng = np.random.default_rng(seed)
    reps = []
    for _ in range(n_boot):
        i_ref, i_gen = rng.integers(0, n_ref, n_ref), rng.integers(0, n, n)
        reps.append({k: shape_w1(ref_feat, f, i_ref, i_gen) for k, f in feats.items()})
    err = {k: float(np.std([r[k] for r in reps], ddof=1)) for k in feats}
    diff_err = {k: float(np.std([r[k] - r["l2lflows"] for r in reps], ddof=1)) for k in feats if k != "l2lflows"}
    return {"value": value, "error": err, "diff_error_vs_l2lflows": diff_err, "n_boot": n_boot,
            "features": list(SHAPES), "definition": "mean over layers and shape features (radial width, centre "
            "of energy x, sparsity) of W1 in units of the reference standard deviation"}


def reference_tables(paths: Iterable[str | Path]) -> dict:
    """Published CaloChallenge classifier AUCs and CPU timings per dataset
    (pandas tables of arXiv:2410.21611): {dataset: [{name, auc_low, auc_high,
    cpu_ms_per_shower}]}."""
    from ...hdf5 import read_frame

    out = {}
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise InputError(p, None, "CaloChallenge results table does not exist")
        # read with h5py; the tables' object columns (names, per-layer lists) are pickles, read by walking their
        # opcodes into numpy arrays (colliderflow.hdf5.read_numpy_pickle): nothing is unpickled
        df, _ = read_frame(p, objects="numpy")
        for col in ("submission name", "binary cls low", "binary cls high", "time CPU 100"):
            if col not in df.columns:
                raise InputError(p, col, "column missing")
        key = p.stem.replace("CaloChallenge_results_", "")
        out[key] = [{"name": str(r["submission name"]), "auc_low": float(r["binary cls low"]),
                     "auc_high": float(r["binary cls high"]), "cpu_ms_per_shower": float(r["time CPU 100"])}
                    for _, r in df.iterrows()]
    return out


def summarise(ev: dict, timing: dict, cfg: Config, n_train: int, n_test: int) -> dict:
    """Metrics and the claim: L2LFlows' AUCs (low and high level) are below the
    naive baseline's by at least ``auc_margin`` and its per-layer energy W1 is
    at most ``w1_tolerance`` reference standard deviations in every layer."""
    l2l, base, ref = ev["l2lflows"], ev["baseline"], ev["reference"]
    m = {"auc_low_l2lflows": l2l["auc_low"], "auc_high_l2lflows": l2l["auc_high"],
         "auc_low_baseline": base["auc_low"], "auc_high_baseline": base["auc_high"],
         "auc_low_reference": ref["auc_low"], "auc_high_reference": ref["auc_high"],
         "w1_layer_energy_l2lflows": l2l["w1_energy"], "w1_layer_energy_baseline": base["w1_energy"],
         "w1_layer_energy_reference": ref["w1_energy"],
         "max_w1_layer_energy_l2lflows": max(l2l["w1_energy"]),
         "max_w1_layer_energy_baseline": max(base["w1_energy"]),
         "max_w1_layer_energy_reference": max(ref["w1_energy"]),
         "w1_scale": "W1 of the layer energy fraction E_layer/E_inc (and of each shape feature) in units of the "
                     "reference standard deviation of that feature in that layer",
         "auc_margin": cfg.auc_margin, "w1_tolerance": cfg.w1_tolerance,
         "generation_ms_per_shower_cpu": timing["cpu_ms_per_shower"],
         "generation_ms_per_shower_wall": timing["wall_ms_per_shower"],
         "generation": timing, "n_train": n_train, "n_test": n_test, "per_sample": ev}
    for k in ("w1_width", "w1_ec_x", "w1_sparsity"):
        m[f"{k}_l2lflows"], m[f"{k}_baseline"] = l2l[k], base[k]
    for name in ev:
        for level in ("low", "high"):
            m[f"auc_{level}_{name}"] = ev[name][f"auc_{level}"]
            m[f"auc_{level}_err_{name}"] = ev[name][f"auc_{level}_err"]
    m["auc_below_baseline"] = bool(l2l["auc_low"] < base["auc_low"] - cfg.auc_margin
                                   and l2l["auc_high"] < base["auc_high"] - cfg.auc_margin)
    m["layer_energy_w1_small"] = bool(m["max_w1_layer_energy_l2lflows"] <= cfg.w1_tolerance)
    return m


# --------------------------------------------------------------------------- figures

COLORS = {"reference": "0.6", "l2lflows": "tab:blue", "baseline": "tab:red", "mlp": "tab:green"}
LABELS = {"reference": "reference (toy)", "l2lflows": "L2LFlows", "baseline": "independent voxels",
          "mlp": "MLP-conditioner layer flows"}


def _hist_ratio(ax: Any, rax: Any, values: dict, bins: Any, xlabel: str, logy: bool = False) -> None:
    """Normalised histograms (reference filled) with a ratio-to-reference panel."""
    ref_h, _ = np.histogram(values["reference"], bins=bins, density=True)
    for name, v in values.items():
        h, _ = np.histogram(v, bins=bins, density=True)
        if name == "reference":
            ax.stairs(h, bins, fill=True, color=COLORS[name], alpha=0.5, label=LABELS[name])
        else:
            ax.stairs(h, bins, color=COLORS[name], lw=2, ls="-" if name == "l2lflows" else "--", label=LABELS[name])
            with np.errstate(divide="ignore", invalid="ignore"):
                rax.stairs(np.where(ref_h > 0, h / ref_h, np.nan), bins, color=COLORS[name], lw=2,
                           ls="-" if name == "l2lflows" else "--")
    rax.axhline(1, color="k", lw=1)
    rax.set_ylim(0.5, 1.5)
    rax.set_ylabel("ratio", fontsize=12)
    rax.set_xlabel(xlabel, fontsize=13)
    ax.set_ylabel("normalised", fontsize=12)
    if logy:
        ax.set_yscale("log")
    else:
        ax.set_ylim(0, 1.5 * ax.get_ylim()[1])  # headroom for the panel's text and legend
    ax.tick_params(labelbottom=False, labelsize=11)
    rax.tick_params(labelsize=11)


def _grid(n_cols: int, n_rows: int = 1, width: float = 4.2) -> tuple:
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(width * n_cols, 5.2 * n_rows))
    gs = fig.add_gridspec(2 * n_rows, n_cols, height_ratios=[3, 1] * n_rows, hspace=0.08, wspace=0.32)
    axes = [(fig.add_subplot(gs[2 * r, c]), fig.add_subplot(gs[2 * r + 1, c])) for r in range(n_rows)
            for c in range(n_cols)]
    for ax, rax in axes:
        rax.sharex(ax)
    return fig, axes


def plot_layer_energies(samples: dict, geometry: calochallenge.Geometry, path: str | Path, rlabel: str = "") -> list:
    """One panel per layer: log10 layer energy, reference vs generated, ratio
    below; ``samples`` {name: (incident, showers)} with "reference" first."""
    from ... import plotting

    plotting.style()
    n = len(geometry.active)
    fig, axes = _grid(n)
    energies = {k: geometry.layer_energies(v[1]) for k, v in samples.items()}
    for k, (ax, rax) in enumerate(axes):
        vals = {name: np.log10(np.clip(e[:, k], 1e-1, None)) for name, e in energies.items()}
        lo, hi = np.percentile(vals["reference"], [0.5, 99.9])
        _hist_ratio(ax, rax, vals, np.linspace(lo - 0.2, hi + 0.1, 31), rf"$\log_{{10}} E_{{{k}}}$ [MeV]")
        ax.text(0.04, 0.96, f"layer {k}", transform=ax.transAxes, ha="left", va="top", fontsize=13)
    axes[0][0].legend(fontsize=10, loc="upper left", bbox_to_anchor=(0.0, 0.88))
    plotting.label(axes[0][0], "", rlabel="")
    fig.text(0.9, 0.9, rlabel, ha="right", va="bottom", fontsize=13)
    return plotting.save(fig, path)


def plot_shower_shapes(samples: dict, geometry: calochallenge.Geometry, path: str | Path, rlabel: str = "") -> list:
    """Mean longitudinal and radial profiles, total deposited energy ratio,
    radial width and sparsity of the layer at the shower maximum; ratio panels."""
    from ... import plotting

    plotting.style()
    import matplotlib.pyplot as plt  # noqa: F401

    fig, axes = _grid(5, width=4.0)
    shape = layer_shape(geometry)
    r_edges = np.asarray(geometry.layers[geometry.active[0]].r_edges)
    feats = {k: shape_features(*v, geometry) for k, v in samples.items()}
    k_max = int(np.argmax(feats["reference"]["energy"].mean(0)))  # layer of the shower maximum
    # longitudinal profile and radial profile (means, with ratio)
    (ax, rax), (ax2, rax2) = axes[0], axes[1]
    layers = np.arange(len(geometry.active) + 1) - 0.5
    layer_e = {k: geometry.layer_energies(sh) / inc[:, None] for k, (inc, sh) in samples.items()}
    ref_long = layer_e["reference"].mean(0)
    radial = {k: (np.stack([geometry.layer_voxels(v, i).reshape(len(v), *shape).sum(1) for i in geometry.active],
                           0).sum(0) / inc[:, None]).mean(0) / np.diff(r_edges) for k, (inc, v) in samples.items()}
    for name in samples:
        long = layer_e[name].mean(0)
        style = dict(color=COLORS[name], lw=2, ls="-" if name != "baseline" else "--")
        fill = name == "reference"
        ax.stairs(long, layers, fill=fill, alpha=0.5 if fill else 1, label=LABELS[name],
                  **({"color": COLORS[name]} if fill else style))
        ax2.stairs(radial[name], r_edges, fill=fill, alpha=0.5 if fill else 1,
                   **({"color": COLORS[name]} if fill else style))
        if not fill:
            rax.stairs(long / ref_long, layers, **style)
            rax2.stairs(radial[name] / radial["reference"], r_edges, **style)
    for a, r, xl in ((ax, rax, "layer"), (ax2, rax2, "r [mm]")):
        r.axhline(1, color="k", lw=1)
        r.set_ylim(0.5, 1.5)
        r.set_xlabel(xl, fontsize=13)
        r.set_ylabel("ratio", fontsize=12)
        a.tick_params(labelbottom=False, labelsize=11)
        r.tick_params(labelsize=11)
    ax.set_ylabel(r"$\langle E_{\rm layer}/E_{\rm inc}\rangle$", fontsize=13)
    ax2.set_ylabel(r"$\langle dE/dr\rangle / E_{\rm inc}$ [1/mm]", fontsize=13)
    for a in (ax, ax2):
        a.set_ylim(0, 1.6 * a.get_ylim()[1])  # headroom for the legend
    ax.legend(fontsize=10, loc="upper left")
    # total energy ratio, width and sparsity at the shower maximum
    etot = {k: sh.sum(1) / inc for k, (inc, sh) in samples.items()}
    lo, hi = np.percentile(etot["reference"], [0.2, 99.8])
    _hist_ratio(*axes[2], etot, np.linspace(lo, hi, 31), r"$E_{\rm dep}/E_{\rm inc}$")
    width = {k: f["width"][:, k_max] for k, f in feats.items()}
    _hist_ratio(*axes[3], width, np.linspace(0, np.percentile(width["reference"], 99.8), 31),
                f"radial width, layer {k_max} [mm]")
    spars = {k: f["sparsity"].mean(1) for k, f in feats.items()}
    step = int(np.ceil(geometry.n_voxels / 25))  # bin edges between the possible values k / n_voxels
    _hist_ratio(*axes[4], spars, (np.arange(0, geometry.n_voxels + step + 1, step) - 0.5) / geometry.n_voxels,
                "sparsity (fraction of empty cells)")
    plotting.label(axes[0][0], "", rlabel="")
    fig.text(0.9, 0.9, rlabel, ha="right", va="bottom", fontsize=13)
    return plotting.save(fig, path)


def plot_auc(metrics: dict, tables: dict, path: str | Path, rlabel: str = "") -> list:
    """Classifier AUC (low-level vs high-level): this run's L2LFlows, baseline
    and reference-vs-reference, with the published CaloChallenge entries as
    context (different datasets: sizes and geometries)."""
    from ... import plotting

    plotting.style()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 9))
    markers = {"ds1_photons": "^", "ds1_pions": "v", "ds2": "s", "ds3": "D"}
    for ds, rows in tables.items():
        xs = [r["auc_low"] for r in rows]
        ys = [r["auc_high"] for r in rows]
        ax.scatter(xs, ys, marker=markers.get(ds, "o"), facecolor="none", edgecolor="0.5", s=60,
                   label=f"CaloChallenge {ds.replace('_', ' ')}")
        for r in rows:
            if "L2LFlows" in r["name"]:
                ax.scatter([r["auc_low"]], [r["auc_high"]], marker=markers.get(ds, "o"), color="tab:cyan", s=90,
                           edgecolor="k")
                ax.annotate(f"{r['name']} ({ds})", (r["auc_low"], r["auc_high"]), fontsize=10,
                            xytext=(5, -12), textcoords="offset points")
    for name, mk in (("l2lflows", "*"), ("mlp", "P"), ("baseline", "X"), ("reference", "o")):
        if f"auc_low_{name}" not in metrics:
            continue
        ax.scatter([metrics[f"auc_low_{name}"]], [metrics[f"auc_high_{name}"]], marker=mk, s=320, color=COLORS[name],
                   edgecolor="k", zorder=5, label=f"this run: {LABELS[name]}")
    ax.plot([0.45, 1.02], [0.45, 1.02], color="k", lw=0.8, ls=":")
    ax.set_xlim(0.45, 1.02)
    ax.set_ylim(0.45, 1.02)
    ax.set_xlabel("classifier AUC, low-level (voxels)")
    ax.set_ylabel("classifier AUC, high-level features")
    # beside the panel: the published points fill the whole AUC plane
    ax.legend(fontsize=12, loc="upper left", bbox_to_anchor=(1.02, 1.0), title_fontsize=12,
              title="open: published CaloChallenge\nentries (arXiv:2410.21611),\ncyan: its L2LFlows entries;\n"
                    "other dataset sizes and\ngeometries: context only")
    ax.text(0.98, 0.02, f"{rlabel}\nL2LFlows: {metrics['generation_ms_per_shower_cpu']:.3f} ms CPU / shower",
            transform=ax.transAxes, ha="right", va="bottom", fontsize=12)
    plotting.label(ax, "", rlabel="")
    return plotting.save(fig, path)


# --------------------------------------------------------------------------- pipeline steps


def split_test(n: int) -> tuple[slice, slice]:
    """The test file's halves: A is the reference every sample is compared
    with, B gives the incident energies of the generated samples and the
    reference-vs-reference floor."""
    if n < 20:
        raise InputError(None, "showers", f"the test file needs at least 20 showers, got {n}")
    return slice(0, n // 2), slice(n // 2, n)


def train_step(train_path: str | Path, test_path: str | Path, geometry_path: str | Path, cfg: Config, seed: int,
               model_path: str | Path, generated_path: str | Path,
               summary_path: str | Path, ablation_path: str | Path | None = None) -> dict:
    """Train on the training file, save the model, generate showers for the
    incident energies of the test file's half B (CaloChallenge HDF5 layout),
    and write the training histories and generation timing (JSON). With
    ``ablation_path``: also the ablation's layer flows (MLP conditioners, the
    same energy flow) and its showers for the same incident energies."""
    from ...io import write_json

    geometry = calochallenge.read_geometry(geometry_path)
    layer_shape(geometry)
    inc, sh = calochallenge.read_showers(train_path, geometry)
    test_inc, _ = calochallenge.read_showers(test_path, geometry)
    n_train = min(len(inc), cfg.max_train) if cfg.max_train else len(inc)
    model, hist = train(inc[:n_train], sh[:n_train], geometry, cfg, seed)
    save(model, model_path)
    _, b = split_test(len(test_inc))
    gen, timing = generate(model, test_inc[b], geometry, cfg.threshold_mev, cfg.alpha,
                           cfg.generation_batch, seed=seed + 7)
    calochallenge.write_showers(generated_path, test_inc[b], gen, {"generator": "L2LFlows", "seed": seed})
    doc = {"n_train": n_train, "timing": timing, "history": hist}
    if ablation_path is not None:
        mlp, h_mlp = train(inc[:n_train], sh[:n_train], geometry, cfg, seed, conditioner="mlp", energy_from=model)
        gen_mlp, t_mlp = generate(mlp, test_inc[b], geometry, cfg.threshold_mev, cfg.alpha, cfg.generation_batch,
                                  seed=seed + 7)
        calochallenge.write_showers(ablation_path, test_inc[b], gen_mlp,
                                    {"generator": "L2LFlows, MLP-conditioner layer flows (ablation)", "seed": seed})
        doc["ablation"] = {"history": h_mlp, "timing": t_mlp,
                           "parameters_per_layer_flow": {
                               "conv": sum(q.numel() for q in model.layers[-1].parameters()),
                               "mlp": sum(q.numel() for q in mlp.layers[-1].parameters())}}
    write_json(summary_path, doc)
    return doc


def report_step(train_path: str | Path, test_path: str | Path, geometry_path: str | Path, generated_path: str | Path,
                summary_path: str | Path, cfg: Config, seed: int, outdir: str | Path,
                tables: Iterable[str | Path] = (), tier: str = "default",
                ablation_path: str | Path | None = None) -> dict:
    """Baseline, CaloChallenge-style evaluation and figures; returns the
    metrics (the step writes metrics.json, the study's verdict judges them)."""
    from ...io import read_json

    outdir = Path(outdir)
    geometry = calochallenge.read_geometry(geometry_path)
    tr_inc, tr_sh = calochallenge.read_showers(train_path, geometry)
    te_inc, te_sh = calochallenge.read_showers(test_path, geometry)
    g_inc, g_sh = calochallenge.read_showers(generated_path, geometry)
    summary = read_json(summary_path)
    for key in ("n_train", "timing"):
        if key not in summary:
            raise InputError(summary_path, key, "field missing")
    a, b = split_test(len(te_inc))
    if len(g_inc) != b.stop - b.start or not np.allclose(g_inc, te_inc[b], rtol=1e-5):
        raise InputError(generated_path, "incident_energies", "not the incident energies of the test file's half B")
    base = independent_voxels(tr_inc, tr_sh, te_inc[b], cfg.baseline_energy_bins, seed + 11)
    samples = {"reference": (te_inc[a], te_sh[a]), "l2lflows": (g_inc, g_sh), "baseline": (te_inc[b], base)}
    if ablation_path is not None:
        m_inc, m_sh = calochallenge.read_showers(ablation_path, geometry)
        if len(m_inc) != len(g_inc) or not np.allclose(m_inc, g_inc, rtol=1e-5):
            raise InputError(ablation_path, "incident_energies", "not the incident energies of the test file's half B")
        samples["mlp"] = (m_inc, m_sh)
    others = {k: v for k, v in samples.items() if k != "reference"}
    ev = evaluate(samples["reference"], {**others, "reference": (te_inc[b], te_sh[b])}, geometry, cfg, seed)
    metrics = summarise(ev, summary["timing"], cfg, summary["n_train"], len(te_inc))
    metrics["shape_w1"] = shape_comparison(samples["reference"], {**others, "reference": (te_inc[b], te_sh[b])},
                                           geometry, seed)
    if "ablation" in summary:
        metrics["ablation"] = {k: summary["ablation"][k] for k in ("timing", "parameters_per_layer_flow")}
    tables = list(tables)
    ref_tables = reference_tables(tables) if tables else published.tables()
    metrics["calochallenge_published"] = ref_tables
    metrics["calochallenge_published_source"] = (
        "reference_results: " + ", ".join(Path(t).name for t in tables) if tables
        else "the copy carried in colliderflow.studies.l2lflows.published (CaloChallenge final_results tables)")
    metrics["calochallenge_note"] = ("published CaloChallenge results (arXiv:2410.21611) are for datasets 1-3 with "
                                     "GEANT4 showers, 368-40500 voxels and 100k+ training showers: a different "
                                     "dataset size/geometry, shown as context only")
    rl = f"{tier} tier, {summary['n_train']} training showers, {geometry.n_voxels} voxels"
    plot_layer_energies(samples, geometry, outdir / "layer_energies.png", rlabel=rl)
    plot_shower_shapes(samples, geometry, outdir / "shower_shapes.png", rlabel=rl)
    plot_auc(metrics, ref_tables, outdir / "auc.png", rlabel=rl)
    return {**metrics, "config": plain(cfg)}
