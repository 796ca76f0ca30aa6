"""Figure helpers: mplhep CMS-like style, and saving as PDF + PNG atomically."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402

from .io import atomic_path  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_STYLED = False


def style() -> None:
    """Apply the mplhep CMS style once (no network fonts needed)."""
    global _STYLED
    if not _STYLED:
        plt.style.use(mplhep.style.CMS)
        _STYLED = True


def label(ax: Axes, text: str = "", data: bool = False, rlabel: str | None = None) -> None:
    """The experiment-style label; colliderflow never claims to be CMS, so the
    top-left reads 'colliderflow'. mplhep appends "Simulation" itself when
    ``data`` is False; ``text`` is anything extra (e.g. "Open Data")."""
    texts = mplhep.label.exp_label(exp="colliderflow", text=text, data=data, ax=ax, rlabel=rlabel or "", loc=0)
    # In a narrow panel (e.g. one of three side by side) the label at the style's
    # font size runs into the next panel: shrink it to the axes width.
    renderer = ax.figure.canvas.get_renderer()
    right = max(t.get_window_extent(renderer).x1 for t in texts[:2] if t is not None and t.get_text())
    box = ax.get_window_extent(renderer)
    limit = texts[2].get_window_extent(renderer).x0 if rlabel else box.x1  # the right-hand label's left edge
    if right > limit - 0.02 * box.width:
        scale = 0.92 * (limit - box.x0) / (right - box.x0)
        size = scale * plt.rcParams["font.size"]
        for t in texts:
            if t is not None:
                t.remove()
        mplhep.label.exp_label(exp="colliderflow", text=text, data=data, ax=ax, rlabel=rlabel or "", loc=0,
                               fontsize=size)


def save(fig: Figure, path: str | Path) -> list[Path]:
    """Save ``fig`` as ``path`` (PNG or PDF) and its sibling of the other kind;
    returns both paths. Closes the figure."""
    path = Path(path)
    outs = [path.with_suffix(".png"), path.with_suffix(".pdf")]
    for out in outs:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, dpi=110 if out.suffix == ".png" else None, bbox_inches="tight")
    plt.close(fig)
    return outs
