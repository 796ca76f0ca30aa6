"""The one training loop every study uses.

Mini-batch training with a validation split, early stopping on the
validation loss, the best checkpoint restored at the end, a tqdm progress
bar, deterministic seeding, and CPU threads taken from Snakemake's
``threads:``.

The caller supplies ``loss_fn(model, batch) -> scalar tensor``; a batch is
the tuple of tensors given to :func:`fit` (features, conditions, weights ...).

Device: :func:`fit` trains on :func:`colliderflow.nn.device.select` (the
config's ``resources.device`` or ``COLLIDERFLOW_DEVICE``; ``auto`` is CUDA
when there is one). The data are moved to the device once, batches are
indexed there, and the model goes back to the device it came from (the CPU)
at the end, so callers and saved models never see the GPU. On the CPU
nothing changes. ``TrainConfig.bf16`` (opt-in, for studies where it is safe)
runs the loss under bf16 autocast on CUDA; on the CPU it is ignored.

Training health: :func:`fit` evaluates the validation loss before the first
step and records whether the model learned (:meth:`History.health`: the best
validation loss is at least ``TrainConfig.min_improvement`` below the
initial one, after at least one optimiser step). A validation set of fewer
than :data:`SMALL_VALIDATION` events cannot judge that (the 10-40 events of
the smoke tier's smallest trainings move by more than the threshold from
one epoch to the next whether the model learns or not): there the training
loss over the whole training set, in eval mode, from the initial weights to
the last epoch's, must fall by ``min_improvement`` instead, and the record's
``criterion`` says so. A broken training (lr 0, no steps) fails either way.
Every record of the process
is kept in :data:`colliderflow.health.RECORDS`, so the step that writes
metrics.json reports the trainings it ran (its ``training`` block).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch

log = logging.getLogger(__name__)

#: below this many validation events the health check judges the training loss (see the module docstring)
SMALL_VALIDATION = 200


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; returns a torch Generator with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@dataclass
class TrainConfig:
    epochs: int = 50
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 10          # epochs without val improvement before stopping
    val_fraction: float = 0.2
    seed: int = 0
    grad_clip: float | None = 5.0
    lr_schedule: str = "cosine"  # "cosine" or "none"
    progress: bool = True
    desc: str = "train"
    min_improvement: float = 1e-3  # trained = best val loss <= initial val loss - this (loss units)
    min_steps: int = 0            # at least this many optimiser steps: epochs raised to reach it (0: epochs as given)
    bf16: bool = False            # bf16 autocast of the loss (opt-in; only on CUDA, ignored on the CPU)
    compile: bool | None = None   # torch.compile the loss of full-size training batches; None: the run's
                                  # setting (resources.compile / COLLIDERFLOW_COMPILE); see compiled_loss


@dataclass
class History:
    train_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    best_epoch: int = -1
    best_val: float = float("inf")
    stopped_early: bool = False
    initial_val: float = float("nan")  # validation loss before the first optimiser step
    steps: int = 0                     # optimiser steps taken
    min_improvement: float = 1e-3
    device: str = "cpu"                # where it trained
    n_val: int = 0                     # validation events
    initial_train: float = float("nan")  # training loss (eval mode) of the initial weights: small validation sets
    final_train: float = float("nan")    # ... and of the last epoch's weights
    compiled: bool = False               # the full-size training batches ran torch.compile's graph

    def as_dict(self) -> dict:
        """The history as JSON-ready values; the small-validation fields only where they were used (so a
        history of a large validation set reads as before)."""
        out = asdict(self)
        if not self.compiled:  # eager: the record reads as before the option existed
            del out["compiled"]
        small = ("n_val", "initial_train", "final_train")
        if not 0 < self.n_val < SMALL_VALIDATION:
            return {k: v for k, v in out.items() if k not in small}
        return {**out, **{k: _round(out[k]) for k in small[1:]}}

    def health(self) -> dict:
        """Did the model learn? ``trained``: at least one optimiser step and the
        best validation loss at least ``min_improvement`` below the initial one;
        with fewer than :data:`SMALL_VALIDATION` validation events, the training
        loss (eval mode, whole training set) of the last epoch at least
        ``min_improvement`` below that of the initial weights."""
        from ..health import record

        final = self.val_loss[-1] if self.val_loss else self.initial_val
        best = self.best_val if self.val_loss else self.initial_val
        if 0 < self.n_val < SMALL_VALIDATION:
            end = self.final_train if self.val_loss else self.initial_train
            crit = (f"training loss (eval mode, whole training set) falls by >= {self.min_improvement:g} from the "
                    f"initial to the last epoch's weights: {self.n_val} validation events (< {SMALL_VALIDATION}) "
                    "are too few to judge the validation loss")
            rec = record(self.initial_train, end, end, self.steps, self.min_improvement, criterion=crit)
            rec = {**rec, "validation": {"initial": _round(self.initial_val), "best": _round(best),
                                         "final": _round(final), "n": self.n_val}, "device": self.device}
        else:
            rec = {**record(self.initial_val, best, final, self.steps, self.min_improvement), "device": self.device}
        return {**rec, "compiled": True} if self.compiled else rec


def _round(x: float) -> float | None:
    return round(float(x), 6) if np.isfinite(x) else None


def _batches(n: int, batch_size: int, gen: torch.Generator, shuffle: bool = True) -> Iterator[torch.Tensor]:
    idx = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
    for i in range(0, n, batch_size):
        yield idx[i:i + batch_size]


def evaluate(model: torch.nn.Module, loss_fn: Callable[[torch.nn.Module, tuple[torch.Tensor, ...]], torch.Tensor],
             tensors: Sequence[torch.Tensor], batch_size: int = 4096) -> float:
    """Mean loss over ``tensors`` in eval mode without gradients."""
    model.eval()
    n = len(tensors[0])
    total = 0.0
    with torch.no_grad():
        for i in range(0, n, batch_size):
            b = tuple(t[i:i + batch_size] for t in tensors)
            total += float(loss_fn(model, b)) * len(b[0])
    return total / max(n, 1)


def _autocast(loss_fn: Callable, dev: torch.device) -> Callable:
    """``loss_fn`` under bf16 autocast on ``dev`` (a CUDA device), the loss returned in float32."""
    def wrapped(model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            return loss_fn(model, batch).float()

    return wrapped


#: the run's compile setting: ``1`` compiles every training whose :attr:`TrainConfig.compile` is None; ``0`` or
#: unset compiles none, whatever the TrainConfig says (eager everywhere: debugging, or the eager numbers).
#: The Snakefile sets it from ``resources.compile`` (:func:`colliderflow.study.device_for_jobs`)
COMPILE_ENV = "COLLIDERFLOW_COMPILE"


def _cxx() -> str | None:
    """The C++ compiler inductor's CPU code generation would call (``$CXX``, else g++, c++ or clang++)."""
    import shutil

    names = [os.environ["CXX"]] if os.environ.get("CXX") else ["g++", "c++", "clang++"]
    return next((path for path in map(shutil.which, names) if path), None)


def _compile_errors() -> tuple[type[BaseException], ...]:
    """The exceptions of torch.compile's own failures (inductor's code generation, dynamo's internals); an
    error of the model itself is raised again by its eager call."""
    from torch._dynamo import exc

    return exc.BackendCompilerFailed, exc.InternalTorchDynamoError


def compiled_loss(loss_fn: Callable, cfg: TrainConfig, dev: torch.device) -> Callable | None:
    """``torch.compile(loss_fn)`` for the training steps of :func:`fit`, or None (eager) where compiling is off:
    ``COLLIDERFLOW_COMPILE`` not ``1``, ``cfg.compile`` false (a model that would recompile every step, such as
    one with a Python counter in its loss), or no C++ compiler for inductor on the CPU (a warning).

    :func:`fit` calls it on full-size batches only, so one graph with static shapes (forward and backward,
    through AOTAutograd) serves the whole training, and a new model of the same architecture (the next fold,
    seed or iteration) reuses it. The last, smaller batch of an epoch and the validation passes run eagerly.
    Where a loss selects by a mask (decay_aware's pair loss), the graph breaks there and the part after it sees
    a new size each batch: torch's automatic dynamic shapes (``dynamic=None``) recompile it once with a
    symbolic size instead of once per size. Inductor fuses the elementwise work of the step; the result equals
    the eager one to float rounding, not bit for bit, and is the same on every run on the same machine.
    Inductor's code cache is on disk (``$TORCHINDUCTOR_CACHE_DIR``), so a graph compiled once is loaded, not
    rebuilt, by later jobs.
    """
    if os.environ.get(COMPILE_ENV, "").strip() != "1" or cfg.compile is False:
        return None
    if dev.type == "cpu" and _cxx() is None:
        log.warning("%s: %s=1 asks for torch.compile, but there is no C++ compiler (g++, c++, clang++ or $CXX) "
                    "for it on the CPU: training eagerly", cfg.desc, COMPILE_ENV)
        return None
    return torch.compile(loss_fn, dynamic=None)


def fit(model: torch.nn.Module, loss_fn: Callable, tensors: Sequence[torch.Tensor], cfg: TrainConfig,
        val_tensors: Sequence[torch.Tensor] | None = None,
        params: Iterable[torch.nn.Parameter] | None = None) -> History:
    """Train ``model`` in place; returns the :class:`History`.

    Without ``val_tensors`` a random ``cfg.val_fraction`` of ``tensors`` is held
    out. The model ends with the weights of its best validation epoch.
    ``params`` restricts the optimised parameters (default: all that require grad).
    """
    gen = seed_everything(cfg.seed)
    from .. import health
    from .device import select

    dev = select()
    home = next(iter(model.parameters()), torch.empty(0)).device
    tensors = [torch.as_tensor(t) for t in tensors]
    n = len(tensors[0])
    if val_tensors is None:
        perm = torch.randperm(n, generator=gen)
        n_val = max(1, int(round(cfg.val_fraction * n)))
        val_idx, tr_idx = perm[:n_val], perm[n_val:]
        val_tensors = [t[val_idx] for t in tensors]
        tensors = [t[tr_idx] for t in tensors]
    else:
        val_tensors = [torch.as_tensor(t) for t in val_tensors]
    if dev.type != "cpu":  # resident on the device: no per-batch host-to-device copies
        model.to(dev)
        tensors = [t.to(dev) for t in tensors]
        val_tensors = [t.to(dev) for t in val_tensors]
    params = [p for p in (params if params is not None else model.parameters()) if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    n_tr = len(tensors[0])
    epochs = cfg.epochs
    if cfg.min_steps and n_tr:
        epochs = max(epochs, -(-cfg.min_steps // -(-n_tr // cfg.batch_size)))
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
             if cfg.lr_schedule == "cosine" else None)
    hist = History(min_improvement=cfg.min_improvement, device=str(dev), n_val=len(val_tensors[0]))
    small = hist.n_val < SMALL_VALIDATION
    if cfg.bf16 and dev.type == "cuda":  # mixed precision where the study says it is safe; fp32 on the CPU
        loss_fn = _autocast(loss_fn, dev)
    step_loss = compiled_loss(loss_fn, cfg, dev)
    with torch.random.fork_rng(devices=[]):  # a loss that draws (TRANSIT's mass shuffle) leaves the stream as it was
        hist.initial_val = evaluate(model, loss_fn, val_tensors)
        if small:
            hist.initial_train = evaluate(model, loss_fn, tensors)
    best_state = copy.deepcopy(model.state_dict())
    from tqdm import tqdm

    bar = tqdm(range(epochs), desc=cfg.desc, disable=not cfg.progress or bool(os.environ.get("COLLIDERFLOW_QUIET")),
               leave=False, mininterval=1.0)
    for epoch in bar:
        model.train()
        tot = 0.0
        for idx in _batches(n_tr, cfg.batch_size, gen):
            batch = tuple(t[idx.to(dev)] for t in tensors) if dev.type != "cpu" else tuple(t[idx] for t in tensors)
            loss = None
            if step_loss is not None and len(idx) == cfg.batch_size:
                try:
                    loss = step_loss(model, batch)
                    hist.compiled = True
                except _compile_errors() as exc:  # a torch.compile failure, not the model's: go on eagerly
                    cause = getattr(exc, "inner_exception", None) or exc
                    log.warning("%s: torch.compile failed (%s: %s); training on eagerly", cfg.desc,
                                type(cause).__name__, (str(cause).strip().splitlines() or [""])[0][:200])
                    step_loss, hist.compiled = None, False
            if loss is None:
                loss = loss_fn(model, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{cfg.desc}: non-finite training loss at epoch {epoch}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            hist.steps += 1
            tot += float(loss.detach()) * len(idx)
        if sched:
            sched.step()
        hist.train_loss.append(tot / max(n_tr, 1))
        val = evaluate(model, loss_fn, val_tensors)
        hist.val_loss.append(val)
        if val < hist.best_val:
            hist.best_val, hist.best_epoch = val, epoch
            best_state = copy.deepcopy(model.state_dict())
        bar.set_postfix(train=f"{hist.train_loss[-1]:.4f}", val=f"{val:.4f}", best=hist.best_epoch)
        if epoch - hist.best_epoch >= cfg.patience:
            hist.stopped_early = True
            break
    if small and hist.val_loss:
        with torch.random.fork_rng(devices=[]):
            hist.final_train = evaluate(model, loss_fn, tensors)
    model.load_state_dict(best_state)
    model.to(home)
    model.eval()
    h = hist.health()
    health.add(cfg.desc, h)
    log.info("%s: val loss %.5f -> best %.5f at epoch %d of %d (%d steps, %s)%s", cfg.desc, hist.initial_val,
             hist.best_val, hist.best_epoch, len(hist.val_loss), hist.steps, dev,
             "" if h["trained"] else f"; not trained by the loop's criterion ({h['criterion']}; "
                                     "a study may judge it by its own check)")
    return hist


def save_model(model: torch.nn.Module, path: str | Path, hparams: dict) -> None:
    """state_dict to ``path`` (.pt) and hyper-parameters to ``path``.json; atomic."""
    from ..io import atomic_path, write_json

    path = Path(path)
    state = model.state_dict()
    if any(v.device.type != "cpu" for v in state.values()):  # saved on the CPU: loadable anywhere
        meta = getattr(state, "_metadata", None)
        state = type(state)((k, v.detach().cpu()) for k, v in state.items())
        if meta is not None:
            state._metadata = meta
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    write_json(path.with_suffix(".json"), hparams)


def load_state(path: str | Path) -> tuple[dict, dict]:
    """(state_dict, hyper-parameters) saved by :func:`save_model`; weights_only."""
    from ..errors import InputError

    path = Path(path)
    if not path.exists():
        raise InputError(path, None, "model file does not exist")
    state = torch.load(path, map_location="cpu", weights_only=True)
    hp = json.loads(path.with_suffix(".json").read_text()) if path.with_suffix(".json").exists() else {}
    return state, hp
