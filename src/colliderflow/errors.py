"""One exception type for bad input, so every command-line entry point can
print a single clear line naming the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike


class InputError(Exception):
    """Bad input: a missing or corrupt file, a missing column/branch, NaN/inf
    values, or a wrong configuration value.

    ``source`` is the file (or config file) and ``field`` the column, branch
    or config key at fault; both appear in the message.
    """

    def __init__(self, source: str | Path | None, field: str | None, problem: str) -> None:
        self.source = None if source is None else str(source)
        self.field = field
        # one line whatever the library said (uproot, h5py messages span several lines)
        self.problem = problem = " ".join(str(problem).split())
        parts = []
        if self.source:
            parts.append(self.source)
        if field:
            parts.append(f"field '{field}'")
        parts.append(problem)
        super().__init__(": ".join(parts))


def require_finite(values: ArrayLike, source: str | Path | None, field: str) -> np.ndarray:
    """Raise :class:`InputError` if ``values`` (array-like) holds NaN or inf."""
    import numpy as np

    arr = np.asarray(values, dtype=float)
    bad = ~np.isfinite(arr)
    if bad.any():
        n = int(bad.reshape(len(arr), -1).any(axis=1).sum()) if arr.ndim > 1 else int(bad.sum())
        raise InputError(source, field, f"{n} row(s) hold NaN or inf")
    return arr
