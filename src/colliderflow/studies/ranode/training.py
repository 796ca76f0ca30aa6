"""Training health of the resonant-AD family from the scans and saved
histories (no torch: the report jobs import it)."""

from __future__ import annotations

from ... import health

RANODE_METHODS = ("ranode_true_w", "ranode_wrong_w", "ranode_learn_w")


def training_block(scans: list[dict]) -> tuple[dict, dict]:
    """(``training`` block of metrics.json, per-injection detail) from the scans.

    The frozen background flow and TRANSIT are judged once, ANODE over every
    fold, seed and injection (it learns p_data, which always has structure).
    An R-ANODE signal flow can only lower the mixture loss by about
    w * (signal it finds), nothing at zero injection: its trainings are judged
    at the largest injection, the others are listed in the detail."""
    records: list[tuple[str, dict]] = []
    for name, rec in scans[0].get("frozen_models", {}).items():
        if rec is not None:
            records.append((name, rec))
    detail: dict = {}
    big = max(int(n) for s in scans for n in s["injections"])
    for method in ("anode", *RANODE_METHODS):
        by_n: dict[str, list] = {}
        for s in scans:
            for n, recs in s.get("training", {}).get(method, {}).items():
                by_n.setdefault(n, []).extend(recs)
        if not by_n:
            continue  # not computed (studies.ranode.methods)
        detail[method] = {n: health.block([(method, r) for r in recs])[method]
                          for n, recs in sorted(by_n.items(), key=lambda kv: int(kv[0]))}
        for n, recs in by_n.items():
            if method == "anode":
                records += [(method, r) for r in recs]
            elif int(n) == big:
                crit = f"judged at the largest injection (N_sig={big}): {recs[0]['criterion']}" if recs else ""
                records += [(method, {**r, "criterion": crit}) for r in recs]
    return health.block(records), detail


def history_health(hist: dict | None) -> dict | None:
    """The health record of a saved model's training history (None: saved without one)."""
    if not hist or "initial_val" not in hist:
        return None
    vals = hist.get("val_loss") or []
    best = hist["best_val"] if vals else hist["initial_val"]
    return health.record(hist["initial_val"], best, vals[-1] if vals else hist["initial_val"], hist.get("steps", 0),
                         hist.get("min_improvement", health.MIN_IMPROVEMENT))
