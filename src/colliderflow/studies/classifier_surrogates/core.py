"""Classifier surrogates with conditional flow matching (arXiv:2402.15558), in
miniature.

1. A Deep Sets top-vs-QCD classifier is trained on constituent-level inputs
   (ParT layout: the TopLandscape excerpt in the real tier, the toy otherwise).
2. A surrogate learns the distribution of the classifier's output (its logit)
   given only public high-level jet features (pT, mass, multiplicity, girth):
   zuko's continuous normalizing flow (``zuko.flows.CNF`` through
   :class:`StandardizedFlow`, kind "cnf") whose vector field is trained with the
   conditional flow-matching loss (straight paths data -> noise, Lipman et al.);
   zuko has no flow-matching loss, so that loss is written here, while the
   ODE sampling is zuko's.
3. An ensemble of surrogates (different seeds, bootstrap resamples) gives the
   uncertainty; it should grow for high-level features outside the training
   domain.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.metrics import roc_auc_score, roc_curve

from ...data import part_jets as jc
from ...errors import InputError
from ...nn.flows import StandardizedFlow
from ...nn.train import TrainConfig, fit

HIGH_LEVEL = ("log_pt", "mass", "n_constituents", "girth")


class DeepSets(torch.nn.Module):
    """Per-particle MLP, masked sum, jet MLP -> one logit."""

    def __init__(self, n_in: int = 4, hidden: int = 64, mean: ArrayLike | None = None,
                 std: ArrayLike | None = None) -> None:
        super().__init__()
        self.phi = torch.nn.Sequential(torch.nn.Linear(n_in, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden),
                                       torch.nn.ReLU())
        self.rho = torch.nn.Sequential(torch.nn.Linear(hidden, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
        self.register_buffer("mean", torch.zeros(n_in) if mean is None else torch.as_tensor(mean))
        self.register_buffer("std", torch.ones(n_in) if std is None else torch.as_tensor(std))

    def forward(self, x: ArrayLike, mask: ArrayLike) -> torch.Tensor:
        h = self.phi((x - self.mean) / self.std) * mask[..., None]
        return self.rho(h.sum(1) / 30.0)[:, 0]


def high_level(arrays: dict) -> np.ndarray:
    f = jc.jet_features(arrays)
    return np.stack([np.log(f["pt"]), f["mass"], f["n_constituents"], f["girth"]], axis=1).astype(np.float32)


def train_classifier(x: ArrayLike, mask: ArrayLike, y: ArrayLike, cfg: dict, seed: int) -> DeepSets:
    x, mask = torch.as_tensor(x), torch.as_tensor(mask)
    y = torch.as_tensor(y, dtype=torch.float32)
    real = mask.bool()
    torch.manual_seed(seed)
    model = DeepSets(x.shape[-1], cfg["classifier_hidden"], x[real].mean(0), x[real].std(0).clamp_min(1e-6))
    bce = torch.nn.BCEWithLogitsLoss()
    fit(model, lambda m, b: bce(m(b[0], b[1]), b[2]), [x, mask, y],
        TrainConfig(epochs=cfg["classifier_epochs"], batch_size=128, lr=2e-3, seed=seed, patience=6,
                    desc="deep sets"))
    return model


def fm_loss(model: StandardizedFlow, batch: list[torch.Tensor]) -> torch.Tensor:
    """Conditional flow matching on zuko's CNF vector field: x_t = (1-t) x + t e,
    target velocity e - x (zuko integrates data at t=0 to noise at t=1)."""
    y, c = batch
    x = (y - model.x_mean) / model.x_std
    c = (c - model.c_mean) / model.c_std
    t = torch.rand(len(x))
    e = torch.randn_like(x)
    xt = (1 - t[:, None]) * x + t[:, None] * e
    v = model.flow.transform.f(t, xt, c)
    return torch.mean((v - (e - x)) ** 2)


def train_surrogates(logit: ArrayLike, hl: ArrayLike, cfg: dict, seed: int) -> list[StandardizedFlow]:
    """An ensemble of CNF surrogates p(logit | high-level), each on a bootstrap
    resample with its own seed."""
    y = torch.as_tensor(logit, dtype=torch.float32)[:, None]
    c = torch.as_tensor(hl)
    members = []
    for k in range(cfg["ensemble"]):
        g = np.random.default_rng(seed + k)
        idx = torch.as_tensor(g.integers(0, len(y), len(y)))
        torch.manual_seed(seed + k)
        model = StandardizedFlow.fitted_to(y, c, kind="cnf", hidden=tuple(cfg["surrogate_hidden"]))
        fit(model, fm_loss, [y[idx], c[idx]],
            TrainConfig(epochs=cfg["surrogate_epochs"], batch_size=256, lr=2e-3, seed=seed + k,
                        patience=cfg["surrogate_epochs"], desc=f"flow matching {k}"))
        members.append(model.eval())
    return members


def sample_surrogates(members: list[StandardizedFlow], hl: ArrayLike, n_samples: int, seed: int) -> np.ndarray:
    """Samples of the classifier logit, shape (members, jets, n_samples)."""
    c = torch.as_tensor(hl).repeat_interleave(n_samples, 0)
    out = []
    with torch.no_grad():
        for k, m in enumerate(members):
            torch.manual_seed(seed + k)
            out.append(m.sample(c=c)[:, 0].reshape(len(hl), n_samples).numpy())
    return np.stack(out)


def sigmoid(x: ArrayLike) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def ensemble_spread(samples: ArrayLike) -> np.ndarray:
    """Per-jet std over members of the mean sampled logit (the logit, not the
    sigmoid output, so that saturation far from the training domain does not
    hide disagreement between members)."""
    return samples.mean(-1).std(0)


def coverage(samples: ArrayLike, truth: ArrayLike, levels: ArrayLike) -> np.ndarray:
    """Fraction of jets whose true logit falls inside the central ``level``
    interval of the pooled surrogate samples."""
    pooled = samples.transpose(1, 0, 2).reshape(samples.shape[1], -1)
    cov = []
    for lv in levels:
        lo, hi = np.percentile(pooled, [50 * (1 - lv), 50 * (1 + lv)], axis=1)
        cov.append(np.mean((truth >= lo) & (truth <= hi)))
    return np.array(cov)


def split(n: int, fractions: ArrayLike, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    a = int(fractions[0] * n)
    b = a + int(fractions[1] * n)
    return perm[:a], perm[a:b], perm[b:]


def run(arrays: dict, cfg: dict, seed: int) -> dict:
    y = arrays["labels"]
    if len(np.unique(y)) != 2:
        raise InputError(None, "labels", "need both classes (0 = QCD, 1 = top)")
    xp, mask = jc.particle_features(arrays)
    hl = high_level(arrays)
    i_clf, i_sur, i_test = split(len(y), cfg["split"], seed)
    clf = train_classifier(xp[i_clf], mask[i_clf], y[i_clf], cfg, seed)
    with torch.no_grad():
        logit = clf(torch.as_tensor(xp), torch.as_tensor(mask)).numpy()
    members = train_surrogates(logit[i_sur], hl[i_sur], cfg, seed + 1)
    s_test = sample_surrogates(members, hl[i_test], cfg["n_samples"], seed + 2)
    # out-of-distribution: scale mass and girth of the test jets beyond the training domain
    ood = {}
    for lam in cfg["ood_scales"]:
        h = hl[i_test].copy()
        h[:, 1] *= lam
        h[:, 3] *= lam
        ood[float(lam)] = ensemble_spread(sample_surrogates(members, h, cfg["n_samples"], seed + 3))
    return {"labels": y[i_test], "logit_true": logit[i_test], "samples": s_test, "ood": ood,
            "n": {"classifier": len(i_clf), "surrogate": len(i_sur), "test": len(i_test)}}


def summarise(res: dict, cfg: dict) -> dict:
    """The metrics of the claims (judged by :func:`colliderflow.studies.classifier_surrogates.verdict`):
    the surrogate's ROC AUC (one sampled output per jet, averaged over members)
    is within ``auc_tolerance`` of the true classifier's, and the ensemble spread
    at the largest OOD scale exceeds the in-distribution one."""
    y, s_true, samp = res["labels"], res["logit_true"], res["samples"]
    auc_true = float(roc_auc_score(y, s_true))
    auc_members = [float(roc_auc_score(y, samp[k, :, 0])) for k in range(len(samp))]
    auc_sur = float(np.mean(auc_members))
    levels = np.array(cfg["coverage_levels"])
    cov = coverage(samp, s_true, levels)
    scales = sorted(res["ood"])
    spread = {lam: float(np.mean(res["ood"][lam])) for lam in scales}
    spread_id = float(np.mean(ensemble_spread(samp)))
    metrics = {"auc_true_classifier": auc_true, "auc_surrogate": auc_sur, "auc_surrogate_members": auc_members,
               "auc_difference": auc_sur - auc_true, "auc_tolerance": cfg["auc_tolerance"],
               "coverage_levels": levels.tolist(), "coverage": cov.tolist(),
               "coverage_max_deviation": float(np.max(np.abs(cov - levels))),
               "spread_in_distribution": spread_id, "ood_scales": scales,
               "spread_ood": [spread[s] for s in scales], "spread_ratio_ood": spread[scales[-1]] / spread_id,
               "ensemble": len(samp), "n_jets": res["n"]}
    return metrics


def plot(res: dict, cfg: dict, path: str | Path, rlabel: str = "") -> list:
    from ... import plotting

    plotting.style()
    import matplotlib.pyplot as plt

    y, s_true, samp = res["labels"], res["logit_true"], res["samples"]
    fig, axes = plt.subplots(1, 4, figsize=(34, 8), gridspec_kw={"wspace": 0.3})
    ax = axes[0]
    bins = np.linspace(0, 1, 26)
    for cls, col, name in ((0, "tab:blue", "QCD"), (1, "tab:red", "top")):
        ax.hist(sigmoid(s_true[y == cls]), bins, density=True, histtype="stepfilled", alpha=0.3, color=col,
                label=f"{name}: classifier")
        ax.hist(sigmoid(samp[:, y == cls].ravel()), bins, density=True, histtype="step", lw=2, color=col,
                label=f"{name}: surrogate")
    ax.set_xlabel("classifier output")
    ax.set_ylabel("normalised jets")
    ax.legend(fontsize=13, title=rlabel, title_fontsize=13)
    plotting.label(ax, "")
    ax = axes[1]
    fpr, tpr, _ = roc_curve(y, s_true)
    ax.plot(tpr, fpr, "k-", lw=2, label=f"classifier (AUC {roc_auc_score(y, s_true):.3f})")
    for k in range(len(samp)):
        fpr, tpr, _ = roc_curve(y, samp[k, :, 0])
        mean_auc = np.mean([roc_auc_score(y, samp[j, :, 0]) for j in range(len(samp))])
        ax.plot(tpr, fpr, "-", color="tab:orange", alpha=0.6,
                label=f"surrogate members (AUC {mean_auc:.3f})" if k == 0 else None)
    ax.set_yscale("log")
    ax.set_xlabel(r"signal efficiency $\epsilon_{top}$")
    ax.set_ylabel(r"background efficiency $\epsilon_{QCD}$")
    ax.legend(fontsize=13)
    ax = axes[2]
    levels = np.array(cfg["coverage_levels"])
    ax.plot([0, 1], [0, 1], "k--", label="perfect calibration")
    ax.plot(levels, coverage(samp, s_true, levels), "o-", color="tab:green", label="surrogate ensemble")
    ax.set_xlabel("nominal central-interval probability")
    ax.set_ylabel("observed coverage of the true output")
    ax.legend(fontsize=13)
    ax = axes[3]
    scales = sorted(res["ood"])
    ax.plot(scales, [np.mean(res["ood"][s]) for s in scales], "o-", color="tab:purple",
            label="ensemble spread (mean over jets)")
    ax.axvline(1.0, color="k", ls=":", label=r"training domain ($\lambda=1$)")
    ax.set_xlabel(r"scale $\lambda$ of mass, girth")
    ax.set_ylabel(r"std$_{\rm members}$ of mean logit")
    ax.legend(fontsize=13)
    return plotting.save(fig, path)


def rlabel(metrics: dict) -> str:
    return f"{metrics['n_jets']['test']} test jets"
