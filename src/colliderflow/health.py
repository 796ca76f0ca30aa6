"""Training health: did a model learn, and the ``training`` block of metrics.json.

Every training records its validation loss before the first optimiser step
(``initial``), the best and the last (``best``, ``final``), the improvement
``initial - best``, the optimiser steps and ``trained``: at least one step
and an improvement of at least ``min_improvement`` (loss units; the shared
loop's default is :data:`MIN_IMPROVEMENT`, a study may state its own check).

The shared loop (:func:`colliderflow.nn.train.fit`, hence ``train_flow``)
adds a record per training to this process's :data:`RECORDS`; study-specific
loops add theirs with :func:`add`. :func:`block` summarises records per model
name (folds, seeds and injections of one model together) into the
``training`` block of metrics.json; :meth:`colliderflow.study.Context.write_metrics`
writes it and reports a study with an untrained model as ``did not train``
(``holds: null``), never as a physics result.

Trainings and the report often run in different jobs. The job that trains
saves its records beside each of its outputs (:func:`save_beside`: a hidden
``.<output>.health.json``, or ``.health.json`` inside an output folder); a
downstream job that writes no metrics carries its inputs' records on the
same way, and the job that writes metrics.json merges its inputs' records
with its own (:func:`load_beside`), so a model trained three jobs upstream
still lands in the ``training`` block. Each record keeps its ``origin`` (the
training job's first output and its index there), so a record reached by
two paths counts once.

No torch here: the studies' verdict modules import it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

MIN_IMPROVEMENT = 1e-3

#: (model name, health record) of every training run in this process
RECORDS: list[tuple[str, dict]] = []
#: set when this process wrote a metrics.json (its trainings are reported there)
REPORTED = False


def _num(x: float) -> float | None:
    x = float(x)
    return round(x, 6) if math.isfinite(x) else None


def record(initial: float, best: float, final: float, steps: int, min_improvement: float = MIN_IMPROVEMENT,
           criterion: str | None = None, trained: bool | None = None) -> dict:
    """One training's health. ``trained`` defaults to the loss criterion
    (``steps > 0`` and ``initial - best >= min_improvement``); a study-specific
    check passes its own ``trained`` and ``criterion`` text."""
    improvement = float(initial) - float(best)
    if trained is None:
        trained = bool(steps > 0 and not math.isnan(improvement) and improvement >= min_improvement)  # inf -> finite
    return {"initial": _num(initial), "best": _num(best), "final": _num(final), "improvement": _num(improvement),
            "steps": int(steps), "trained": bool(trained),
            "criterion": criterion or f"validation loss falls by >= {min_improvement:g} from its initial value"}


def add(name: str, rec: dict) -> None:
    """Keep a training's record for this process's metrics.json."""
    RECORDS.append((str(name), dict(rec)))


def clear() -> None:
    global REPORTED
    RECORDS.clear()
    REPORTED = False


def sidecar(path: str | Path) -> Path:
    """Where the health records of ``path`` (an output file or folder) live."""
    path = Path(path)
    return path / ".health.json" if path.is_dir() else path.with_name(f".{path.name}.health.json")


def load_beside(paths: Iterable[str | Path]) -> list[tuple[str, dict]]:
    """The health records saved beside ``paths`` (a job's inputs), each once."""
    out: list[tuple[str, dict]] = []
    seen: set[str] = set()
    for p in paths:
        side = sidecar(p)
        if not side.is_file():
            continue
        try:
            records = json.loads(side.read_text())["records"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            from .errors import InputError

            raise InputError(side, "records", f"not a training-health file ({type(exc).__name__})") from None
        for name, rec in records:
            key = str(rec.get("origin", f"{side}#{len(out)}"))
            if key not in seen:
                seen.add(key)
                out.append((str(name), dict(rec)))
    return out


def save_beside(paths: Iterable[str | Path], records: Iterable[tuple[str, Mapping]]) -> list[Path]:
    """Save ``records`` beside every existing output in ``paths`` (written
    whole, then renamed: never half a file). Returns the files written."""
    records = [[str(name), dict(rec)] for name, rec in records]
    if not records:
        return []
    from .io import atomic_path

    text = json.dumps({"records": records}, indent=1, sort_keys=True) + "\n"
    written = []
    for p in paths:
        if not os.path.exists(p):
            continue
        with atomic_path(sidecar(p)) as tmp:
            tmp.write_text(text)
        written.append(sidecar(p))
    return written


def with_origin(records: Iterable[tuple[str, Mapping]], origin: str) -> list[tuple[str, dict]]:
    """This job's own records, each stamped with where it was trained (records
    carried from upstream keep their origin)."""
    return [(name, {**rec, "origin": rec.get("origin", f"{origin}#{i}")}) for i, (name, rec) in enumerate(records)]


def block(records: Iterable[tuple[str, Mapping]] | None = None) -> dict:
    """The ``training`` block: per model name, the number of trainings, how
    many trained, the mean initial/best/final validation loss, the smallest
    improvement, the steps, the criterion, ``trained`` (all of them did),
    the devices they ran on (``cpu``, ``cuda:0``) and, where torch.compile
    ran, how many were ``compiled``."""
    groups: dict[str, list[Mapping]] = {}
    for name, rec in (RECORDS if records is None else records):
        groups.setdefault(name, []).append(rec)
    out = {}
    for name, recs in groups.items():
        def mean(key: str) -> float | None:
            vals = [r[key] for r in recs if r.get(key) is not None]
            return round(sum(vals) / len(vals), 6) if vals else None

        imps = [r["improvement"] for r in recs if r.get("improvement") is not None]
        n_ok = sum(bool(r["trained"]) for r in recs)
        out[name] = {"n": len(recs), "n_trained": n_ok, "initial": mean("initial"), "best": mean("best"),
                     "final": mean("final"), "improved": mean("improvement"),
                     "min_improvement": min(imps) if imps else None,
                     "steps": sum(int(r.get("steps", 0)) for r in recs),
                     "criterion": recs[0].get("criterion", ""), "trained": n_ok == len(recs),
                     "devices": sorted({str(r.get("device", "cpu")) for r in recs})}
        if any(r.get("compiled") for r in recs):  # torch.compile ran (eager blocks read as before)
            out[name]["compiled"] = sum(bool(r.get("compiled")) for r in recs)
    return out


def untrained(training: Mapping | None) -> list[str]:
    """The models of a ``training`` block that did not train (sorted)."""
    return sorted(name for name, m in (training or {}).items() if not m.get("trained", True))


def did_not_train(training: Mapping | None) -> str | None:
    """The verdict text when a model did not learn (None when all did)."""
    bad = untrained(training)
    if not bad:
        return None
    parts = []
    for name in bad:
        m = training[name]
        parts.append(f"{name} ({m.get('n_trained', 0)}/{m.get('n', 1)} trained; validation loss "
                     f"{m.get('initial')} -> {m.get('best')}; {m.get('criterion', '')})")
    return "did not train: " + "; ".join(parts)
