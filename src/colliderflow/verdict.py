"""Falsifiable verdicts: a paper's claim as comparisons with named competitors.

A claim is decided by one or more :class:`Comparison` objects. Each compares
the method with one named competitor (the paper's own competitor, or the
naive alternative / null control) on one named statistic, over paired seeds,
a bootstrap of the test set or pseudo-experiments, and states

* ``effect``: the method's advantage, oriented so that a positive value
  favours the claim (``method - other`` when higher is better),
* ``error``: the standard error of ``effect``,
* ``margin`` and ``k``: the claim holds when ``effect - k * error > margin``.
  ``margin >= 0`` asks for superiority (the method beats the competitor by
  more than ``k`` standard errors plus the margin); ``margin < 0`` is a
  non-inferiority tolerance (the method is not worse by more than ``-margin``
  at ``k`` standard errors). :meth:`Comparison.within` builds two-sided
  closure / equivalence tests (``|effect| + k * error < tolerance``).
* ``reason``: why this margin (a tolerance is never unexplained).

The study's ``verdict(metrics, cfg)`` returns ``Verdict.of(comparisons, ...)``;
``holds`` is then the conjunction of the required comparisons, and
metrics.json carries the standard ``verdict`` block (claim, every comparison
with method and competitor values, effect +- error, margin, n) that the
summary and the report show beside yes/no.

No numpy import at module level: the study specs (imported when Snakemake
parses the workflow) use this module.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

#: how the error of a comparison was estimated
OVER = ("paired seeds", "seeds", "bootstrap", "pseudo-experiments", "exact")


def _f(x: Any) -> float:
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"a verdict needs finite numbers, got {x}")
    return x


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error (ddof 1) of a sample; the error of one value is inf."""
    xs = [_f(v) for v in values]
    n = len(xs)
    if n == 0:
        raise ValueError("mean_se of an empty sample")
    m = sum(xs) / n
    if n == 1:
        return m, math.inf
    var = sum((x - m) ** 2 for x in xs) / (n - 1)
    return m, math.sqrt(var / n)


def bootstrap_se(stat: Callable[..., float], *arrays: Any, n: int = 200, seed: int = 0) -> float:
    """Standard error of ``stat(*arrays)`` from ``n`` bootstrap resamples of the
    rows (the arrays share their first axis and are resampled together, so a
    difference of two statistics on one test set is a paired bootstrap)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    arrs = [np.asarray(a) for a in arrays]
    size = len(arrs[0])
    if any(len(a) != size for a in arrs):
        raise ValueError("bootstrap_se: arrays of different lengths")
    reps = np.empty(n)
    for i in range(n):
        idx = rng.integers(0, size, size)
        reps[i] = stat(*(a[idx] for a in arrs))
    return float(np.std(reps, ddof=1))


@dataclasses.dataclass(frozen=True)
class Comparison:
    """The method against one competitor on one statistic (see the module doc)."""

    competitor: str
    statistic: str
    method: float
    other: float | None
    effect: float
    error: float
    margin: float
    k: float
    n: int
    over: str
    reason: str
    null: bool = False          # the competitor is the naive alternative / a null control
    required: bool = True       # part of the claim (False: shown for context only)
    two_sided: bool = False     # |effect| + k * error < margin (closure / equivalence)

    def __post_init__(self) -> None:
        if self.over not in OVER:
            raise ValueError(f"Comparison.over must be one of {OVER}, not {self.over!r}")
        if not self.reason:
            raise ValueError(f"comparison with {self.competitor}: the margin needs its reason")
        if self.two_sided and self.margin <= 0:
            raise ValueError("a two-sided comparison needs a positive tolerance")
        for name in ("method", "effect", "margin", "k"):
            _f(getattr(self, name))
        if math.isnan(self.error) or self.error < 0:
            raise ValueError(f"comparison with {self.competitor}: error must be >= 0")

    @property
    def holds(self) -> bool:
        if math.isinf(self.error):  # one seed and no bootstrap: nothing can be concluded
            return False
        if self.two_sided:
            return abs(self.effect) + self.k * self.error < self.margin
        return self.effect - self.k * self.error > self.margin

    @property
    def test(self) -> str:
        """The criterion in words, e.g. ``effect - 2 SE > 0``."""
        if self.two_sided:
            return f"|effect| + {self.k:g} SE < {self.margin:.4g}"
        return f"effect - {self.k:g} SE > {self.margin:.4g}"

    # ----------------------------------------------------------------- builders
    @classmethod
    def paired(cls, competitor: str, statistic: str, method: Sequence[float], other: Sequence[float], *,
               margin: float = 0.0, k: float = 2.0, reason: str, higher_is_better: bool = True,
               **kw: Any) -> Comparison:
        """Paired seeds (or paired splits): the effect is the mean of the
        per-seed differences, its error their standard error."""
        if len(method) != len(other):
            raise ValueError(f"paired comparison with {competitor}: {len(method)} vs {len(other)} seeds")
        sign = 1.0 if higher_is_better else -1.0
        diffs = [sign * (_f(a) - _f(b)) for a, b in zip(method, other, strict=True)]
        effect, se = mean_se(diffs)
        return cls(competitor, statistic, mean_se(method)[0], mean_se(other)[0], effect, se, margin, k,
                   len(diffs), "paired seeds", reason, **kw)

    @classmethod
    def estimate(cls, competitor: str, statistic: str, method: float, other: float | None, error: float, *,
                 n: int, over: str, margin: float = 0.0, k: float = 2.0, reason: str,
                 higher_is_better: bool = True, **kw: Any) -> Comparison:
        """A difference with an error estimated elsewhere (bootstrap of the
        test set, pseudo-experiments); ``other`` None compares with a fixed
        target already folded into ``margin``."""
        sign = 1.0 if higher_is_better else -1.0
        effect = sign * (_f(method) - (0.0 if other is None else _f(other)))
        return cls(competitor, statistic, _f(method), None if other is None else _f(other), effect, float(error),
                   margin, k, int(n), over, reason, **kw)

    @classmethod
    def within(cls, competitor: str, statistic: str, value: float, target: float, error: float, *,
               tolerance: float, n: int, over: str, k: float = 2.0, reason: str, **kw: Any) -> Comparison:
        """Closure / equivalence: ``|value - target| + k * error < tolerance``."""
        return cls(competitor, statistic, _f(value), _f(target), _f(value) - _f(target), float(error),
                   float(tolerance), k, int(n), over, reason, two_sided=True, **kw)

    def as_json(self) -> dict:
        def r(x: float | None) -> float | None:
            return None if x is None else (x if math.isinf(x) else round(x, 6))

        return {"competitor": self.competitor, "statistic": self.statistic, "method": r(self.method),
                "other": r(self.other), "effect": r(self.effect),
                "error": None if math.isinf(self.error) else r(self.error), "margin": r(self.margin), "k": self.k,
                "test": self.test, "n": self.n, "over": self.over, "null": self.null,
                "required": self.required, "holds": self.holds, "reason": self.reason}


def decide(comparisons: Sequence[Comparison]) -> bool:
    """The claim holds when every required comparison holds (and there is one)."""
    req = [c for c in comparisons if c.required]
    return bool(req) and all(c.holds for c in req)


def describe(c: dict) -> str:
    """One comparison of a metrics.json ``verdict`` block in a few words, for the summary:
    ``vs CATHODE (max SIC): +1.2 +- 0.3, needs > 0 at 2 SE, 3 paired seeds: yes``."""
    err = "n/a" if c["error"] is None else f"{c['error']:.2g}"
    need = (f"|.| < {c['margin']:.3g}" if "|effect|" in c["test"] else f"> {c['margin']:.3g}") + f" at {c['k']:g} SE"
    tag = " (null)" if c.get("null") else ""
    ctx = "" if c.get("required", True) else ", context only"
    return (f"vs {c['competitor']}{tag} ({c['statistic']}): {c['effect']:+.3g} +- {err}, needs {need}, "
            f"{c['n']} {c['over']}{ctx}: {'yes' if c['holds'] else 'no'}")
