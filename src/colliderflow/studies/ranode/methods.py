"""The methods of the resonant-AD family and the aggregate of the per-seed
scans: numpy only, so the report steps import no torch."""

from __future__ import annotations

import numpy as np

METHODS = ["supervised", "iad", "anode", "cathode", "ranode_true_w", "ranode_wrong_w", "ranode_learn_w", "transit",
           "untransported"]
METHOD_LABELS = {
    "supervised": "Supervised", "iad": "IAD (idealised)", "anode": "ANODE", "cathode": "CATHODE",
    "ranode_true_w": "R-ANODE (true $w$)", "ranode_wrong_w": "R-ANODE (wrong $w$)",
    "ranode_learn_w": "R-ANODE (learned $w$)", "transit": "TRANSIT (CWoLa)",
    "untransported": "sidebands, not transported (CWoLa)",
}


def per_seed(scans: list[dict], method: str, lo: float, hi: float) -> list[float]:
    """Per seed (scans in scan-seed order): the mean max SIC of ``method`` over
    the injections with lo < S/sqrt(B) <= hi (the paired samples of a verdict)."""
    out = []
    for s in sorted(scans, key=lambda s: s.get("scan_seed", s["seed"])):
        v = [inj["max_sic"][method] for inj in s["injections"].values() if lo < inj["s_over_sqrt_b"] <= hi]
        if not v:
            raise ValueError(f"no injection with {lo} < S/sqrt(B) <= {hi}")
        out.append(float(np.mean(v)))
    return out


def aggregate(scans: list[dict]) -> dict:
    """Median and 16/84 % quantiles over seeds of max SIC (per method and
    injection) and of the learned w."""
    injections = sorted({int(k) for s in scans for k in s["injections"]})
    out = {"injections": injections, "max_sic": {}, "w": {}}
    for method in METHODS:
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
