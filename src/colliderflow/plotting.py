"""Figure helpers: mplhep CMS-like style, and saving as PDF + PNG atomically."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402

from .io import atomic_path  # noqa: E402

_STYLED = False


def style() -> None:
    """Apply the mplhep CMS style once (no network fonts needed)."""
    global _STYLED
    if not _STYLED:
        plt.style.use(mplhep.style.CMS)
        _STYLED = True


def label(ax, text: str = "", data: bool = False, rlabel: str | None = None) -> None:
    """The experiment-style label; colliderflow never claims to be CMS, so the
    top-left reads 'colliderflow'. mplhep appends "Simulation" itself when
    ``data`` is False; ``text`` is anything extra (e.g. "Open Data")."""
    mplhep.label.exp_label(exp="colliderflow", text=text, data=data, ax=ax, rlabel=rlabel or "", loc=0)


def save(fig, path: str | Path) -> list[Path]:
    """Save ``fig`` as ``path`` (PNG or PDF) and its sibling of the other kind;
    returns both paths. Closes the figure."""
    path = Path(path)
    outs = [path.with_suffix(".png"), path.with_suffix(".pdf")]
    for out in outs:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, dpi=110 if out.suffix == ".png" else None, bbox_inches="tight")
    plt.close(fig)
    return outs
