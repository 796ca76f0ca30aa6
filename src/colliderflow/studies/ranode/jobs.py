"""The R-ANODE scan as jobs: which (method, injection, seed, split) cells one
job computes (``studies.ranode.scan_job``). Pure Python: the Snakefile imports
it to list the scan's outputs, so it must stay cheap to import.

A scan *cell* is one method at one signal injection for one seed (the
injected signal sample) and one split (the training split: fold partition and
initialisation of the signal-region models). Each job writes one JSON file
``results/ranode/scan/<method>/n<n_sig>_seed<seed>_split<split>.json`` where
``method`` and ``n_sig`` are ``all`` when the job loops over them:

* ``seed``: one job per seed and split, every method at every injection (the
  default tier: few jobs, each process started once -- ~1.5 CPU s with torch);
* ``method``: one job per method, seed and split, every injection;
* ``cell``: one job per method, injection, seed and split (the paper tier:
  thousands of independent jobs for a cluster, grouped by ``group:``).

The supervised classifier does not depend on the injection: it has one job
per seed and split (``n_sig = all``) in the ``method`` and ``cell`` layouts.
Only the methods of ``studies.ranode.methods`` are listed or computed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

#: every method of the scan, in the order of the figures and metrics
METHODS = ("supervised", "iad", "anode", "cathode", "ranode_true_w", "ranode_wrong_w", "ranode_learn_w", "transit",
           "untransported")
#: methods a verdict reads, so ``studies.ranode.methods`` must list them: R-ANODE's (learned and true w against
#: CATHODE, the IAD and ANODE) and TRANSIT's (its CWoLa classifier against CATHODE, the IAD and the untransported
#: sidebands, read from this scan). The others (supervised, ranode_wrong_w) are in the figures only.
VERDICT_METHODS = ("iad", "anode", "cathode", "ranode_true_w", "ranode_learn_w", "transit", "untransported")
#: methods whose scores do not depend on the injection
INJECTION_FREE = ("supervised",)
#: methods that need the TRANSIT model (the untransported null draws as many events as TRANSIT's template holds)
NEEDS_TRANSIT = ("transit", "untransported")
ALL = "all"
PATTERN = "results/ranode/scan/{method}/n{n_sig}_seed{scan_seed}_split{split}.json"


def ordered(methods: Sequence[str]) -> tuple[str, ...]:
    """``methods`` in the order of :data:`METHODS` (the figures' and metrics' order)."""
    chosen = set(methods)
    return tuple(m for m in METHODS if m in chosen)


def configured(cfg: Mapping) -> tuple[str, ...]:
    """The methods the scan computes (``studies.ranode.methods``; default
    every method), in the order of :data:`METHODS`."""
    chosen = cfg.get("methods")
    return METHODS if chosen is None else ordered(chosen)


def cells(cfg: Mapping) -> list[dict]:
    """The scan's jobs from the ``studies.ranode`` section (a mapping: the
    Snakefile's config or a Config's fields): wildcards of each job (the
    ``method`` and ``cell`` layouts list only the configured methods)."""
    layout = cfg.get("scan_job", "seed")
    methods = configured(cfg)
    seeds, splits = range(int(cfg["seeds"])), range(int(cfg.get("splits", 1)))
    injections = [str(int(n)) for n in cfg["injections"]]
    out = []
    for s in seeds:
        for p in splits:
            if layout == "seed":
                out.append({"method": ALL, "n_sig": ALL, "scan_seed": s, "split": p})
                continue
            for m in methods:
                per_injection = layout == "cell" and m not in INJECTION_FREE
                for n in (injections if per_injection else [ALL]):
                    out.append({"method": m, "n_sig": n, "scan_seed": s, "split": p})
    return out


def paths(cfg: Mapping) -> list[str]:
    """Every scan job's output (the aggregation step's inputs)."""
    return [PATTERN.format(**c) for c in cells(cfg)]


def methods_of(method: str, methods: Sequence[str] = METHODS) -> tuple[str, ...]:
    """The methods one job computes (wildcard ``method``) among the configured
    ``methods`` (``studies.ranode.methods``)."""
    if method == ALL:
        return ordered(methods)
    if method not in methods:
        raise ValueError(f"scan method {method!r} is not configured (one of {', '.join(methods)} or {ALL})")
    return (method,)


def injections_of(n_sig: str, injections: Sequence[int]) -> tuple[int, ...]:
    """The injections one job computes (wildcard ``n_sig``)."""
    if n_sig == ALL:
        return tuple(int(n) for n in injections)
    if int(n_sig) not in {int(n) for n in injections}:
        raise ValueError(f"n_sig {n_sig} is not one of the injections {list(injections)}")
    return (int(n_sig),)


def needs_transit(method: str, methods: Sequence[str] = METHODS) -> bool:
    return any(m in NEEDS_TRANSIT for m in methods_of(method, methods))
