"""A unified latent space of SM and BSM models (arXiv:2407.20315).

Events of several toy models (SM ttbar, W+jets, QCD; BSM Z'->tt and
X->YY->4j variants, two of which are identical at detector level by
construction) are embedded by the shared :class:`SetEncoder` + projection,
trained with a supervised contrastive loss (events of the same model
attract). A model is represented by sets of events (mean latent of ``k``
events). Metrics: k-means clustering purity of the set embeddings (the
indistinguishable pair counted as one model), the overlap of the
indistinguishable pair (latent-space classifier AUC near 0.5) versus the
separation of distinct models, and the rank correlation between the latent
distance of two models and the AUC of a dedicated pairwise classifier.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from torch import nn

from ...eventclass.common import auc, engineered, split_indices, train_xgb
from ...eventclass.encoder import ContrastiveModel, build_encoder, load_table, objects, save_encoder, supcon
from ...nn.train import TrainConfig, fit


def _embed(model: ContrastiveModel, raw: torch.Tensor, mask: torch.Tensor, batch: int = 4096) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        z = [torch.nn.functional.normalize(model(raw[i:i + batch], mask[i:i + batch]), dim=1)
             for i in range(0, len(raw), batch)]
    return torch.cat(z).numpy()


def set_embeddings(z: np.ndarray, labels: np.ndarray, k: int, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Mean latent of disjoint random sets of ``k`` events of each model."""
    zs, ls = [], []
    for lab in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == lab))
        n = len(idx) // k
        if n:
            zs.append(z[idx[:n * k]].reshape(n, k, -1).mean(1))
            ls.append(np.full(n, lab))
    return np.concatenate(zs), np.concatenate(ls)


def purity(clusters: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of items whose cluster's majority label is their label."""
    total = 0
    for c in np.unique(clusters):
        total += np.bincount(labels[clusters == c]).max()
    return total / len(labels)


def _latent_auc(za: np.ndarray, zb: np.ndarray, seed: int) -> float:
    """Held-out AUC of a logistic regression separating two models in latent space."""
    x = np.concatenate([za, zb])
    y = np.r_[np.zeros(len(za)), np.ones(len(zb))]
    idx = np.random.default_rng(seed).permutation(len(y))
    half = len(y) // 2
    clf = LogisticRegression(max_iter=500).fit(x[idx[:half]], y[idx[:half]])
    return auc(y[idx[half:]], clf.predict_proba(x[idx[half:]])[:, 1])


def run(files: dict, indistinguishable: list, hp: dict, proj_dim: int, cfg: TrainConfig, n_train: int, n_eval: int,
        set_size: int, temperature: float, n_events: int | None = None, bdt_trees: int = 100,
        model_out: str | Path | None=None) -> dict:
    """Train the latent space and compute every metric of the study."""
    models = list(files)
    tables = {p: load_table(files[p], n_events) for p in models}
    raws, masks, labels, eval_parts, pair_eval = [], [], [], [], {}
    for i, p in enumerate(models):
        sp = split_indices(len(tables[p]), {"train": 0.5, "eval": 0.5}, cfg.seed)
        tr, ev = sp["train"][:n_train], sp["eval"][:n_eval]
        r, m = objects(tables[p].iloc[tr])
        raws.append(r)
        masks.append(m)
        labels.append(np.full(len(tr), i))
        eval_parts.append(objects(tables[p].iloc[ev]) + (np.full(len(ev), i),))
        pair_eval[p] = engineered(tables[p].iloc[ev]).to_numpy()
    torch.manual_seed(cfg.seed)
    model = ContrastiveModel(build_encoder(hp), proj_dim)

    def loss_fn(m: nn.Module, batch: list[torch.Tensor]):
        r, k, y = batch
        return supcon(m(r, k), y, temperature)

    hist = fit(model, loss_fn, [torch.as_tensor(np.concatenate(raws)), torch.as_tensor(np.concatenate(masks)),
                                torch.as_tensor(np.concatenate(labels))], cfg)
    if model_out is not None:
        save_encoder(model.encoder, model_out, {"study": "latent_space", "objective": "SupCon", "models": models})
    z = {p: _embed(model, torch.as_tensor(r), torch.as_tensor(k)) for p, (r, k, _) in zip(models, eval_parts)}
    lab = np.concatenate([np.full(len(z[p]), i) for i, p in enumerate(models)])
    zall = np.concatenate([z[p] for p in models])

    # sets of events, k-means with one cluster per distinguishable model
    merged = {i: i for i in range(len(models))}
    for a, b in indistinguishable:
        merged[models.index(b)] = models.index(a)
    rng = np.random.default_rng(cfg.seed)
    zs, ls = set_embeddings(zall, lab, set_size, rng)
    ls_merged = np.array([merged[i] for i in ls])
    n_clusters = len(set(merged.values()))
    km = KMeans(n_clusters=n_clusters, n_init=10, random_state=cfg.seed).fit(zs)
    pur = purity(km.labels_, ls_merged)
    pur_events = purity(KMeans(n_clusters=n_clusters, n_init=4, random_state=cfg.seed).fit(zall).labels_,
                        np.array([merged[i] for i in lab]))

    # pairwise: latent distance, latent-space AUC, dedicated classifier AUC
    spread = float(np.sqrt(np.mean([np.trace(np.cov(z[p].T)) for p in models])))
    pairs = {}
    for a, b in combinations(models, 2):
        dist = float(np.linalg.norm(z[a].mean(0) - z[b].mean(0)) / spread)
        ea, eb = pair_eval[a], pair_eval[b]
        x = np.concatenate([ea, eb])
        y = np.r_[np.zeros(len(ea)), np.ones(len(eb))]
        idx = np.random.default_rng(cfg.seed).permutation(len(y))
        half = len(y) // 2
        s = train_xgb(x[idx[:half]], y[idx[:half]], x[idx[half:]], cfg.seed, bdt_trees)
        pair_auc = auc(y[idx[half:]], s)
        pairs[f"{a}|{b}"] = {"latent_distance": dist, "classifier_auc": max(pair_auc, 1 - pair_auc),
                             "latent_auc": max(v := _latent_auc(z[a], z[b], cfg.seed), 1 - v),
                             "indistinguishable": [a, b] in [list(q) for q in indistinguishable]}
    d = [v["latent_distance"] for v in pairs.values()]
    c = [v["classifier_auc"] for v in pairs.values()]
    rho = float(spearmanr(d, c).statistic)
    pca = PCA(2, random_state=cfg.seed).fit(zall)
    show = rng.permutation(len(zall))[: min(len(zall), 400 * len(models))]
    return {"models": models, "indistinguishable": [list(q) for q in indistinguishable], "n_train": n_train,
            "n_eval": n_eval, "set_size": set_size, "latent_dim": proj_dim, "epochs": len(hist.val_loss),
            "final_val_loss": hist.best_val, "purity_sets": pur, "purity_events": pur_events,
            "n_clusters": n_clusters, "spearman_distance_vs_auc": rho, "pairs": pairs,
            "map": {"xy": pca.transform(zall[show]).round(4).tolist(), "label": lab[show].tolist(),
                    "set_xy": pca.transform(zs).round(4).tolist(), "set_label": ls.tolist(),
                    "explained_variance": pca.explained_variance_ratio_.tolist()}}


def plot_map(m: dict, path: str | Path, labels: dict | None = None, rlabel: str = "") -> list:
    """The latent map coloured by model (PCA of the latent space), with set means."""
    from ... import plotting

    plotting.style()
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(17, 7.5), gridspec_kw={"wspace": 0.3})
    xy, lab = np.asarray(m["map"]["xy"]), np.asarray(m["map"]["label"])
    sxy, slab = np.asarray(m["map"]["set_xy"]), np.asarray(m["map"]["set_label"])
    colors = [plt.get_cmap("tab10")(i) for i in range(10)]
    markers = "osD^v<>ph"
    for i, p in enumerate(m["models"]):
        name = (labels or {}).get(p, p)
        col = colors[i % len(colors)]
        ax.scatter(*xy[lab == i].T, s=4, alpha=0.35, color=col)
        ax.scatter(*sxy[slab == i].T, s=45, marker=markers[i % len(markers)], color=col, edgecolor="k",
                   linewidth=0.4, label=name)
    ax.set_xlabel("latent PC 1")
    ax.set_ylabel("latent PC 2")
    ax.legend(fontsize=11, loc="best", title=f"sets of {m['set_size']} events", title_fontsize=11)
    plotting.label(ax, "", rlabel=rlabel)
    for key, v in m["pairs"].items():
        ax2.scatter(v["latent_distance"], v["classifier_auc"], color="C3" if v["indistinguishable"] else "C0",
                    s=50, marker="*" if v["indistinguishable"] else "o")
    ax2.set_xlabel("latent distance of two models\n(centroid gap / spread)")
    ax2.set_ylabel("pairwise classifier AUC")
    ax2.text(0.3, 0.25, f"set purity {m['purity_sets']:.2f}, Spearman $\\rho$ {m['spearman_distance_vs_auc']:.2f} "
             "\n(star: the indistinguishable pair)", transform=ax2.transAxes, fontsize=14)
    return plotting.save(fig, path)
