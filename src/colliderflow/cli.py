"""Shared plumbing of the thin scripts in workflow/scripts.

``run(main)`` executes a script's ``main()``; bad input (:class:`InputError`)
prints one line naming the file and field and exits with status 2 — no
traceback for the user to dig through.
"""

from __future__ import annotations

import logging
import sys

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


def run(main) -> None:
    setup_logging()
    try:
        main()
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
