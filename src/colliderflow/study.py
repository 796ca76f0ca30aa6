"""The study contract: one shape for every paper colliderflow reproduces.

A study is one package ``colliderflow.studies.<name>``::

    studies/<name>/
        __init__.py    STUDY = Study(...): paper, title, claim, steps, figures, verdict
        config.py      the frozen dataclass of config["studies"][<name>]
        steps.py       one function per step: def <step>(ctx: Context) -> None
        schema.yaml    the JSON-schema fragment of its config section (defaults live here)
        caption.rst    the report caption of its figures
        ...            models, evaluation, plots (the science)

The package's ``__init__`` stays light (no torch import): the Snakefile reads
the spec when it parses the workflow. Step ``<step>`` of study ``<name>`` is
the function ``colliderflow.studies.<name>.steps.<step>`` and runs as the
Snakemake rule ``<name>_<step>``; the rule passes the study's config section
whole, and :func:`run_job` hands the function one :class:`Context`.

Datasets follow the same contract as the pseudo-study ``data``
(:mod:`colliderflow.data.spec`): its steps are ``colliderflow.data.steps.<step>``
and their rules are called ``<step>`` (``lhco_toy``, ``dimuon_toy``, ...).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import logging
import os
import resource
import sys
import time
import traceback
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import InputError

ENVS = ("io", "plot", "torch", "hls")
#: steps that belong to no single study: datasets, and what gathers the studies (summary)
PSEUDO_STUDIES = {"data": "colliderflow.data.spec", "shared": "colliderflow.shared"}


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of a study: a Snakemake rule and the function it runs.

    ``inputs``/``outputs`` name the rule's named inputs and outputs (the test
    suite checks the rules against them). ``section`` is the config section
    the step receives (default ``studies/<study>``), ``config`` its dataclass
    (default the study's). ``gpu``: the step can use a GPU, so cluster
    profiles request one. ``cached``: the output is kept between workflows
    (``snakemake --cache``; such a rule has no ``benchmark:``). ``mem_mb`` and
    ``runtime`` (minutes) are the cluster request of the first attempt.
    """

    name: str
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    env: str = "torch"
    gpu: bool = False
    cached: bool = False
    threads: int = 1
    mem_mb: int = 2000
    runtime: int = 30
    section: str | None = None
    config: type | None = None
    doc: str = ""

    def __post_init__(self) -> None:
        if self.env not in ENVS:
            raise ValueError(f"step {self.name}: env must be one of {ENVS}, not {self.env!r}")


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What a study's ``verdict(metrics, cfg)`` returns: whether the paper's
    claim holds here (computed from the metrics, never hand-set) and the key
    metric shown in the summary. ``claim`` overrides the spec's claim text
    where the text quotes a configured threshold."""

    holds: bool
    key_metric: dict
    claim: str | None = None
    comparisons: tuple = ()  # colliderflow.verdict.Comparison: the method against its named competitors

    def __post_init__(self) -> None:
        from .verdict import decide

        if not isinstance(self.holds, bool):
            raise TypeError("Verdict.holds must be a bool computed from the metrics")
        if "name" not in self.key_metric or "value" not in self.key_metric:
            raise ValueError("Verdict.key_metric needs 'name' and 'value'")
        if self.comparisons and self.holds != decide(self.comparisons):
            raise ValueError("Verdict.holds must be the conjunction of its required comparisons (use Verdict.of)")

    @classmethod
    def of(cls, comparisons: Sequence, key_metric: dict, claim: str | None = None) -> Verdict:
        """The claim decided by its comparisons (:mod:`colliderflow.verdict`):
        it holds when every required comparison holds."""
        from .verdict import decide

        return cls(holds=decide(comparisons), key_metric=key_metric, claim=claim, comparisons=tuple(comparisons))

    def block(self, claim: str, text: str) -> dict:
        """metrics.json's ``verdict`` block."""
        return {"text": text, "claim": claim, "comparisons": [c.as_json() for c in self.comparisons]}


@dataclasses.dataclass(frozen=True)
class Study:
    """A paper reproduced: what it claims, how it runs, how it is judged.

    ``figures`` are paths under ``results/<name>/`` shown in the Snakemake
    report with the package's ``caption.rst`` under ``category``.
    ``verdict(metrics, cfg) -> Verdict`` decides the claim from the numbers
    the report step computed (``metrics``) and the config section (``cfg``).
    """

    name: str
    paper: str
    title: str
    claim: str
    steps: tuple[Step, ...]
    config: type | None = None
    figures: tuple[str, ...] = ()
    category: str = ""
    verdict: Callable[[dict, Any], Verdict] | None = None
    package: str = ""

    def __post_init__(self) -> None:
        names = [s.name for s in self.steps]
        if len(set(names)) != len(names):
            raise ValueError(f"study {self.name}: step names repeat: {names}")
        if not self.package:
            object.__setattr__(self, "package", f"colliderflow.studies.{self.name}")

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(f"study {self.name} has no step {name!r} (steps: {', '.join(s.name for s in self.steps)})")

    def rule_name(self, step: str) -> str:
        """The Snakemake rule of a step: ``<study>_<step>``; the data and shared steps keep their own name."""
        return step if self.name in PSEUDO_STUDIES else f"{self.name}_{step}"

    def section(self, step: Step) -> str:
        return step.section or f"studies/{self.name}"

    def step_config(self, step: Step) -> type | None:
        return step.config or self.config

    @property
    def directory(self) -> Path:
        return Path(importlib.import_module(self.package).__file__).parent

    @property
    def caption(self) -> Path:
        return self.directory / "caption.rst"

    @property
    def schema(self) -> Path:
        return self.directory / "schema.yaml"

    def function(self, step: str) -> Callable[[Context], None]:
        """``<package>.steps.<step>``, imported on demand (it may import torch)."""
        self.step(step)
        module = importlib.import_module(f"{self.package}.steps")
        try:
            return getattr(module, step)
        except AttributeError:
            raise AttributeError(f"{module.__name__} has no step function {step!r}") from None


def study_names() -> list[str]:
    """Every study package under ``colliderflow/studies`` (sorted)."""
    import pkgutil

    from . import studies

    return sorted(m.name for m in pkgutil.iter_modules(studies.__path__) if m.ispkg)


def load(name: str) -> Study:
    """The spec of a study (``colliderflow.studies.<name>.STUDY``), of the
    datasets (``data``) or of the shared steps (``shared``)."""
    if name in PSEUDO_STUDIES:
        return importlib.import_module(PSEUDO_STUDIES[name]).STUDY
    try:
        module = importlib.import_module(f"colliderflow.studies.{name}")
    except ModuleNotFoundError:
        raise KeyError(f"unknown study {name!r}: no package colliderflow/studies/{name} "
                       f"(studies: {', '.join(study_names())})") from None
    spec = getattr(module, "STUDY", None)
    if not isinstance(spec, Study) or spec.name != name:
        raise KeyError(f"colliderflow/studies/{name}/__init__.py defines no STUDY = Study(name={name!r}, ...)")
    return spec


def resolve(step_id: str) -> tuple[Study, Step]:
    """``"omnijet.backbone"`` -> (its study, its step)."""
    study, _, step = step_id.partition(".")
    spec = load(study)
    return spec, spec.step(step)


# --------------------------------------------------------------------------- config sections


def build_config(cls: type | None, data: Any, where: str = "config") -> Any:
    """Turn a validated config section into the frozen dataclass ``cls``
    (nested dataclasses, lists as tuples). ``enabled`` is the workflow's, not
    the step's, and is dropped. A missing or unknown key raises
    :class:`InputError` naming ``where`` and the key."""
    if cls is None:
        return _freeze(data)
    return _convert(cls, data, where)


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return types.MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _convert(tp: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, Mapping):
            raise InputError("config", where, f"expected a mapping, got {type(value).__name__}")
        hints = typing.get_type_hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        unknown = sorted(set(value) - names - {"enabled"})
        if unknown:
            raise InputError("config", f"{where}.{unknown[0]}", f"not a field of {tp.__name__}")
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in value:
                kwargs[f.name] = _convert(hints[f.name], value[f.name], f"{where}.{f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise InputError("config", f"{where}.{f.name}", "missing (the schema gives every default)")
        return tp(**kwargs)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, where) if len(inner) == 1 else _freeze(value)
    if origin in (tuple, list):
        item = args[0] if args else Any
        return tuple(_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        item = args[1] if len(args) == 2 else Any
        return types.MappingProxyType({k: _convert(item, v, f"{where}.{k}") for k, v in value.items()})
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return _freeze(value)


# --------------------------------------------------------------------------- the context


class Paths:
    """A rule's inputs or outputs: by name (``ctx.input.model``), by position
    (``ctx.input[0]``) and iterable. A name with several files is a list."""

    def __init__(self, all_: list[str], named: Mapping[str, str | list[str]]) -> None:
        self._all = list(all_)
        self._named = dict(named)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_named"][name]
        except KeyError:
            raise AttributeError(f"no input/output named {name!r} (named: {', '.join(self._named) or 'none'})") \
                from None

    def __getitem__(self, i: int) -> str:
        return self._all[i]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all)

    def __len__(self) -> int:
        return len(self._all)

    def names(self) -> dict[str, str | list[str]]:
        return dict(self._named)

    def as_json(self) -> dict:
        return {"all": self._all, "named": self._named}


@dataclasses.dataclass(frozen=True)
class Context:
    """Everything a step function receives.

    ``cfg`` is the step's config section as its frozen dataclass; ``params``
    holds any other value the rule computed (rarely needed). ``log`` is the
    job's log file; ``log_dir`` a folder for extra step logs.
    """

    study: Study
    step: Step
    input: Paths
    output: Paths
    cfg: Any
    seed: int
    tier: str
    threads: int = 1
    wildcards: Mapping[str, str] = dataclasses.field(default_factory=dict)
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    log: Path | None = None

    @property
    def logger(self) -> logging.Logger:
        return logging.getLogger(f"colliderflow.{self.study.name}.{self.step.name}")

    @property
    def results(self) -> Path:
        """``results/<study>``: the study's output folder."""
        return Path("results") / self.study.name

    def write_metrics(self, metrics: dict, path: str | Path | None = None, training: dict | None = None,
                      **extra: Any) -> dict:
        """Judge the claim with the study's ``verdict`` and write metrics.json
        (default: the output named ``metrics``).

        ``training``: the study's training block (:func:`colliderflow.health.block`);
        default: every training this process ran. A model in it that did not
        train makes the study ``did not train`` (``holds: null``), whatever
        the verdict says."""
        from . import health
        from .metrics import write_metrics

        if self.study.verdict is None:
            raise RuntimeError(f"study {self.study.name} declares no verdict")
        v = self.study.verdict(metrics, self.cfg)
        if training is None:  # this job's trainings and those saved beside its inputs
            own = health.with_origin(health.RECORDS, str(self.output[0]) if len(self.output) else "")
            training = health.block(health.load_beside(self.input) + own)
        health.REPORTED = True  # this job's trainings are in metrics.json, not in sidecars
        failed = health.did_not_train(training)
        if failed:
            self.logger.error("%s: %s", self.study.name, failed)
        claim = v.claim or self.study.claim
        block = v.block(claim, failed or ("holds" if v.holds else "does not hold"))
        return write_metrics(
            path or self.output.metrics, study=self.study.name, paper=self.study.paper, title=self.study.title,
            key_metric=v.key_metric, claim=claim, holds=None if failed else v.holds,
            metrics=metrics, tier=self.tier, training=training, verdict=block, **extra)


# --------------------------------------------------------------------------- running a job


def job_from_snakemake(smk: Any) -> dict:
    """The JSON-able record of a Snakemake job (the ``snakemake`` object of a
    ``script:``): what :func:`run_job` needs, and what a by-hand rerun reads."""
    def paths(nl: Any) -> dict:
        named = {k: (list(v) if isinstance(v, list) else str(v)) for k, v in nl.items()}
        return {"all": [str(p) for p in nl], "named": named}

    params = {k: v for k, v in smk.params.items()}
    return {
        "step": params.pop("step"),
        "cfg": params.pop("cfg", None),
        "seed": params.pop("seed", 0),
        "tier": params.pop("tier", "default"),
        "params": params,
        "input": paths(smk.input),
        "output": paths(smk.output),
        "threads": int(smk.threads),
        "wildcards": {k: str(v) for k, v in smk.wildcards.items()},
        "log": str(smk.log[0]) if len(smk.log) else None,
    }


def job_file(log: str | Path) -> Path:
    """Where a job's record is kept for a by-hand rerun: beside its log."""
    log = Path(log)
    return log.with_name(log.stem + ".job.json")


def context(job: Mapping) -> Context:
    spec, step = resolve(job["step"])
    cfg = build_config(spec.step_config(step), job["cfg"], spec.section(step).replace("/", "."))
    return Context(
        study=spec, step=step,
        input=Paths(job["input"]["all"], job["input"]["named"]),
        output=Paths(job["output"]["all"], job["output"]["named"]),
        cfg=cfg, seed=int(job["seed"]), tier=str(job["tier"]), threads=int(job.get("threads", 1)),
        wildcards=types.MappingProxyType(dict(job.get("wildcards", {}))),
        params=types.MappingProxyType(dict(job.get("params", {}))),
        log=Path(job["log"]) if job.get("log") else None,
    )


def set_threads(n: int) -> None:
    """Limit torch to the cores the job was given (Snakemake ``threads:``).

    A step that has not imported torch yet (datasets, IBU, plots) does not
    pay its import (about 1.4 CPU s) here: torch takes ``OMP_NUM_THREADS``
    when the step imports it."""
    n = max(1, int(n))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    else:
        os.environ["OMP_NUM_THREADS"] = str(n)


#: the hash seed of every job (the iteration order of sets of strings): same seed, same bytes
HASH_SEED = "0"


def hash_seed_for_jobs() -> None:
    """Give every child of this process (Snakemake's jobs) the hash seed
    :data:`HASH_SEED` (called by the Snakefile)."""
    os.environ["PYTHONHASHSEED"] = HASH_SEED


def device_for_jobs(config: Mapping) -> None:
    """Give every job the training device of the config (``resources.device``)
    as ``COLLIDERFLOW_DEVICE`` and its compile setting (``resources.compile``)
    as ``COLLIDERFLOW_COMPILE`` (``1`` or ``0``), unless the environment
    already sets them (a batch node's or the command line's choice wins).
    Called by the Snakefile; see :mod:`colliderflow.nn.device` and
    :func:`colliderflow.nn.train.compiled_loss`."""
    resources = config.get("resources") or {}
    os.environ.setdefault("COLLIDERFLOW_DEVICE", str(resources.get("device", "auto")))
    os.environ.setdefault("COLLIDERFLOW_COMPILE", "1" if resources.get("compile", False) else "0")


def ensure_hash_seed(argv: list[str]) -> None:
    """Re-execute this process (``python *argv``) with PYTHONHASHSEED =
    :data:`HASH_SEED` unless it already runs with it. The Snakefile sets it
    for every job; this catches jobs started otherwise (by hand, other executors)."""
    if os.environ.get("PYTHONHASHSEED") != HASH_SEED:
        os.environ["PYTHONHASHSEED"] = HASH_SEED
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, *argv])


def make_deterministic(seed: int) -> None:
    """Seed python's, numpy's and torch's global generators from the job's
    seed (code that draws without its own generator is then still
    reproducible) and ask torch for deterministic algorithms (a warning where
    an op has none). torch seeds itself from entropy when imported, so it is
    seeded right after its import: now if the step already imported it,
    otherwise when it does (a step that never trains does not pay torch's
    import here)."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)

    def seed_torch(torch: types.ModuleType) -> None:
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)

    when_imported("torch", seed_torch)


#: hooks waiting for a top-level module's import (:func:`when_imported`), in the order they were given
_IMPORT_HOOKS: dict[str, list[Callable[[types.ModuleType], None]]] = {}


def when_imported(name: str, fn: Callable[[types.ModuleType], None]) -> None:
    """Call ``fn(module)`` once the top-level module ``name`` is imported:
    at once if it already is, else right after its import finishes. Several
    hooks on one module all run, in the order they were given (one import
    finder per module holds them)."""
    if name in sys.modules:
        fn(sys.modules[name])
        return
    if name in _IMPORT_HOOKS:
        _IMPORT_HOOKS[name].append(fn)
        return
    _IMPORT_HOOKS[name] = [fn]
    import importlib.abc
    import importlib.machinery

    class _After(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname: str, path: object, target: object = None) -> object:
            if fullname != name:
                return None
            sys.meta_path.remove(self)
            hooks = _IMPORT_HOOKS.pop(name, [])
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            if spec is None or spec.loader is None:
                return spec
            exec_module = spec.loader.exec_module

            def run(module: types.ModuleType) -> None:
                exec_module(module)
                for hook in hooks:
                    hook(module)

            spec.loader.exec_module = run
            return spec

    sys.meta_path.insert(0, _After())


@contextlib.contextmanager
def _log_to(path: Path | None) -> Iterator[None]:
    """Send stdout, stderr (file descriptors too: compilers, C libraries)
    and logging to the job's log file."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a", buffering=1) as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        old = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = fh
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stdout, sys.stderr = old
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@contextlib.contextmanager
def _heartbeat(step: str, every: float = 30.0) -> Iterator[None]:
    """Log a line every ``every`` seconds while a step runs, so a long step
    (first Yosys compile, HLS C-simulation, a long training) is never silent."""
    import threading

    stop = threading.Event()
    t0 = time.perf_counter()

    def beat() -> None:
        while not stop.wait(every):
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            logging.getLogger("colliderflow").info("still running %s: %.0f s, max RSS %.0f MB", step,
                                                   time.perf_counter() - t0, rss)

    thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def run_job(job: Mapping) -> int:
    """Run one step; returns the exit status (0; 2 for bad input, with one
    line naming the file and field; 1 for a bug, with its traceback in the log).

    The status and the error line go to the caller's stderr as well as to the log.
    """
    log = Path(job["log"]) if job.get("log") else None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
    real_stderr = os.fdopen(os.dup(2), "w")
    status = 0
    with _log_to(log):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S",
                            stream=sys.stderr, force=True)
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            from . import health

            health.clear()  # this job's metrics.json reports this job's trainings
            ctx = context(job)
            set_threads(ctx.threads)
            make_deterministic(ctx.seed)
            if not ctx.step.gpu:  # requested no GPU: trains on the CPU, whatever the run's device
                os.environ["COLLIDERFLOW_DEVICE"] = "cpu"
            logging.getLogger("colliderflow").info("step %s (%s tier, seed %d, %d thread(s), device %s)",
                                                   job["step"], ctx.tier, ctx.seed, ctx.threads,
                                                   os.environ.get("COLLIDERFLOW_DEVICE") or "auto")
            with _heartbeat(job["step"], float(os.environ.get("COLLIDERFLOW_HEARTBEAT", 30))):
                ctx.study.function(ctx.step.name)(ctx)
            if not health.REPORTED:  # trainings (own or carried) travel beside the outputs to the report
                health.save_beside(ctx.output, health.load_beside(ctx.input) + health.with_origin(
                    health.RECORDS, str(ctx.output[0]) if len(ctx.output) else job["step"]))
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            if log is not None:  # and once on the terminal
                print(f"error: {exc}", file=real_stderr)
            status = 2
        except Exception as exc:  # a bug: full traceback in the log, one line for the user
            traceback.print_exc()
            where = f" (traceback in {log})" if log else ""
            print(f"error: step {job['step']} failed: {type(exc).__name__}: {exc}{where}", file=real_stderr)
            status = 1
        else:
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            logging.getLogger("colliderflow").info("done: %.2f s wall, %.2f s CPU, max RSS %.0f MB",
                                                   time.perf_counter() - wall, time.process_time() - cpu, rss)
    real_stderr.flush()
    real_stderr.close()
    return status


def run_snakemake(smk: Any) -> None:
    """Entry point of ``workflow/scripts/step.py``: record the job beside its
    log (so ``python -m colliderflow step <log>.job.json`` reruns it by hand)
    and run it; a failure exits non-zero so Snakemake removes the outputs."""
    ensure_hash_seed(sys.argv)
    job = job_from_snakemake(smk)
    if job["log"]:
        path = job_file(job["log"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(job, indent=1, sort_keys=True, default=str) + "\n")
    status = run_job(job)
    if status:
        sys.exit(status)
