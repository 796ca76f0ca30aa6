"""Where training runs: one setting, ``resources.device`` in the config
(``auto | cpu | cuda | cuda:N``), overridden per run by the environment
variable ``COLLIDERFLOW_DEVICE`` (e.g. on a batch node). The Snakefile puts
the config's value in every job's environment (:func:`colliderflow.study.device_for_jobs`)
unless the variable is already set.

``auto`` is the first CUDA device when torch sees one, else the CPU. Asking
for CUDA where there is none is an error naming the setting, not a silent
fall-back: a job that holds a GPU must use it.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

ENV = "COLLIDERFLOW_DEVICE"
PATTERN = re.compile(r"^(auto|cpu|cuda(:[0-9]+)?)$")


def setting() -> str:
    """The requested device (``COLLIDERFLOW_DEVICE``, default ``auto``), checked."""
    value = os.environ.get(ENV, "").strip() or "auto"
    if not PATTERN.match(value):
        raise ValueError(f"{ENV}={value!r}: not auto, cpu, cuda or cuda:N")
    return value


def select(value: str | None = None) -> torch.device:
    """The torch device for ``value`` (default: :func:`setting`)."""
    import torch

    value = setting() if value is None else value
    if not PATTERN.match(value):
        raise ValueError(f"device {value!r}: not auto, cpu, cuda or cuda:N")
    if value == "cpu" or (value == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError(f"device {value!r} requested ({ENV} or resources.device) but torch sees no CUDA device")
    dev = torch.device("cuda:0" if value == "auto" else value)
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        raise RuntimeError(f"device {value!r} requested but torch sees {torch.cuda.device_count()} CUDA device(s)")
    return dev
