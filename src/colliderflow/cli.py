"""Shared plumbing of the thin scripts in workflow/scripts.

``run(main)`` executes a script's ``main()``; bad input (:class:`InputError`)
prints one line naming the file and field and exits with status 2 — no
traceback for the user to dig through.
"""

from __future__ import annotations

import logging
import resource
import sys
import time
from collections.abc import Callable

from .errors import InputError


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def set_threads(n: int | None) -> None:
    """Limit torch to the cores Snakemake gave the job (``threads:``)."""
    if not n:
        return
    try:
        import torch

        torch.set_num_threads(int(n))
    except ImportError:
        pass


def run(main: Callable[[], object]) -> None:
    """Run ``main()``; log wall/CPU time and peak memory at the end (the
    timing of rules that cannot have ``benchmark:``, e.g. cached ones)."""
    setup_logging()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        main()
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    logging.getLogger("colliderflow").info("done: %.2f s wall, %.2f s CPU, max RSS %.0f MB",
                                           time.perf_counter() - wall, time.process_time() - cpu, rss_mb)
