"""OmniJet-alpha figures: generation (multiplicity, jet mass, constituent pT)
and transfer (accuracy vs labelled jets)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import MODES
from .data import OBSERVABLES, observables

_STYLE = {"real": dict(color="black", histtype="step", lw=2, label="held-out jets"),
          "generated": dict(color="tab:red", histtype="step", lw=2, label="OmniJet-style generated"),
          "reconstructed": dict(color="tab:blue", histtype="step", lw=1.5, ls="--", label="tokenized (VQ-VAE)"),
          "unigram": dict(color="tab:gray", histtype="step", lw=1.5, ls=":", label="baseline: i.i.d. tokens")}


def plot_generation(samples: dict, gen: dict, path: str | Path, rlabel: str = "") -> None:
    """Three panels like the paper's generation figure: multiplicity, jet
    mass, constituent pT; held-out vs generated vs tokenized vs baseline."""
    import matplotlib.pyplot as plt

    from ... import plotting

    plotting.style()
    obs = {k: observables(v) for k, v in samples.items() if k in _STYLE}
    fig, axes = plt.subplots(1, 3, figsize=(25, 7.5))
    fig.subplots_adjust(wspace=0.32)
    n_max = samples["real"].shape[1]
    allpt = np.concatenate([o["constituent_pt"] for o in obs.values()])
    bins = {"multiplicity": np.arange(-0.5, n_max + 1.5),
            "mass": np.linspace(0, np.percentile(obs["real"]["mass"], 99.5) * 1.2, 40),
            "constituent_pt": np.geomspace(max(allpt.min(), 0.5), allpt.max() * 1.05, 40)}
    xl = {"multiplicity": "constituent multiplicity", "mass": "jet mass [GeV]",
          "constituent_pt": "constituent $p_T$ [GeV]"}
    for ax, o in zip(axes, OBSERVABLES):
        for k, st in _STYLE.items():
            lab = st["label"] + ("" if k == "real" else f" (W1 {gen['w1'][k][o]:.3g})")
            ax.hist(obs[k][o], bins=bins[o], density=True, **{**st, "label": lab})
        ax.set_xlabel(xl[o])
        ax.set_ylabel("normalized")
        if o == "constituent_pt":
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_ylim(top=ax.get_ylim()[1] * (30 if o == "constituent_pt" else 1.45))
        ax.legend(fontsize=12, loc="upper right", title=rlabel if o == "multiplicity" else None, title_fontsize=12)
        plotting.label(ax)
    plotting.save(fig, path)


def plot_transfer(tr: dict, path: str | Path, rlabel: str = "") -> None:
    """Accuracy vs number of labelled jets for scratch / frozen / fine-tuned."""
    import matplotlib.pyplot as plt

    from ... import plotting

    plotting.style()
    fig, ax = plt.subplots(figsize=(9, 7))
    x = np.array(tr["sizes"])
    for m, c in zip(MODES, ("tab:gray", "tab:blue", "tab:red")):
        mu = np.array([tr["mean"][m][str(s)] for s in x])
        sd = np.array([tr["std"][m][str(s)] for s in x])
        ax.errorbar(x, mu, yerr=sd, marker="o", capsize=4, color=c,
                    label={"scratch": "from scratch", "frozen": "frozen backbone (head only)",
                           "finetuned": "fine-tuned backbone"}[m])
    ax.set_xscale("log")
    ax.set_xlabel("labelled training jets")
    ax.set_ylabel(f"test accuracy ({tr['tag_classes'][1]} vs {tr['tag_classes'][0]})")
    ax.legend(fontsize=14, loc="lower right")
    plotting.label(ax, rlabel=rlabel)
    plotting.save(fig, path)


def load_samples(path: str | Path) -> dict:
    """The samples the generation figure shows (samples.npz of the backbone step)."""
    from pathlib import Path

    from ...errors import InputError

    path = Path(path)
    if not path.exists():
        raise InputError(path, None, "file does not exist")
    with np.load(path) as z:
        missing = [k for k in (*_STYLE, *TESTED) if k not in z.files]
        if missing:
            raise InputError(path, missing[0], "sample missing")
        return {k: z[k] for k in (*_STYLE, *TESTED)}


#: the samples the generation test compares with the held-out jets
TESTED = ("generated", "reconstructed", "unigram", "iid_data_multiplicity")
#: per-jet observables the generation claim is about
JET_OBSERVABLES = ("multiplicity", "mass")


def generation_test(samples: dict, n_boot: int = 200, seed: int = 0) -> dict:
    """W1 of multiplicity and jet mass to the held-out jets for the generated
    jets, the tokenizer's reconstruction floor (the held-out jets tokenized
    and decoded: what a perfect token model reaches) and the i.i.d.-token
    nulls, with bootstrap standard errors (held-out and reconstructed jets
    resampled together, every other sample on its own) of

    * ``beats_<null>``: W1(null) - W1(generated),
    * ``gap_fraction``: (W1(generated) - W1(floor)) / (W1(unigram) - W1(floor)),
      the share of the i.i.d. tokens' excess over the floor the generator leaves.
    """
    from scipy.stats import wasserstein_distance

    from .data import observables

    obs = {k: observables(samples[k]) for k in ("real", *TESTED)}
    rng = np.random.default_rng([seed, 2403])

    def derived(idx: dict) -> dict:
        w = {k: {o: float(wasserstein_distance(obs[k][o][idx[k]], obs["real"][o][idx["real"]]))
                 for o in JET_OBSERVABLES} for k in TESTED}
        out = {}
        for o in JET_OBSERVABLES:
            g, f, u = w["generated"][o], w["reconstructed"][o], w["unigram"][o]
            out[f"beats_unigram_{o}"] = u - g
            out[f"beats_iid_data_multiplicity_{o}"] = w["iid_data_multiplicity"][o] - g
            out[f"gap_fraction_{o}"] = (g - f) / max(u - f, 1e-12)
        return out | {"w1": w}

    ident = {k: np.arange(len(obs[k]["mass"])) for k in ("real", *TESTED)}
    point = derived(ident)
    reps = []
    for _ in range(n_boot):
        idx = {k: rng.integers(0, len(v), len(v)) for k, v in ident.items()}
        idx["reconstructed"] = idx["real"]  # the floor is the held-out jets themselves, tokenized
        reps.append(derived(idx))
    keys = [k for k in point if k != "w1"]
    return {"w1": point["w1"], "value": {k: point[k] for k in keys},
            "se": {k: float(np.std([r[k] for r in reps], ddof=1)) for k in keys},
            "n_boot": n_boot, "n_real": int(len(ident["real"])), "n_generated": int(len(ident["generated"])),
            "rule": "bootstrap (200 resamples) of the held-out jets (with their reconstructions) and of each "
                    "generated / baseline sample; W1 of per-jet multiplicity and jet mass"}
