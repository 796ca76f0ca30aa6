"""Communicating likelihoods with normalizing flows (Araz et al., the nabu
tool), in miniature.

A flow is fitted to samples of a 4-dimensional, non-Gaussian, correlated toy
posterior (a curved "banana" pair, a skewed log-normal pair correlated with
the first), or (``posterior: dimuon_z``, the real tier) to MCMC samples of a
real posterior: the Z fit of the dimuon excerpt's masses over (m_Z, Gamma_Z,
resolution, signal yield) (:mod:`.zfit`). It is accepted only if goodness-of-fit tests on held-out samples
pass:

* latent-norm test: held-out samples mapped to the latent space must have
  ``|z|^2 ~ chi2(d)``; Kolmogorov-Smirnov p-value of that;
* per-dimension two-sample KS between flow samples and held-out samples
  (Bonferroni-corrected minimum p-value);
* classifier test: a gradient-boosted classifier (xgboost) separating flow
  samples from held-out samples must have a ROC AUC below ``auc_max``.

A flow that fails is refitted with a doubled training budget up to
``max_attempts`` times, else the failure is reported. The accepted flow is
exported self-contained: state_dict, JSON (architecture, standardisation,
versions, feature names, how to load) and the validation statistics, and
published as ONNX (``log p(x)`` and the sampler ``x = f^-1(z)``, float64, batch
axis dynamic) with a model card through :mod:`colliderflow.publish`, re-run in
onnxruntime against the torch values.

The verdict compares, on the same held-out samples (paired bootstrap), the
trained flow with the gate's AUC threshold, with the under-trained flow (the
paper's failure case) and with an untrained flow (the null: standardisation
only, initial weights), in classifier AUC and in the KS distance of the
latent norm to chi2(d).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy import stats

from ...errors import InputError
from ...nn.flow_fit import train_flow
from ...nn.flows import StandardizedFlow
from ...nn.train import load_state, save_model

FEATURES = ("mu", "kappa", "log_sigma", "delta")
#: axis labels of the posteriors' coordinates (the toy's and the dimuon Z fit's, :mod:`.zfit`)
LABELS = {"mu": r"$\mu$", "kappa": r"$\kappa$", "log_sigma": r"$\log\sigma$", "delta": r"$\delta$",
          "m_Z": r"$m_Z$ [GeV]", "Gamma_Z": r"$\Gamma_Z$ [GeV]", "sigma": r"$\sigma_m$ [GeV]",
          "N_signal": r"$N_{\rm signal}$"}
UNITS = {"toy": "1 (mu, kappa, log_sigma, delta: dimensionless toy parameters)",
         "dimuon_z": "GeV, GeV, GeV, events (Z mass, Z width, Gaussian mass resolution, signal yield)"}


def sample_posterior(n: int, seed: int = 0) -> np.ndarray:
    """Samples (n, 4) of the toy posterior over (mu, kappa, log_sigma, delta)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n)
    b = rng.standard_normal(n)
    mu = 1.0 + 0.8 * a
    kappa = 0.6 * b + 0.5 * (a**2 - 1.0)  # curved degeneracy with mu
    log_sigma = 0.3 * a + 0.4 * rng.standard_normal(n)
    delta = np.exp(0.5 * rng.standard_normal(n) + 0.3 * log_sigma) - 1.0  # skewed, correlated
    return np.stack([mu, kappa, log_sigma, delta], axis=1).astype(np.float32)


def latent(flow: StandardizedFlow, x: ArrayLike) -> torch.Tensor:
    """Latent coordinates z of ``x`` under an unconditional flow."""
    with torch.no_grad():
        z = (torch.as_tensor(x) - flow.x_mean) / flow.x_std
        return flow.flow().transform(z)


def gof_tests(flow: StandardizedFlow, x_val: ArrayLike, seed: int = 0, classifier_rounds: int = 100) -> dict:
    """The three goodness-of-fit statistics on held-out samples ``x_val``."""
    import xgboost
    from sklearn.metrics import roc_auc_score

    x_val = np.asarray(x_val, dtype=np.float32)
    n, d = x_val.shape
    z = latent(flow, x_val).numpy()
    finite = np.all(np.isfinite(z), axis=1)
    r2 = (z[finite] ** 2).sum(1)
    latent_p = float(stats.kstest(r2, stats.chi2(d).cdf).pvalue) if finite.all() else 0.0
    torch.manual_seed(seed)
    with torch.no_grad():
        xs = flow.sample(2 * n).numpy()
    xs = xs[np.all(np.isfinite(xs), axis=1)]
    per_dim = [float(stats.ks_2samp(xs[:n, i], x_val[:, i]).pvalue) for i in range(d)]
    # classifier test: train on half, score on the other half
    h = n // 2
    xa = np.concatenate([xs[n:n + h], x_val[:h]])
    ya = np.r_[np.zeros(len(xs[n:n + h])), np.ones(h)]
    xb = np.concatenate([xs[:n - h], x_val[h:]])
    yb = np.r_[np.zeros(n - h), np.ones(n - h)]
    clf = xgboost.XGBClassifier(n_estimators=classifier_rounds, max_depth=3, learning_rate=0.1, n_jobs=1,
                                random_state=seed)
    clf.fit(xa, ya)
    score = clf.predict_proba(xb)[:, 1]
    auc = float(roc_auc_score(yb, score))
    m = n - h  # rows i of the scored half: flow sample score_flow[i], held-out sample score_real[i]
    return {"latent_chi2_ks_p": latent_p, "latent_chi2_ks_d": _ks_d(r2, d) if finite.all() else 1.0,
            "score_flow": score[:m], "score_real": score[m:], "per_dim_ks_p": per_dim,
            "per_dim_ks_min_p_bonferroni": float(min(1.0, d * min(per_dim))), "classifier_auc": auc,
            "latent_norm2": r2, "n_validation": int(n)}


def _ks_d(r2: np.ndarray, d: int) -> float:
    """KS distance of the latent norms ``r2`` to chi2(d)."""
    return _ks_d_cdf(stats.chi2(d).cdf(np.asarray(r2, dtype=float)))


def _ks_d_cdf(cdf: np.ndarray) -> float:
    """KS distance to the uniform of the values ``cdf`` (F(x_i) of a one-sample test)."""
    f = np.sort(cdf)
    n = len(f)
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - f), np.max(f - (i - 1) / n)))


def _auc(score_flow: np.ndarray, score_real: np.ndarray) -> float:
    """ROC AUC of held-out (positive) against flow samples (Mann-Whitney U, ties averaged)."""
    r = stats.rankdata(np.r_[score_flow, score_real])
    n0, n1 = len(score_flow), len(score_real)
    return float((r[n0:].sum() - n1 * (n1 + 1) / 2) / (n0 * n1))


#: per-event arrays of a gof dict (kept out of metrics.json)
ARRAYS = ("latent_norm2", "score_flow", "score_real")


def comparison_stats(gofs: dict, method: str, d: int, n_boot: int = 200, seed: int = 0) -> dict:
    """The verdict's numbers: classifier AUC and latent KS distance of the ``method`` flow and of every other
    flow in ``gofs`` ({name: gof_tests output}, all on the same held-out samples), with paired-bootstrap
    standard errors (the held-out rows resampled together for every flow) of the method's values and of
    each difference other - method."""
    names = list(gofs)
    n_rows = min(len(g["score_flow"]) for g in gofs.values())
    n_lat = min(len(g["latent_norm2"]) for g in gofs.values())
    finite = all(len(g["latent_norm2"]) == n_lat for g in gofs.values())

    cdf = {k: stats.chi2(d).cdf(np.asarray(g["latent_norm2"], dtype=float)) for k, g in gofs.items()}

    def values(i_clf: np.ndarray, i_lat: np.ndarray) -> dict:
        out = {}
        for k in names:
            g = gofs[k]
            out[f"{k}_auc"] = _auc(g["score_flow"][i_clf], g["score_real"][i_clf])
            out[f"{k}_ks_d"] = _ks_d_cdf(cdf[k][i_lat]) if finite else g["latent_chi2_ks_d"]
        return out

    value = values(np.arange(n_rows), np.arange(n_lat))
    rng = np.random.default_rng(seed)
    reps = [values(rng.integers(0, n_rows, n_rows), rng.integers(0, n_lat, n_lat)) for _ in range(n_boot)]

    def se(f: Callable[[dict], float]) -> float:
        return float(np.std([f(r) for r in reps], ddof=1))

    out = {"method": method, "n_rows": int(n_rows), "n_boot": n_boot,
           "auc": value[f"{method}_auc"], "auc_err": se(lambda r: r[f"{method}_auc"]),
           "ks_d": value[f"{method}_ks_d"], "ks_d_err": se(lambda r: r[f"{method}_ks_d"]), "others": {}}
    for k in names:
        if k != method:
            out["others"][k] = {
                "auc": value[f"{k}_auc"], "ks_d": value[f"{k}_ks_d"],
                "auc_diff_err": se(lambda r, k=k: r[f"{k}_auc"] - r[f"{method}_auc"]),
                "ks_d_diff_err": se(lambda r, k=k: r[f"{k}_ks_d"] - r[f"{method}_ks_d"])}
    return out


def accepted(gof: dict, alpha: float, auc_max: float) -> bool:
    return bool(gof["latent_chi2_ks_p"] > alpha and gof["per_dim_ks_min_p_bonferroni"] > alpha
                and gof["classifier_auc"] < auc_max)


def fit_and_validate(x_train: ArrayLike, x_val: ArrayLike, cfg: dict, seed: int) -> dict:
    """Fit, test, refit with a doubled epoch budget while the tests fail."""
    attempts = []
    epochs = cfg["epochs"]
    flow = None
    for k in range(cfg["max_attempts"]):
        flow, hist = train_flow(x_train, kind="nsf", transforms=cfg["transforms"], hidden=cfg["hidden"],
                                epochs=epochs, seed=seed + k, patience=epochs, desc=f"nabu attempt {k}")
        gof = gof_tests(flow, x_val, seed=seed + k)
        ok = accepted(gof, cfg["alpha"], cfg["auc_max"])
        attempts.append({"epochs": epochs, "val_nll": hist["best_val"], "accepted": ok,
                         **{key: v for key, v in gof.items() if key not in ARRAYS}})
        if ok:
            return {"flow": flow, "gof": gof, "attempts": attempts, "accepted": True}
        epochs *= 2
    return {"flow": flow, "gof": gof, "attempts": attempts, "accepted": False}


def export(flow: StandardizedFlow, outdir: str | Path, gof: dict, cfg: dict, x_val: ArrayLike,
           features: tuple[str, ...] = FEATURES) -> dict:
    """Self-contained export: flow.pt (state_dict), flow.json (architecture,
    standardisation, versions, how to load), validation.json (the GoF numbers
    and a reference set of log-densities to check a reload against)."""
    import zuko

    outdir = Path(outdir)
    x_ref = np.asarray(x_val[:16], dtype=np.float32)
    with torch.no_grad():
        lp_ref = flow.log_prob(torch.as_tensor(x_ref)).numpy()
    card = {
        **flow.hparams, "features_names": list(features), "library": "zuko", "zuko_version": zuko.__version__,
        "torch_version": torch.__version__.split("+")[0],
        "x_mean": flow.x_mean.tolist(), "x_std": flow.x_std.tolist(),
        "how_to_load": "colliderflow.studies.likelihood_flows.core.load_exported(dir); or build "
                       "zuko.flows.NSF(features, context, transforms=transforms, hidden_features=hidden, bins=bins), "
                       "load the 'flow.*' entries of flow.pt, and evaluate log p(x) = flow().log_prob((x - x_mean)"
                       " / x_std) - sum(log x_std)",
        "onnx": "../published/model.onnx: log p(x); ../published/sampler/model.onnx: x = f^-1(z) (colliderflow.publish "
                "model cards beside them)",
    }
    save_model(flow, outdir / "flow.pt", card)
    from ...io import write_json

    write_json(outdir / "validation.json", {**{k: v for k, v in gof.items() if k not in ARRAYS},
                                            "reference_x": x_ref, "reference_log_prob": lp_ref,
                                            "alpha": cfg["alpha"], "auc_max": cfg["auc_max"]})
    return card


def publish_onnx(flow: StandardizedFlow, outdir: str | Path, gof: dict, cfg: dict, x_val: ArrayLike,
                 n_val: int = 200, features: tuple[str, ...] = FEATURES, posterior: dict | None = None) -> dict:
    """ONNX + model card of the accepted flow's log-density through :func:`colliderflow.publish.publish_checked`
    (re-run in onnxruntime on ``n_val`` frozen held-out samples); returns the check record."""
    from ...nn.flows import publish_flow

    x_ref = np.asarray(x_val[:n_val], dtype=np.float64)
    return publish_flow(  # nabu's flows are sampled as well as evaluated: the sampler too
        flow, {"x": x_ref}, outdir, sampler=True,
        name="likelihood_flows_posterior",
        description=("zuko neural spline flow fitted to samples of the study's 4-d toy posterior and accepted by "
                     "the goodness-of-fit gate (latent chi2 KS, per-dimension KS, classifier AUC; nabu, Araz et "
                     "al.): evaluate the posterior density anywhere. Trained by colliderflow."),
        input_specs={"x": {"units": UNITS[cfg.get("posterior", "toy")] + ", float64",
                           "features": list(features), "preprocessing": "none: raw parameter values; the "
                           "standardisation is inside the model"}},
        training_data=({"generator": "colliderflow.studies.likelihood_flows.core.sample_posterior"}
                       if posterior is None else {"posterior": "Z fit of the dimuon masses (colliderflow.studies."
                                                  "likelihood_flows.zfit)", **posterior})
        | {"n_train": cfg["n_train"], "n_validation": cfg["n_validation"]},
        metrics={**{k: v for k, v in gof.items() if k not in ARRAYS}, "alpha": cfg["alpha"],
                 "accepted_by_gate": accepted(gof, cfg["alpha"], cfg["auc_max"]),
                 "auc_max": cfg["auc_max"]})


def load_exported(outdir: str | Path) -> StandardizedFlow:
    """Rebuild an exported flow from flow.pt + flow.json alone (weights_only)."""
    state, hp = load_state(Path(outdir) / "flow.pt")
    need = ("features", "context", "kind", "transforms", "hidden", "bins")
    missing = [k for k in need if k not in hp]
    if missing:
        raise InputError(Path(outdir) / "flow.json", missing[0], "hyper-parameter missing")
    flow = StandardizedFlow(hp["features"], hp["context"], kind=hp["kind"], transforms=hp["transforms"],
                            hidden=tuple(hp["hidden"]), bins=hp["bins"])
    flow.load_state_dict(state)
    return flow.eval()


def check_reload(outdir: str | Path) -> float:
    """Max |log p| difference between the reloaded flow and the stored reference."""
    flow = load_exported(outdir)
    val = json.loads((Path(outdir) / "validation.json").read_text())
    with torch.no_grad():
        lp = flow.log_prob(torch.as_tensor(val["reference_x"], dtype=torch.float32)).numpy()
    return float(np.max(np.abs(lp - np.asarray(val["reference_log_prob"]))))


def posterior_samples(cfg: dict, seed: int, masses: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """(training samples, held-out samples, record) of the configured posterior: the toy
    (:func:`sample_posterior`) or the Z fit of the dimuon ``masses`` (GeV, :mod:`.zfit`; held-out samples
    from other MCMC chains than the training samples)."""
    if cfg.get("posterior", "toy") == "toy":
        return (sample_posterior(cfg["n_train"], seed), sample_posterior(cfg["n_validation"], seed + 1),
                {"posterior": "toy", "features": list(FEATURES)})
    from . import zfit

    if masses is None:
        raise InputError("config", "studies.likelihood_flows.posterior", "dimuon_z needs the dimuon masses")
    try:
        x, info = zfit.sample(masses, cfg["n_train"] + cfg["n_validation"], seed)
    except ValueError as exc:  # too few pairs in the Z window
        raise InputError(None, "Muon", str(exc)) from None
    return x[:cfg["n_train"]], x[cfg["n_train"]:], {"posterior": "dimuon_z", "features": list(zfit.FEATURES), **info}


def run(cfg: dict, seed: int, outdir: str | Path, published: str | Path | None = None,
        masses: ArrayLike | None = None) -> dict:
    """Fit and gate; the under-trained flow and the untrained null on the same held-out samples; the
    accepted flow exported to ``outdir`` (state_dict + JSON) and published as ONNX to ``published``
    (default: ``outdir``/../published). ``masses``: the dimuon masses of ``posterior: dimuon_z``."""
    x_train, x_val, post = posterior_samples(cfg, seed, masses)
    features = tuple(post["features"])
    under, _ = train_flow(x_train, kind="nsf", transforms=cfg["transforms"], hidden=cfg["hidden"],
                          epochs=cfg["undertrained_epochs"], seed=seed, desc="under-trained")
    gof_under = gof_tests(under, x_val, seed=seed)
    torch.manual_seed(seed)
    untrained = StandardizedFlow.fitted_to(x_train, kind="nsf", transforms=cfg["transforms"],
                                           hidden=tuple(cfg["hidden"])).eval()
    gof_untrained = gof_tests(untrained, x_val, seed=seed)
    res = fit_and_validate(x_train, x_val, cfg, seed)
    res.update(under=under, gof_under=gof_under, under_accepted=accepted(gof_under, cfg["alpha"], cfg["auc_max"]),
               gof_untrained=gof_untrained,
               untrained_accepted=accepted(gof_untrained, cfg["alpha"], cfg["auc_max"]), x_val=x_val,
               posterior=post)
    if res["accepted"]:
        export(res["flow"], outdir, res["gof"], cfg, x_val, features)
        res["reload_max_abs_diff"] = check_reload(outdir)
        res["published"] = publish_onnx(res["flow"], published or Path(outdir).parent / "published", res["gof"],
                                        cfg, x_val, features=features, posterior=card_posterior(post))
    return res


def card_posterior(post: dict) -> dict | None:
    """What the model card says about a real posterior (None: the toy)."""
    return None if post["posterior"] == "toy" else {k: v for k, v in post.items() if k != "posterior"}


def summarise(res: dict, cfg: dict, n_boot: int = 200, seed: int = 0) -> dict:
    """The metrics of the claim (judged by :func:`colliderflow.studies.likelihood_flows.verdict`):
    the trained flow passes all GoF tests (and reloads exactly from its export)
    while an under-trained flow fails them."""
    def strip(g: dict):
        return {k: v for k, v in g.items() if k not in ARRAYS}

    d = res["x_val"].shape[1]
    gofs = {"trained": res["gof"], "undertrained": res["gof_under"], "untrained": res["gof_untrained"]}
    metrics = {"accepted": res["accepted"], "attempts": res["attempts"], "gof_accepted": strip(res["gof"]),
               "gof_undertrained": strip(res["gof_under"]), "undertrained_accepted": res["under_accepted"],
               "gof_untrained": strip(res["gof_untrained"]), "untrained_accepted": res["untrained_accepted"],
               "undertrained_epochs": cfg["undertrained_epochs"], "alpha": cfg["alpha"], "auc_max": cfg["auc_max"],
               "reload_max_abs_diff": res.get("reload_max_abs_diff"), "published": res.get("published"),
               "comparison": comparison_stats(gofs, "trained", d, n_boot=n_boot, seed=seed),
               "posterior": res.get("posterior", {"posterior": "toy", "features": list(FEATURES)})}
    return metrics


def plot(res: dict, cfg: dict, path: str | Path, rlabel: str = "") -> list:
    from ... import plotting

    plotting.style()
    import matplotlib.pyplot as plt

    x_val = res["x_val"]
    features = res.get("posterior", {}).get("features", list(FEATURES))
    i, j = (1, 2) if "Gamma_Z" in features else (0, 1)  # the Z fit: width against resolution (correlated)
    fig, axes = plt.subplots(1, 3, figsize=(24, 7.5))
    torch.manual_seed(0)
    with torch.no_grad():
        xs = res["flow"].sample(len(x_val)).numpy()
    ax = axes[0]
    ax.scatter(x_val[:, i], x_val[:, j], s=2, c="k", alpha=0.3, label="posterior samples (held out)")
    ax.scatter(xs[:, i], xs[:, j], s=2, c="tab:blue", alpha=0.3, label="accepted flow")
    ax.set_xlim(np.percentile(x_val[:, i], [0.5, 99.5]))
    ax.set_ylim(np.percentile(x_val[:, j], [0.5, 99.5]))
    ax.set_xlabel(LABELS.get(features[i], features[i]))
    ax.set_ylabel(LABELS.get(features[j], features[j]))
    ax.legend(markerscale=6, fontsize=13)
    real = res.get("posterior", {}).get("posterior") == "dimuon_z"  # a posterior of CMS open data
    plotting.label(ax, "Open Data" if real else "", data=real, rlabel=rlabel)
    ax = axes[1]
    d = x_val.shape[1]
    bins = np.linspace(0, stats.chi2(d).ppf(0.999), 40)
    for g, col, name in ((res["gof"], "tab:blue", "accepted"), (res["gof_under"], "tab:red", "under-trained")):
        ax.hist(np.clip(g["latent_norm2"], 0, bins[-1]), bins, density=True, histtype="step", lw=2, color=col,
                label=f"{name}: KS p = {g['latent_chi2_ks_p']:.2g}")
    xx = np.linspace(0, bins[-1], 300)
    ax.plot(xx, stats.chi2(d).pdf(xx), "k--", label=rf"$\chi^2_{{{d}}}$")
    ax.set_xlabel(r"held-out latent norm $|z|^2$")
    ax.set_ylabel("density")
    ax.legend(fontsize=13)
    ax = axes[2]
    w = 0.38
    pos = np.arange(d)
    for off, g, col, name in ((-w / 2, res["gof"], "tab:blue", "accepted"),
                              (w / 2, res["gof_under"], "tab:red", "under-trained")):
        ax.bar(pos + off, np.clip(g["per_dim_ks_p"], 1e-12, 1), w, color=col,
               label=f"{name} (classifier AUC {g['classifier_auc']:.3f})")
    ax.axhline(cfg["alpha"] / d, color="k", ls="--", label=rf"$\alpha/d$ = {cfg['alpha'] / d:.3g}")
    ax.set_yscale("log")
    ax.set_xticks(pos, [LABELS.get(f, f).replace(" [GeV]", "") for f in features])
    ax.set_xlabel("posterior parameter")
    ax.set_ylabel("per-dimension KS p-value")
    ax.set_ylim(top=1e3)  # room for the legend above the bars (p <= 1)
    ax.legend(fontsize=13, loc="upper right")
    fig.subplots_adjust(wspace=0.3)
    return plotting.save(fig, path)

