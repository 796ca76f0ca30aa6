"""Maximum-likelihood calibration with a conditional flow (Du, Krause, Mikuni,
Nachman, Pang, Shih), in miniature.

A conditional flow learns p(log layer energies | log E) on the toy layered
calorimeter (colliderflow.data.calorimeter_toy). The energy estimate is the
maximum of that likelihood over E (a dense scan in log E refined by a parabola),
which does not depend on the prior p(E) of the training sample. A direct
regression network (MSE on log E) instead estimates the posterior mean
E[log E | x], which is pulled towards where the training prior puts its mass. Both are
trained under two priors (uniform in E and a falling E^-2 spectrum) and
evaluated at fixed true energies.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from numpy.typing import ArrayLike

from ...data import calorimeter_toy
from ...nn.flow_fit import train_flow
from ...nn.train import TrainConfig, fit


def features(showers: ArrayLike) -> np.ndarray:
    """Flow / regression inputs: log layer energies (GeV)."""
    return np.log(np.asarray(showers, dtype=float)).astype(np.float32)


class Regressor(torch.nn.Module):
    """MLP from standardised log layer energies to log E (GeV), MSE-trained;
    ``forward`` returns E."""

    def __init__(self, n_in: int, hidden: Sequence[int] = (64, 64), x_mean: ArrayLike | None = None,
                 x_std: ArrayLike | None = None, y_mean: float = 0.0, y_std: float = 1.0) -> None:
        super().__init__()
        layers, d = [], n_in
        for h in hidden:
            layers += [torch.nn.Linear(d, h), torch.nn.SiLU()]
            d = h
        layers.append(torch.nn.Linear(d, 1))
        self.net = torch.nn.Sequential(*layers)
        self.register_buffer("x_mean", torch.as_tensor(x_mean, dtype=torch.float32))
        self.register_buffer("x_std", torch.as_tensor(x_std, dtype=torch.float32))
        self.y_mean, self.y_std = y_mean, y_std

    def log_energy(self, x: ArrayLike) -> torch.Tensor:
        return self.net((x - self.x_mean) / self.x_std)[:, 0] * self.y_std + self.y_mean

    def forward(self, x: ArrayLike) -> torch.Tensor:
        return torch.exp(self.log_energy(x))


def train_regressor(x: ArrayLike, e: ArrayLike, hidden: Sequence[int], epochs: int, seed: int) -> Regressor:
    x = torch.as_tensor(x)
    le = torch.log(torch.as_tensor(e, dtype=torch.float32))
    torch.manual_seed(seed)
    model = Regressor(x.shape[1], hidden, x.mean(0), x.std(0).clamp_min(1e-6), float(le.mean()), float(le.std()))
    fit(model, lambda m, b: torch.mean(((m.log_energy(b[0]) - b[1]) / m.y_std) ** 2), [x, le],
        TrainConfig(epochs=epochs, batch_size=256, lr=2e-3, seed=seed, patience=8, desc="regression"))
    return model


def mle_energy(flow: torch.nn.Module, x: ArrayLike, e_min: float, e_max: float, n_grid: int = 160,
               chunk: int = 256) -> np.ndarray:
    """argmax_E log p(x | log E) by a scan over log E in [e_min, e_max] with a
    three-point parabolic refinement around the maximum."""
    x = torch.as_tensor(x)
    grid = torch.linspace(np.log(e_min), np.log(e_max), n_grid)
    out = []
    with torch.no_grad():
        for i in range(0, len(x), chunk):
            xb = x[i:i + chunk]
            n = len(xb)
            lp = flow.log_prob(xb.repeat_interleave(n_grid, 0), grid.repeat(n)[:, None]).reshape(n, n_grid)
            k = lp.argmax(1).clamp(1, n_grid - 2)
            y0, y1, y2 = (lp.gather(1, (k + o)[:, None])[:, 0] for o in (-1, 0, 1))
            denom = y0 - 2 * y1 + y2
            shift = torch.where(denom < 0, 0.5 * (y0 - y2) / denom, torch.zeros_like(denom)).clamp(-1, 1)
            out.append(torch.exp(grid[k] + shift * (grid[1] - grid[0])))
    return torch.cat(out).numpy()


def response(e_true: ArrayLike, e_hat: ArrayLike, energies: ArrayLike) -> dict:
    """Bias (median of E_hat/E - 1) and resolution (half the 16-84 % range of
    E_hat/E) at each test energy."""
    r = e_hat / e_true
    bias, res = [], []
    for e in energies:
        ri = r[np.isclose(e_true, e)]
        q16, q50, q84 = np.percentile(ri, [16, 50, 84])
        bias.append(q50 - 1.0)
        res.append((q84 - q16) / 2)
    return {"bias": np.array(bias), "resolution": np.array(res)}


def check_config(cfg: dict) -> None:
    """Config values the schema cannot express (across keys) -> InputError naming the key."""
    from ...errors import InputError

    if len(set(cfg["priors"])) != 2:
        raise InputError("config", "studies.mle_calibration.priors",
                         f"need two different priors, got {cfg['priors']}")
    if cfg["mismatched_prior"] not in cfg["priors"]:
        raise InputError("config", "studies.mle_calibration.mismatched_prior",
                         f"'{cfg['mismatched_prior']}' is not one of {cfg['priors']}")
    if not cfg["e_min"] <= cfg["test_e_min"] < cfg["test_e_max"] <= cfg["e_max"]:
        raise InputError("config", "studies.mle_calibration.test_e_min",
                         "need e_min <= test_e_min < test_e_max <= e_max")


def run(cfg: dict, seed: int) -> dict:
    check_config(cfg)
    cal = dict(n_layers=cfg["n_layers"], sampling=cfg["sampling"])
    e_min, e_max = cfg["e_min"], cfg["e_max"]
    test_e = np.geomspace(cfg["test_e_min"], cfg["test_e_max"], cfg["test_energies"])
    e_test = np.repeat(test_e, cfg["n_test_per_energy"])
    x_test = features(calorimeter_toy.generate(e_test, seed=seed + 100, **cal))
    out = {"test_energies": test_e, "priors": {}}
    for i, prior in enumerate(cfg["priors"]):
        e_tr = calorimeter_toy.sample_prior(cfg["n_train"], prior, e_min, e_max, seed=seed + 10 * i)
        x_tr = features(calorimeter_toy.generate(e_tr, seed=seed + 10 * i + 1, **cal))
        flow, hist = train_flow(x_tr, np.log(e_tr), kind="nsf", transforms=cfg["transforms"], hidden=cfg["hidden"],
                                epochs=cfg["epochs"], seed=seed + i, desc=f"flow {prior}")
        reg = train_regressor(x_tr, e_tr, cfg["hidden"], cfg["epochs"], seed + i)
        with torch.no_grad():
            e_reg = reg(torch.as_tensor(x_test)).numpy()
        e_mle = mle_energy(flow, x_test, e_min, e_max)
        out["priors"][prior] = {"mle": response(e_test, e_mle, test_e), "regression": response(e_test, e_reg, test_e),
                                "flow_val_nll": hist["best_val"], "train_energies": e_tr}
    return out


def summarise(res: dict, cfg: dict) -> dict:
    """The metrics of the claim (judged by :func:`colliderflow.studies.mle_calibration.verdict`):
    under the mismatched (falling) prior the MLE's mean |bias| over the test
    energies is smaller than the regression's, and the MLE's bias changes less
    between the two priors than the regression's does."""
    pri = cfg["priors"]
    metrics = {"test_energies": res["test_energies"].tolist(), "mismatched_prior": cfg["mismatched_prior"]}
    for p in pri:
        for method in ("mle", "regression"):
            r = res["priors"][p][method]
            metrics[f"{method}_{p}_bias"] = r["bias"].tolist()
            metrics[f"{method}_{p}_resolution"] = r["resolution"].tolist()
            metrics[f"{method}_{p}_mean_abs_bias"] = float(np.mean(np.abs(r["bias"])))
    mm = cfg["mismatched_prior"]
    other = [p for p in pri if p != mm][0]
    shift = {m: float(np.mean(np.abs(res["priors"][mm][m]["bias"] - res["priors"][other][m]["bias"])))
             for m in ("mle", "regression")}
    metrics["mle_prior_shift"] = shift["mle"]
    metrics["regression_prior_shift"] = shift["regression"]
    return metrics


def plot(res: dict, cfg: dict, path: str | Path, rlabel: str = "") -> list:
    from ... import plotting

    plotting.style()
    import matplotlib.pyplot as plt

    e = res["test_energies"]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 12), sharex=True, gridspec_kw={"hspace": 0.05})
    styles = {"mle": ("tab:blue", "o", "flow MLE"), "regression": ("tab:red", "s", "regression")}
    for j, p in enumerate(cfg["priors"]):
        ls = "-" if j == 0 else "--"
        for m, (col, mk, name) in styles.items():
            r = res["priors"][p][m]
            ax1.plot(e, 100 * r["bias"], ls, color=col, marker=mk, mfc=col if j == 0 else "none",
                     label=f"{name}, {p} prior")
            ax2.plot(e, 100 * r["resolution"], ls, color=col, marker=mk, mfc=col if j == 0 else "none")
    ax1.axhline(0, color="k", lw=1)
    ax1.set_ylabel(r"bias of $E_{\rm reco}/E_{\rm true}$ [%]")
    ax2.set_ylabel(r"resolution of $E_{\rm reco}/E_{\rm true}$ [%]")
    ax2.set_xlabel(r"$E_{\rm true}$ [GeV]")
    ax2.set_xscale("log")
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax2.xaxis.set_major_formatter(ScalarFormatter())
    ax2.xaxis.set_minor_formatter(NullFormatter())
    ax2.set_xticks([2, 5, 10, 20, 50])
    ax1.legend(fontsize=14, ncol=2)
    plotting.label(ax1, "", rlabel=rlabel)
    return plotting.save(fig, path)

