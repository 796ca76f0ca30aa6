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


def _latent_scores(za: np.ndarray, zb: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Held-out labels and scores of a logistic regression separating two models in latent space."""
    x = np.concatenate([za, zb])
    y = np.r_[np.zeros(len(za)), np.ones(len(zb))]
    idx = np.random.default_rng(seed).permutation(len(y))
    half = len(y) // 2
    clf = LogisticRegression(max_iter=500).fit(x[idx[:half]], y[idx[:half]])
    return y[idx[half:]], clf.predict_proba(x[idx[half:]])[:, 1]


def _latent_auc(za: np.ndarray, zb: np.ndarray, seed: int) -> float:
    """Held-out AUC of a logistic regression separating two models in latent space."""
    return auc(*_latent_scores(za, zb, seed))


def _sym_auc(y: np.ndarray, s: np.ndarray) -> float:
    a = auc(y, s)
    return max(a, 1 - a)


def latent_auc_with_error(za: np.ndarray, zb: np.ndarray, seed: int, n_boot: int = 100) -> tuple[float, float]:
    """Latent AUC (symmetrised) and its bootstrap SE over the held-out events."""
    from ...verdict import bootstrap_se

    y, s = _latent_scores(za, zb, seed)
    return _sym_auc(y, s), bootstrap_se(_sym_auc, y, s, n=n_boot, seed=seed)


def centroid_distances(z: dict, pairs: list[tuple[str, str]], pick: dict | None = None) -> np.ndarray:
    """Latent distance of each pair of models: centroid gap over the mean
    within-model spread; ``pick`` = {model: event indices} (a bootstrap resample)."""
    zz = {p: (v if pick is None else v[pick[p]]) for p, v in z.items()}
    spread = float(np.sqrt(np.mean([np.trace(np.cov(v.T)) for v in zz.values()])))
    return np.array([np.linalg.norm(zz[a].mean(0) - zz[b].mean(0)) / spread for a, b in pairs])


def distance_bootstrap(embeddings: dict[str, dict], pairs: list[tuple[str, str]], aucs: np.ndarray, n_boot: int,
                       seed: int) -> dict:
    """Spearman rho(latent distance, pairwise classifier AUC) of each embedding
    (``embeddings`` = {name: {model: z}}) and the latent distances of every
    pair, with their bootstrap replicas over the evaluation events (the same
    resampled events for every embedding, so differences are paired)."""
    rng = np.random.default_rng(seed)
    models = list(next(iter(embeddings.values())))
    n = {p: len(next(iter(embeddings.values()))[p]) for p in models}
    out = {k: {"rho": float(spearmanr(centroid_distances(z, pairs), aucs).statistic),
               "distance": centroid_distances(z, pairs), "rho_reps": [], "distance_reps": []}
           for k, z in embeddings.items()}
    for _ in range(n_boot):
        pick = {p: rng.integers(0, n[p], n[p]) for p in models}
        for k, z in embeddings.items():
            d = centroid_distances(z, pairs, pick)
            out[k]["rho_reps"].append(float(spearmanr(d, aucs).statistic))
            out[k]["distance_reps"].append(d)
    for v in out.values():
        v["rho_reps"] = np.asarray(v["rho_reps"])
        v["distance_reps"] = np.asarray(v["distance_reps"])
    return out


def set_purity(zall: np.ndarray, lab: np.ndarray, merged: dict, set_size: int, n_clusters: int, seed: int,
               rng: np.random.Generator, n_init: int = 10) -> tuple[float, np.ndarray, np.ndarray]:
    """k-means purity of the set embeddings (one cluster per distinguishable model)."""
    zs, ls = set_embeddings(zall, lab, set_size, rng)
    ls_merged = np.array([merged[i] for i in ls])
    km = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed).fit(zs)
    return purity(km.labels_, ls_merged), zs, ls


def run(files: dict, indistinguishable: list, hp: dict, proj_dim: int, cfg: TrainConfig, n_train: int, n_eval: int,
        set_size: int, temperature: float, n_events: int | None = None, bdt_trees: int = 100,
        model_out: str | Path | None = None, near: list | None = None, n_boot: int = 100,
        train_latent: bool = True) -> dict:
    """Train the latent space and compute every metric of the study.

    ``near``: pairs of models that differ physically but are nearly
    degenerate (the toy knob); ``train_latent`` False skips the contrastive
    training (the untrained encoder: the power test's broken method).
    Every metric is also computed for a random-init, untrained encoder of
    the same architecture (the null control) on the same events."""
    models = list(files)
    near = [tuple(q) for q in (near or [])]
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
    torch.manual_seed(cfg.seed + 1)
    untrained = ContrastiveModel(build_encoder(hp), proj_dim)
    torch.manual_seed(cfg.seed)
    model = ContrastiveModel(build_encoder(hp), proj_dim)

    def loss_fn(m: nn.Module, batch: list[torch.Tensor]):
        r, k, y = batch
        return supcon(m(r, k), y, temperature)

    hist = None
    if train_latent:
        hist = fit(model, loss_fn, [torch.as_tensor(np.concatenate(raws)), torch.as_tensor(np.concatenate(masks)),
                                    torch.as_tensor(np.concatenate(labels))], cfg)
    if model_out is not None:
        save_encoder(model.encoder, model_out, {"study": "latent_space", "objective": "SupCon", "models": models})
    emb = {name: {p: _embed(net, torch.as_tensor(r), torch.as_tensor(k)) for p, (r, k, _) in zip(models, eval_parts)}
           for name, net in (("trained", model), ("untrained", untrained))}
    z = emb["trained"]
    lab = np.concatenate([np.full(len(z[p]), i) for i, p in enumerate(models)])

    # sets of events, k-means with one cluster per distinguishable model (the
    # near-degenerate models are physically different: clusters of their own)
    merged = {i: i for i in range(len(models))}
    for a, b in indistinguishable:
        merged[models.index(b)] = models.index(a)
    n_clusters = len(set(merged.values()))
    pur, pur_se, pur_events = {}, {}, {}
    for name, e in emb.items():
        zall = np.concatenate([e[p] for p in models])
        rng = np.random.default_rng(cfg.seed)
        pur[name], zs_, ls_ = set_purity(zall, lab, merged, set_size, n_clusters, cfg.seed, rng)
        if name == "trained":
            zs, ls, zall_trained = zs_, ls_, zall
        # bootstrap: resample the events of every model, new sets, new k-means
        reps = []
        for b in range(max(n_boot // 5, 10)):
            pick = np.concatenate([rng.choice(np.flatnonzero(lab == i), (lab == i).sum()) for i in range(len(models))])
            reps.append(set_purity(zall[pick], lab[pick], merged, set_size, n_clusters, cfg.seed + b, rng, 3)[0])
        pur_se[name] = float(np.std(reps, ddof=1))
        pur_events[name] = purity(KMeans(n_clusters=n_clusters, n_init=4, random_state=cfg.seed).fit(zall).labels_,
                                  np.array([merged[i] for i in lab]))

    # pairwise: latent distance, latent-space AUC, dedicated classifier AUC
    pair_list = list(combinations(models, 2))
    pairs = {}
    for a, b in pair_list:
        ea, eb = pair_eval[a], pair_eval[b]
        x = np.concatenate([ea, eb])
        y = np.r_[np.zeros(len(ea)), np.ones(len(eb))]
        idx = np.random.default_rng(cfg.seed).permutation(len(y))
        half = len(y) // 2
        s = train_xgb(x[idx[:half]], y[idx[:half]], x[idx[half:]], cfg.seed, bdt_trees, name="pair classifier")
        pair_auc = auc(y[idx[half:]], s)
        pairs[f"{a}|{b}"] = {"classifier_auc": max(pair_auc, 1 - pair_auc),
                             "latent_auc": max(v := _latent_auc(z[a], z[b], cfg.seed), 1 - v),
                             "indistinguishable": [a, b] in [list(q) for q in indistinguishable],
                             "near_degenerate": (a, b) in near or (b, a) in near}
    c = np.array([v["classifier_auc"] for v in pairs.values()])
    boot = distance_bootstrap(emb, pair_list, c, n_boot, cfg.seed)
    for i, key in enumerate(pairs):
        pairs[key]["latent_distance"] = float(boot["trained"]["distance"][i])
        pairs[key]["latent_distance_untrained"] = float(boot["untrained"]["distance"][i])
    rho = boot["trained"]["rho"]

    # the comparisons of the verdict, each with its bootstrap error
    def key_of(q: tuple) -> str:
        return f"{q[0]}|{q[1]}" if f"{q[0]}|{q[1]}" in pairs else f"{q[1]}|{q[0]}"

    special = [key_of(q) for q in [*indistinguishable, *near]]
    # a family: models joined by an indistinguishable or near-degenerate pair (x4j_pseudoscalar is as near to
    # the near variant of x4j_scalar as x4j_scalar is): their pairs are not "distinct"
    family = {p: {p} for p in models}
    for a, b in [*indistinguishable, *near]:
        joined = family[a] | family[b]
        for p in joined:
            family[p] = joined
    distinct = [k for k in pairs if k.split("|")[1] not in family[k.split("|")[0]]]
    worst = min(distinct, key=lambda k: pairs[k]["latent_auc"])
    lat = {}
    for k in [*special, worst]:
        a, b = k.split("|")
        lat[k] = latent_auc_with_error(z[a], z[b], cfg.seed, n_boot)
    cmp = {"rho": {name: {"value": v["rho"], "se": float(np.std(v["rho_reps"], ddof=1))} for name, v in boot.items()},
           "rho_trained_minus_untrained_se": float(np.std(boot["trained"]["rho_reps"] - boot["untrained"]["rho_reps"],
                                                          ddof=1)),
           "purity_sets": {name: {"value": pur[name], "se": pur_se[name]} for name in pur},
           "latent_auc": {k: {"value": v[0], "se": v[1]} for k, v in lat.items()},
           "worst_distinct_pair": worst, "n_boot": n_boot, "n_eval_events": int(len(lab)),
           "indistinguishable": [key_of(q) for q in indistinguishable], "near": [key_of(q) for q in near]}
    dist_near = {}
    for kn in cmp["near"]:
        for ki in cmp["indistinguishable"]:
            iN, iI = list(pairs).index(kn), list(pairs).index(ki)
            d = boot["trained"]["distance_reps"]
            dist_near[f"{kn} minus {ki}"] = {
                "near": pairs[kn]["latent_distance"], "indistinguishable": pairs[ki]["latent_distance"],
                "se": float(np.std(d[:, iN] - d[:, iI], ddof=1))}
    cmp["near_minus_indistinguishable_distance"] = dist_near
    pca = PCA(2, random_state=cfg.seed).fit(zall_trained)
    show = np.random.default_rng(cfg.seed).permutation(len(zall_trained))[: min(len(zall_trained), 400 * len(models))]
    return {"models": models, "indistinguishable": [list(q) for q in indistinguishable],
            "near_degenerate": [list(q) for q in near], "n_train": n_train,
            "n_eval": n_eval, "set_size": set_size, "latent_dim": proj_dim,
            "epochs": len(hist.val_loss) if hist else 0, "final_val_loss": hist.best_val if hist else None,
            "purity_sets": pur["trained"], "purity_events": pur_events["trained"],
            "purity_sets_untrained": pur["untrained"], "purity_events_untrained": pur_events["untrained"],
            "n_clusters": n_clusters, "spearman_distance_vs_auc": rho,
            "spearman_distance_vs_auc_untrained": boot["untrained"]["rho"], "pairs": pairs, "comparisons": cmp,
            "map": {"xy": pca.transform(zall_trained[show]).round(4).tolist(), "label": lab[show].tolist(),
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
        kind = "indistinguishable" if v["indistinguishable"] else "near" if v.get("near_degenerate") else ""
        ax2.scatter(v["latent_distance"], v["classifier_auc"], color={"indistinguishable": "C3", "near": "C2"}
                    .get(kind, "C0"), s=50, marker={"indistinguishable": "*", "near": "P"}.get(kind, "o"))
    ax2.set_xlabel("latent distance of two models\n(centroid gap / spread)")
    ax2.set_ylabel("pairwise classifier AUC")
    ax2.text(0.3, 0.25, f"set purity {m['purity_sets']:.2f}, Spearman $\\rho$ {m['spearman_distance_vs_auc']:.2f} "
             "\n(star: the indistinguishable pair; plus: near-degenerate)", transform=ax2.transAxes, fontsize=14)
    return plotting.save(fig, path)
