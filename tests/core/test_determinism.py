"""The per-job guards of colliderflow.study: every job runs with one hash
seed and with python/numpy/torch seeded from the job's seed (issue 21 item 4).

torch 2.13 seeds its default generator from entropy at start-up, so a model
built before any explicit seed (OmniFold's classifiers, L2LFlows' layer flows,
the first scratch classifier of a learning curve) started from different
weights in every run; run_job now seeds it from the job's seed."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import torch

from colliderflow.study import HASH_SEED, make_deterministic

from ..conftest import REPO

CODE = ("import os, sys; sys.path.insert(0, {src!r}); from colliderflow.study import ensure_hash_seed; "
        "ensure_hash_seed(sys.orig_argv[1:]); print(os.environ['PYTHONHASHSEED'], hash('colliderflow'), "
        "list({{'a', 'b', 'c', 'd', 'e', 'f'}}))")


def test_a_fresh_interpreter_draws_differently_without_the_guard():
    """Why the guard exists: two fresh interpreters' first torch draws differ."""
    cmd = [sys.executable, "-c", "import torch; print(torch.rand(1).item())"]
    draws = {subprocess.run(cmd, capture_output=True, text=True, check=True).stdout for _ in range(2)}
    assert len(draws) == 2


def test_make_deterministic_seeds_every_global_generator():
    import random

    def draw():
        return random.random(), np.random.random(), torch.rand(1).item(), torch.nn.Linear(3, 2).weight.sum().item()

    make_deterministic(7)
    a = draw()
    make_deterministic(7)
    assert draw() == a
    make_deterministic(8)
    assert draw() != a
    assert torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(False)


def test_ensure_hash_seed_reexecutes_with_the_fixed_seed():
    code = CODE.format(src=str(REPO / "src"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**env, "PYTHONHASHSEED": seed} if seed else env).stdout
            for seed in (None, "random", "123")]
    assert outs[0] == outs[1] == outs[2] and outs[0].startswith(f"{HASH_SEED} ")
