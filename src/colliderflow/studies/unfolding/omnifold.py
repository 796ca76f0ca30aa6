"""OmniFold (Andreassen et al.): unbinned unfolding by iterated two-step
classifier reweighting of the simulation, here in PyTorch.

Step 1 (reco level): a classifier of data against simulation, whose truth
is weighted by the current push weights nu, gives pull weights
omega = nu * p_data / p_sim on the simulated pairs. Step 2 (particle level):
a classifier of the simulated truth weighted by omega against the
unweighted truth gives the new push weights nu(truth), a function of the
particle level only, so it also applies to jets lost to the efficiency.
Simulated fakes enter step 1 with their own weight, beside the real jets
weighted by nu normalised over all particle-level jets, so the fake share
follows the number of particle-level jets as in the data.
"""

from __future__ import annotations

import numpy as np

from .nets import Features, NetConfig, logit, train_classifier


def unfold(sim: dict, data: dict, feats: Features, iterations: int, cfg: NetConfig,
           max_weight: float = 50.0) -> np.ndarray:
    """Push weights on the simulated particle-level jets (``sim['gen_pass']``
    rows) after each of 1..``iterations`` iterations: (iterations, n_gen)."""
    matched = sim["gen_pass"] & sim["reco_pass"]
    x_reco, x_gen = feats(sim["reco"][matched]), feats(sim["gen"][matched])
    x_gen_all = feats(sim["gen"][sim["gen_pass"]])
    w_sim, w_gen_all = sim["weight"][matched], sim["weight"][sim["gen_pass"]]
    fake = sim["reco_pass"] & ~sim["gen_pass"]
    x_fake, w_fake = feats(sim["reco"][fake]), sim["weight"][fake]
    dsel = data["reco_pass"]
    x_data, w_data = feats(data["reco"][dsel]), data["weight"][dsel]
    nu_m = np.ones(matched.sum())
    out = []
    for it in range(iterations):
        c = NetConfig(**{**cfg.__dict__, "seed": cfg.seed + 2 * it + 1})
        # after iteration 1 data and reweighted simulation may be indistinguishable: a step-1 classifier that
        # rightly learns nothing is judged by its own-data loss (nets.OWN_DATA_CRITERION)
        m1 = train_classifier(np.concatenate([x_reco, x_fake]), np.concatenate([w_sim * nu_m, w_fake]), x_data, w_data,
                              c, desc=f"omnifold step1 it{it + 1}", may_learn_nothing=it > 0)
        omega = nu_m * np.clip(np.exp(logit(m1, x_reco)), 1 / max_weight, max_weight)
        c = NetConfig(**{**cfg.__dict__, "seed": cfg.seed + 2 * it + 2})
        m2 = train_classifier(x_gen, w_sim, x_gen, w_sim * omega, c, desc=f"omnifold step2 it{it + 1}")
        nu_all = np.clip(np.exp(logit(m2, x_gen_all)), 1 / max_weight, max_weight)
        norm = w_gen_all.sum() / (w_gen_all * nu_all).sum()    # nu averages to 1 over all particle-level jets
        nu_all *= norm
        nu_m = np.clip(np.exp(logit(m2, x_gen)), 1 / max_weight, max_weight) * norm
        out.append(nu_all * w_gen_all)
    return np.array(out)
