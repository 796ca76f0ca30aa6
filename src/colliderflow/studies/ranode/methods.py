"""The methods of the resonant-AD family and the aggregate of the per-seed
scans: numpy only, so the report steps import no torch."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ...errors import InputError
from .jobs import METHODS as _METHODS
from .jobs import ordered

METHODS = list(_METHODS)
METHOD_LABELS = {
    "supervised": "Supervised", "iad": "IAD (idealised)", "anode": "ANODE", "cathode": "CATHODE",
    "ranode_true_w": "R-ANODE (true $w$)", "ranode_wrong_w": "R-ANODE (wrong $w$)",
    "ranode_learn_w": "R-ANODE (learned $w$)", "transit": "TRANSIT (CWoLa)",
    "untransported": "sidebands, not transported (CWoLa)",
}


def per_seed(scans: list[dict], method: str, lo: float, hi: float) -> list[float]:
    """Per seed (in scan-seed order): the mean max SIC of ``method`` over the
    injections with lo < S/sqrt(B) <= hi (the paired samples of a verdict);
    records of the same seed with several training splits are averaged
    (the splits share the injected signal: they are not independent)."""
    by_seed: dict[int, list[float]] = {}
    for s in sorted(scans, key=lambda s: (s.get("scan_seed", s["seed"]), s.get("split", 0))):
        v = [inj["max_sic"][method] for inj in s["injections"].values() if lo < inj["s_over_sqrt_b"] <= hi]
        if not v:
            raise ValueError(f"no injection with {lo} < S/sqrt(B) <= {hi}")
        by_seed.setdefault(s.get("scan_seed", s["seed"]), []).append(float(np.mean(v)))
    return [float(np.mean(v)) for v in by_seed.values()]


def merge_cells(cells: Iterable[tuple[str, dict]], methods: Sequence[str] = _METHODS) -> list[dict]:
    """The scan jobs' outputs ((path, JSON) pairs, any layout of
    :mod:`.jobs`) merged into one record per seed and split, in (seed, split)
    order: every configured method (``methods``: studies.ranode.methods) at
    every injection, as one process computing the whole seed would have
    written it. A configured method missing at an injection is an error
    naming the seed and split."""
    recs: dict[tuple[int, int], dict] = {}
    first_path: dict[tuple[int, int], str] = {}
    for path, c in cells:
        key = (int(c["scan_seed"]), int(c.get("split", 0)))
        r = recs.setdefault(key, {"seed": c["seed"], "scan_seed": key[0], "split": key[1], "injections": {},
                                  "curves": {}, "cpu_seconds": {}, "training": {}, "frozen_models": {}})
        first_path.setdefault(key, str(path))
        for f in ("n_background_sr", "n_test_background", "n_test_signal"):
            r[f] = c[f]
        for name, rec in c.get("frozen_models", {}).items():
            if rec is not None or name not in r["frozen_models"]:
                r["frozen_models"][name] = rec
        if "supervised_max_sic" in c:
            r["supervised_max_sic"] = c["supervised_max_sic"]
        for n, inj in c["injections"].items():
            into = r["injections"].setdefault(n, {"max_sic": {}})
            into.update({k: v for k, v in inj.items() if k != "max_sic"})
            into["max_sic"].update(inj["max_sic"])
        r["curves"].update(c.get("curves", {}))
        for m, v in c.get("cpu_seconds", {}).items():
            r["cpu_seconds"][m] = r["cpu_seconds"].get(m, 0.0) + v
        for m, by_n in c.get("training", {}).items():
            r["training"].setdefault(m, {}).update(by_n)
    out = []
    for key in sorted(recs):
        r = recs[key]
        if "supervised_max_sic" in r:
            for inj in r["injections"].values():
                inj["max_sic"].setdefault("supervised", r["supervised_max_sic"])
        missing = sorted({f"{m} at N_sig={n}" for n, inj in r["injections"].items() for m in methods
                          if m not in inj["max_sic"]})
        if not r["injections"] or missing:
            raise InputError(first_path[key], "max_sic", f"scan seed {key[0]} split {key[1]} is incomplete: "
                             f"{', '.join(missing[:5]) or 'no injection'}{' ...' if len(missing) > 5 else ''}")
        r["injections"] = dict(sorted(r["injections"].items(), key=lambda kv: int(kv[0])))
        out.append(r)
    return out


def aggregate(scans: list[dict], methods: Sequence[str] = _METHODS) -> dict:
    """Median and 16/84 % quantiles (the 68 % band the paper plots) over the
    records (seeds x training splits) of max SIC (per method and injection,
    for the configured ``methods``) and of the learned w."""
    injections = sorted({int(k) for s in scans for k in s["injections"]})
    out = {"injections": injections, "max_sic": {}, "w": {}}
    for method in ordered(methods):
        rows = []
        for n in injections:
            v = np.array([s["injections"][str(n)]["max_sic"][method] for s in scans], float)
            rows.append({"n_sig": n, "median": float(np.nanmedian(v)), "q16": float(np.nanquantile(v, 0.16)),
                         "q84": float(np.nanquantile(v, 0.84)), "values": v.tolist()})
        out["max_sic"][method] = rows
    for n in injections:
        inj = [s["injections"][str(n)] for s in scans]
        wl = np.array([i["w_learned"] for i in inj], float)
        out["w"][str(n)] = {"w_true": inj[0]["w_true"], "s_over_sqrt_b": inj[0]["s_over_sqrt_b"],
                            "learned_median": float(np.median(wl)), "learned_q16": float(np.quantile(wl, 0.16)),
                            "learned_q84": float(np.quantile(wl, 0.84)), "learned": wl.tolist()}
    cpu = {}
    for s in scans:
        for k, v in s["cpu_seconds"].items():
            cpu[k] = cpu.get(k, 0.0) + v
    out["cpu_seconds_per_method"] = cpu
    return out
