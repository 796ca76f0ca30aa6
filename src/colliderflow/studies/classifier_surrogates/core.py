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
    hide disagreement between members). It includes the Monte Carlo noise of
    an ``n_samples`` mean: identical members have a spread too (see
    :func:`spread_components`)."""
    return samples.mean(-1).std(0)


def spread_components(samples: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Per jet: the between-member variance of the member means (ddof 1) and
    its Monte Carlo noise floor, the within-member variance of the samples
    divided by ``n_samples`` (averaged over members). For identical members
    (same vector field, different sampling seeds) both have the same
    expectation: only ``between - noise`` measures the members' disagreement."""
    s = np.asarray(samples, dtype=float)
    n = s.shape[-1]
    if n < 2 or s.shape[0] < 2:
        raise ValueError("the noise floor needs >= 2 members and >= 2 samples per jet")
    between = s.mean(-1).var(0, ddof=1)
    noise = s.var(-1, ddof=1).mean(0) / n
    return between, noise


def excess_over_noise(between: ArrayLike, noise: ArrayLike) -> float:
    """Between-member variance over the Monte Carlo noise floor, minus one
    (0 for identical members, in expectation)."""
    return float(np.mean(between) / np.mean(noise) - 1.0)


def epistemic_std(between: ArrayLike, noise: ArrayLike) -> float:
    """The members' disagreement with the noise floor subtracted: sqrt(max(<between> - <noise>, 0))."""
    return float(np.sqrt(max(np.mean(between) - np.mean(noise), 0.0)))


def coverage(samples: ArrayLike, truth: ArrayLike, levels: ArrayLike, per_jet: bool = False) -> np.ndarray:
    """Fraction of jets whose true logit falls inside the central ``level``
    interval of the pooled surrogate samples (``per_jet``: the 0/1 indicator
    per level and jet, shape (levels, jets))."""
    pooled = samples.transpose(1, 0, 2).reshape(samples.shape[1], -1)
    inside = []
    for lv in levels:
        lo, hi = np.percentile(pooled, [50 * (1 - lv), 50 * (1 + lv)], axis=1)
        inside.append((truth >= lo) & (truth <= hi))
    inside = np.array(inside, dtype=float)
    return inside if per_jet else inside.mean(1)


def self_coverage(samples: ArrayLike, levels: ArrayLike, per_jet: bool = False) -> np.ndarray:
    """The calibration noise floor: the coverage of one held-out surrogate
    sample per jet (the last sample of member ``jet % members``, a draw from
    the ensemble's mixture) by the intervals of the other samples
    (``samples[..., :-1]``). Calibrated by construction, it carries only the
    finite-sample effects of the intervals and the binomial noise of the test
    set; the true output's coverage by the same intervals is compared with it."""
    k, j = samples.shape[0], samples.shape[1]
    held = samples[np.arange(j) % k, np.arange(j), -1]
    return coverage(samples[..., :-1], held, levels, per_jet=per_jet)


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
    res = evaluate(members, hl[i_test], y[i_test], logit[i_test], cfg, seed)
    res["n"] = {"classifier": len(i_clf), "surrogate": len(i_sur), "test": len(i_test)}
    return res


def evaluate(members: list[StandardizedFlow], hl: ArrayLike, labels: ArrayLike, logit: ArrayLike, cfg: dict,
             seed: int) -> dict:
    """Sample the surrogate ensemble on the test jets (high-level features
    ``hl``, true classifier ``logit``) and out of distribution: mass and girth
    scaled by each of ``cfg["ood_scales"]``, beyond the training domain."""
    s_test = sample_surrogates(members, hl, cfg["n_samples"], seed + 2)
    ood = {}
    for lam in cfg["ood_scales"]:
        h = np.array(hl, copy=True)
        h[:, 1] *= lam
        h[:, 3] *= lam
        ood[float(lam)] = sample_surrogates(members, h, cfg["n_samples"], seed + 3)
    return {"labels": np.asarray(labels), "logit_true": np.asarray(logit), "samples": s_test, "ood": ood,
            "n": {"test": len(labels)}}


def _boot(n_jets: int, n: int, seed: int) -> np.ndarray:
    """Bootstrap row indices (n, n_jets), shared by every statistic so that differences are paired."""
    return np.random.default_rng(seed).integers(0, n_jets, (n, n_jets))


def summarise(res: dict, cfg: dict, n_boot: int = 200, seed: int = 0) -> dict:
    """The metrics of the claims (judged by :func:`colliderflow.studies.classifier_surrogates.verdict`),
    each with a paired bootstrap error over the test jets:

    * AUC: the surrogate's ROC AUC (one sampled output per jet, averaged over
      members) minus the true classifier's;
    * calibration: the coverage of the true output by the surrogate's central
      intervals minus the coverage of a held-out surrogate sample by the same
      intervals (:func:`self_coverage`, the noise floor), mean |.| over the levels;
    * OOD: the between-member variance of the members' mean logit over its
      Monte Carlo noise floor (:func:`spread_components`) at the largest OOD
      scale, and the noise-subtracted spread there minus in distribution.
    """
    y, s_true, samp = res["labels"], res["logit_true"], res["samples"]
    n_jets = len(y)
    idx = _boot(n_jets, n_boot, seed)
    first = samp[:, :, 0]

    def auc_diff(rows: np.ndarray) -> float:
        return float(np.mean([roc_auc_score(y[rows], first[k, rows]) for k in range(len(samp))])
                     - roc_auc_score(y[rows], s_true[rows]))

    auc_true = float(roc_auc_score(y, s_true))
    auc_members = [float(roc_auc_score(y, first[k])) for k in range(len(samp))]
    auc_sur = float(np.mean(auc_members))
    auc_boot = [auc_diff(r) for r in idx if len(np.unique(y[r])) == 2]
    levels = np.array(cfg["coverage_levels"])
    inside = coverage(samp[..., :-1], s_true, levels, per_jet=True)        # (levels, jets)
    inside_ref = self_coverage(samp, levels, per_jet=True)
    cov, cov_ref = inside.mean(1), inside_ref.mean(1)

    def cal_dev(rows: np.ndarray) -> float:
        return float(np.mean(np.abs(inside[:, rows].mean(1) - inside_ref[:, rows].mean(1))))

    scales = sorted(res["ood"])
    lam_ood = scales[-1]
    comp = {lam: spread_components(res["ood"][lam]) for lam in scales}
    b_id, n_id = spread_components(samp)           # the test jets as they are
    b_ood, n_ood = comp[lam_ood]

    def excess(rows: np.ndarray) -> float:
        return excess_over_noise(b_ood[rows], n_ood[rows])

    def growth(rows: np.ndarray) -> float:
        return epistemic_std(b_ood[rows], n_ood[rows]) - epistemic_std(b_id[rows], n_id[rows])

    spread = {lam: float(np.mean(ensemble_spread(res["ood"][lam]))) for lam in scales}
    spread_id = float(np.mean(ensemble_spread(samp)))
    metrics = {"auc_true_classifier": auc_true, "auc_surrogate": auc_sur, "auc_surrogate_members": auc_members,
               "auc_difference": auc_sur - auc_true, "auc_difference_error": float(np.std(auc_boot, ddof=1)),
               "auc_tolerance": cfg["auc_tolerance"],
               "coverage_levels": levels.tolist(), "coverage": cov.tolist(), "coverage_noise_floor": cov_ref.tolist(),
               "coverage_max_deviation": float(np.max(np.abs(cov - levels))),
               "calibration_deviation": cal_dev(np.arange(n_jets)),
               "calibration_deviation_error": float(np.std([cal_dev(r) for r in idx], ddof=1)),
               "calibration_tolerance": cfg["calibration_tolerance"],
               "spread_in_distribution": spread_id, "epistemic_spread_in_distribution": epistemic_std(b_id, n_id),
               "ood_scales": scales,
               "spread_ood": [spread[s] for s in scales], "spread_ratio_ood": spread[lam_ood] / spread_id,
               "noise_floor_ood": [float(np.sqrt(np.mean(comp[s][1]))) for s in scales],
               "epistemic_spread_ood": [epistemic_std(*comp[s]) for s in scales],
               "excess_over_noise_ood": [excess_over_noise(*comp[s]) for s in scales],
               "excess_over_noise_largest_ood": excess(np.arange(n_jets)),
               "excess_over_noise_largest_ood_error": float(np.std([excess(r) for r in idx], ddof=1)),
               "epistemic_growth": growth(np.arange(n_jets)),
               "epistemic_growth_error": float(np.std([growth(r) for r in idx], ddof=1)),
               "excess_margin": cfg["excess_margin"],
               "n_bootstrap": n_boot, "ensemble": len(samp), "n_samples": int(samp.shape[-1]), "n_jets": res["n"]}
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
    ax.plot(levels, coverage(samp[..., :-1], s_true, levels), "o-", color="tab:green", label="surrogate ensemble")
    ax.plot(levels, self_coverage(samp, levels), "x:", color="0.4", label="noise floor (held-out sample)")
    ax.set_xlabel("nominal central-interval probability")
    ax.set_ylabel("observed coverage of the true output")
    ax.legend(fontsize=13)
    ax = axes[3]
    scales = sorted(res["ood"])
    ax.plot(scales, [np.mean(ensemble_spread(res["ood"][s])) for s in scales], "o-", color="tab:purple",
            label="ensemble spread (mean over jets)")
    ax.plot(scales, [np.sqrt(np.mean(spread_components(res["ood"][s])[1])) for s in scales], "s--", color="0.4",
            label=f"Monte Carlo noise of a {samp.shape[-1]}-sample mean")
    ax.plot(scales, [epistemic_std(*spread_components(res["ood"][s])) for s in scales], "^-", color="tab:cyan",
            label="spread above the noise floor")
    ax.axvline(1.0, color="k", ls=":", label=r"training domain ($\lambda=1$)")
    ax.set_xlabel(r"scale $\lambda$ of mass, girth")
    ax.set_ylabel(r"spread of the members' mean logit")
    ax.legend(fontsize=13)
    return plotting.save(fig, path)


def rlabel(metrics: dict) -> str:
    return f"{metrics['n_jets']['test']} test jets"
