"""Figure helpers: mplhep CMS-like style, saving as PDF + PNG atomically, and
a layout check (overlapping text, panels without axis labels)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from .io import atomic_path  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.transforms import Bbox

#: environment variable naming a JSON-lines file: ``save`` then appends
#: ``{"path": ..., "problems": check_figure(fig)}`` for every figure it writes
CHECK_ENV = "COLLIDERFLOW_FIGURE_CHECK"

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
        texts = mplhep.label.exp_label(exp="colliderflow", text=text, data=data, ax=ax, rlabel=rlabel or "", loc=0,
                                       fontsize=size)
    _follow(texts[0], texts[1])


def _follow(exp: Text, suffix: Text | None) -> None:
    """Put ``suffix`` ("Simulation ...") right of ``exp`` ("colliderflow") at
    draw time. mplhep places it in axes coordinates from the extents when the
    label is made, so a panel narrowed afterwards (``subplots_adjust``,
    ``tight_layout``) ran the two together ("colliderflowSimulation")."""
    if suffix is None or not suffix.get_text():
        return
    ax = suffix.axes
    ax.annotate(suffix.get_text(), xy=(1, 0), xycoords=exp, xytext=(0.25 * suffix.get_fontsize(), 0),
                textcoords="offset points", ha="left", va="bottom", fontsize=suffix.get_fontsize(),
                fontstyle=suffix.get_fontstyle(), fontweight=suffix.get_fontweight(), color=suffix.get_color(),
                fontfamily=suffix.get_fontfamily(), annotation_clip=False)
    suffix.remove()


#: figure metadata without dates, so the same figure gives the same bytes (the PDF's
#: CreationDate is "now" unless SOURCE_DATE_EPOCH is set; PNG stamps none, said here for symmetry)
STABLE_METADATA = {".png": {"Software": None}, ".pdf": {"CreationDate": None}}


def save(fig: Figure, path: str | Path) -> list[Path]:
    """Save ``fig`` as ``path`` (PNG or PDF) and its sibling of the other kind;
    returns both paths. Closes the figure.

    When the environment variable ``COLLIDERFLOW_FIGURE_CHECK`` names a file,
    the figure is also checked (``check_figure``) and one JSON line
    ``{"path": <absolute PNG path>, "problems": [...]}`` is appended to it."""
    path = Path(path)
    outs = [path.with_suffix(".png"), path.with_suffix(".pdf")]
    for out in outs:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, dpi=110 if out.suffix == ".png" else None, bbox_inches="tight",
                        metadata=STABLE_METADATA[out.suffix])
    record = os.environ.get(CHECK_ENV)
    if record:
        try:
            problems = check_figure(fig)
        except Exception as e:  # the check must never cost a step its figure
            problems = [f"check_figure failed: {e!r}"]
        line = json.dumps({"path": str(outs[0].resolve()), "problems": problems}) + "\n"
        with open(record, "a", encoding="utf-8") as fh:  # one write per line: parallel jobs append whole lines
            fh.write(line)
    plt.close(fig)
    return outs


# --- the layout check ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _recording_texts() -> Iterator[list[Text]]:
    """Record every Text that actually draws (non-empty, visible) while the
    block runs: tick labels outside the view limits, hidden labels and empty
    strings never reach the renderer, so they are never compared."""
    drawn: list[Text] = []
    original = Text.draw

    def draw(self: Text, renderer: object) -> None:
        original(self, renderer)
        if self.get_visible() and self.get_text().strip() and self.get_alpha() != 0:
            drawn.append(self)

    Text.draw = draw
    try:
        yield drawn
    finally:
        Text.draw = original


def _roles(fig: Figure) -> tuple[dict[int, str], dict[int, Axes]]:
    """A short description of the figure's text artists by id, for messages,
    and the axes each belongs to (figure texts belong to none)."""
    roles: dict[int, str] = {}
    owner: dict[int, Axes] = {}
    for t in fig.texts:
        roles[id(t)] = "figure text"
    if getattr(fig, "_suptitle", None) is not None:
        roles[id(fig._suptitle)] = "suptitle"
    for i, ax in enumerate(fig.axes):
        where = f"axes {i}"
        mine: list[tuple[Text, str]] = []
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                mine += [(tick.label1, f"{name} tick label"), (tick.label2, f"{name} tick label")]
            mine += [(axis.label, f"{name} label"), (axis.offsetText, f"{name} offset text")]
        mine += [(t, "title") for t in (ax.title, ax._left_title, ax._right_title)]
        mine += [(t, "text") for t in ax.texts]
        for leg in (ax.get_legend(), *getattr(ax, "legends", ())):
            if leg is not None:
                mine += [(t, "legend") for t in (*leg.get_texts(), leg.get_title())]
        for t, role in mine:
            roles[id(t)] = f"{where} {role}"
            owner[id(t)] = ax
    for leg in fig.legends:
        for t in (*leg.get_texts(), leg.get_title()):
            roles[id(t)] = "figure legend"
    return roles, owner


def _overlap(a: Bbox, b: Bbox, tol: float) -> bool:
    """Whether two display boxes overlap by more than ``tol`` pixels both ways."""
    return min(a.x1, b.x1) - max(a.x0, b.x0) > tol and min(a.y1, b.y1) - max(a.y0, b.y0) > tol


def _mostly_inside(text: Bbox, area: Bbox, share: float = 0.6) -> bool:
    """Whether more than ``share`` of a text's box lies inside ``area``."""
    w = min(text.x1, area.x1) - max(text.x0, area.x0)
    h = min(text.y1, area.y1) - max(text.y0, area.y0)
    return w > 0 and h > 0 and w * h > share * text.width * text.height


def _shown_tick_labels(axis: object, drawn: set[int]) -> bool:
    ticks = axis.get_major_ticks() + axis.get_minor_ticks()
    return any(id(t.label1) in drawn or id(t.label2) in drawn for t in ticks)


def check_figure(fig: Figure, tol: float = 1.0) -> list[str]:
    """Layout problems of ``fig``, as readable lines (empty: none found).

    The figure is drawn once with the Agg renderer; what was drawn is checked:

    * **overlapping text**: any two drawn, non-empty text artists (tick labels,
      axis labels, offset texts, titles, legend texts, annotations, the
      experiment label) whose window extents overlap by more than ``tol``
      pixels in both directions; and a legend's frame over any text that is
      not its own.
    * **text inside another panel**: a text of one axes (or of the figure)
      that lies mostly (over 60 % of its box) inside the plotting area of
      another axes, where that axes' background hides it or it sits on that
      panel's data (e.g. the x label of a ratio panel under the next row).
      Axes whose areas overlap each other (twins, insets) are not compared.
    * **axis label longer than its panel** (by over 5 %): it runs past the
      panel's end, into the next panel or off the figure.
    * **missing axis labels**: every visible axes that shows data (lines,
      collections, patches, images; not an axes switched off) needs an x and a
      y label. A shared-axis panel may leave its label to a neighbour: an
      axis without a label is accepted only when it draws no tick labels
      *and* shares that axis with a panel of the figure that has a label
      (the top panel of a ratio plot, the inner panels of a row with
      ``sharey``). A colorbar needs a label on its long axis only.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    with _recording_texts() as texts:
        fig.draw(renderer)
    roles, owner = _roles(fig)
    seen: set[int] = set()
    unique = [t for t in texts if not (id(t) in seen or seen.add(id(t)))]
    boxes = [(t, t.get_window_extent(renderer)) for t in unique]
    problems: list[str] = []

    def name(t: Text) -> str:
        return f"{roles.get(id(t), 'text')} {t.get_text()!r}"

    for i, (a, ba) in enumerate(boxes):
        for b, bb in boxes[i + 1:]:
            if _overlap(ba, bb, tol):
                problems.append(f"overlapping text: {name(a)} and {name(b)}")
    legends = [leg for ax in fig.axes for leg in (ax.get_legend(),) if leg is not None and leg.get_visible()]
    legends += [leg for leg in fig.legends if leg.get_visible()]
    for leg in legends:
        own = {id(t) for t in (*leg.get_texts(), leg.get_title())}
        frame = leg.get_window_extent(renderer)
        for t, bt in boxes:
            if id(t) not in own and _overlap(frame, bt, tol):
                problems.append(f"legend {[x.get_text() for x in leg.get_texts()][:3]} covers {name(t)}")

    areas = [(ax, ax.get_window_extent(renderer)) for ax in fig.axes if ax.get_visible()]
    for t, bt in boxes:
        home = owner.get(id(t))
        home_area = home.get_window_extent(renderer) if home is not None else None
        for i, (ax, area) in enumerate(areas):
            if ax is home or (home_area is not None and _overlap(home_area, area, 0.0)):
                continue
            if _mostly_inside(bt, area):
                problems.append(f"{name(t)} lies inside axes {fig.axes.index(ax)}")

    drawn = {id(t) for t in unique}
    for i, ax in enumerate(fig.axes):
        area = ax.get_window_extent(renderer)
        for which, axis, span, length in (("x", ax.xaxis, area.width, lambda b: b.width),
                                          ("y", ax.yaxis, area.height, lambda b: b.height)):
            if id(axis.label) in drawn and length(axis.label.get_window_extent(renderer)) > 1.05 * span:
                problems.append(f"axes {i} {which} label {axis.label.get_text()!r} is longer than its panel")

    for i, ax in enumerate(fig.axes):
        if not (ax.get_visible() and ax.axison and ax.has_data()):
            continue
        colorbar = getattr(ax, "_colorbar", None)
        if colorbar is not None:
            axes_to_check = ("x",) if colorbar.orientation == "horizontal" else ("y",)
        else:
            axes_to_check = ("x", "y")
        for which in axes_to_check:
            axis = ax.xaxis if which == "x" else ax.yaxis
            if axis.get_label_text().strip() and id(axis.label) in drawn:
                continue
            shared = ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()
            partners = [o for o in shared.get_siblings(ax) if o is not ax and o in fig.axes]
            labelled = any((o.xaxis if which == "x" else o.yaxis).get_label_text().strip() for o in partners)
            if labelled and not _shown_tick_labels(axis, drawn):
                continue
            title = ax.get_title() or ax.get_title("left") or ax.get_title("right")
            where = f"axes {i}" + (f" ({title!r})" if title else "")
            problems.append(f"{where} has no {which} label")
    return problems
