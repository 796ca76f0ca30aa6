"""The shared figure helpers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from colliderflow import plotting  # noqa: E402


@pytest.mark.parametrize("rlabel", [None, "13 TeV"])
def test_label_stays_inside_a_narrow_panel(rlabel):
    plotting.style()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    wide_fig, wide = plt.subplots(figsize=(10, 8))
    try:
        for ax in (*axes, wide):
            plotting.label(ax, "Open data", rlabel=rlabel)
            r = ax.figure.canvas.get_renderer()
            box = ax.get_window_extent(r)
            texts = [t for t in ax.texts if t.get_text()]
            left = [t for t in texts if t.get_text() != rlabel]
            assert {t.get_text() for t in left} >= {"colliderflow"}
            assert max(t.get_window_extent(r).x1 for t in left) <= box.x1 + 1
            if rlabel:
                (rt,) = [t for t in texts if t.get_text() == rlabel]
                assert max(t.get_window_extent(r).x1 for t in left) < rt.get_window_extent(r).x0
        # a wide panel keeps the style's size: only narrow ones shrink
        sizes = {ax: max(t.get_fontsize() for t in ax.texts if t.get_text() == "colliderflow")
                 for ax in (axes[0], wide)}
        assert sizes[wide] > sizes[axes[0]]
    finally:
        plt.close(fig)
        plt.close(wide_fig)


def test_label_survives_a_later_layout_change():
    """"Simulation" follows "colliderflow" at draw time: narrowing the panels
    after labelling them (subplots_adjust) no longer runs the two together."""
    plotting.style()
    fig, axes = plt.subplots(1, 3, figsize=(24, 7))
    try:
        for ax in axes:
            ax.plot([0, 1], [0, 1])
            ax.set_xlabel("x")
            ax.set_ylabel("y")
            plotting.label(ax)
        fig.subplots_adjust(wspace=0.6)
        assert plotting.check_figure(fig) == []
        r = fig.canvas.get_renderer()
        for ax in axes:
            (exp,) = [t for t in ax.texts if t.get_text() == "colliderflow"]
            (suffix,) = [t for t in ax.texts if t.get_text() == "Simulation"]
            gap = suffix.get_window_extent(r).x0 - exp.get_window_extent(r).x1
            assert 0.1 * suffix.get_fontsize() < gap < suffix.get_fontsize() * fig.dpi / 72
    finally:
        plt.close(fig)


# ----------------------------------------------------------------------------- check_figure


def _clean_figure():
    plotting.style()
    fig, (ax, rax) = plt.subplots(2, 1, sharex=True, figsize=(9, 8), gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([1, 2, 3], [1, 4, 9], label="data")
    ax.set_ylabel("events")
    ax.tick_params(labelbottom=False)  # the ratio panel below carries the x axis
    ax.legend(loc="upper left")
    plotting.label(ax, rlabel="13 TeV")
    rax.plot([1, 2, 3], [1, 1, 1])
    rax.set_xlabel("x [GeV]")
    rax.set_ylabel("ratio")
    return fig


def test_check_figure_passes_a_clean_figure():
    fig = _clean_figure()
    try:
        assert plotting.check_figure(fig) == []
    finally:
        plt.close(fig)


def test_check_figure_flags_overlapping_text():
    plotting.style()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.text(0.5, 0.5, "first note")
    ax.text(0.52, 0.5, "second note")
    # crowded tick labels run into each other too
    ax.set_xticks([0.0, 0.02, 0.04], ["a long tick label", "another one", "and a third"])
    try:
        problems = plotting.check_figure(fig)
    finally:
        plt.close(fig)
    assert any("'first note'" in p and "'second note'" in p for p in problems), problems
    assert any("x tick label 'a long tick label'" in p and "'another one'" in p for p in problems), problems
    assert all(p.startswith("overlapping text") for p in problems), problems


def test_check_figure_flags_a_panel_without_axis_labels():
    plotting.style()
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 6))
    left.plot([0, 1], [0, 1])
    left.set_xlabel("x")
    left.set_ylabel("y")
    right.hist([0.1, 0.2, 0.2, 0.7])
    try:
        problems = plotting.check_figure(fig)
    finally:
        plt.close(fig)
    assert problems == ["axes 1 has no x label", "axes 1 has no y label"]


def test_check_figure_shared_axis_rule():
    """A panel may leave its x label to the panel below only if it hides its x tick labels."""
    fig = _clean_figure()
    ax = fig.axes[0]
    ax.tick_params(labelbottom=True)
    try:
        assert plotting.check_figure(fig) == ["axes 0 has no x label"]
    finally:
        plt.close(fig)


def test_check_figure_flags_text_hidden_in_another_panel_and_long_labels():
    plotting.style()
    fig = plt.figure(figsize=(8, 8))
    top, bottom = fig.add_gridspec(2, 1, hspace=0.02).subplots()  # no room for the top panel's x label
    for ax in (top, bottom):
        ax.plot([0, 1], [0, 1])
        ax.set_xlabel("mass [GeV]")
        ax.set_ylabel("y")
    bottom.set_ylabel("a y label much longer than the height of its own panel, which it runs past")
    try:
        problems = plotting.check_figure(fig)
    finally:
        plt.close(fig)
    assert any(p.startswith("axes 0 x label 'mass [GeV]' lies inside axes 1") for p in problems), problems
    assert any(p.startswith("axes 1 y label 'a y label much longer") and p.endswith("is longer than its panel")
               for p in problems), problems


def test_check_figure_flags_a_legend_over_text():
    plotting.style()
    fig, ax = plt.subplots(figsize=(8, 6))
    ax.plot([0, 1], [0, 1], label="a curve with a long legend entry")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.text(0.05, 0.9, "a note", transform=ax.transAxes)
    ax.legend(loc="upper left")
    try:
        problems = plotting.check_figure(fig)
    finally:
        plt.close(fig)
    assert any(p.startswith("legend") and "'a note'" in p for p in problems), problems


@pytest.mark.parametrize("record", [False, True])
def test_save_records_the_check_when_asked(record, tmp_path, monkeypatch):
    log = tmp_path / "check.jsonl"
    if record:
        monkeypatch.setenv(plotting.CHECK_ENV, str(log))
    else:
        monkeypatch.delenv(plotting.CHECK_ENV, raising=False)
    plotting.style()
    for name, (xlabel, ylabel) in {"good": ("x", "y"), "bad": ("", "y")}.items():
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        outs = plotting.save(fig, tmp_path / f"{name}.png")
        assert [p.suffix for p in outs] == [".png", ".pdf"] and all(p.stat().st_size > 1000 for p in outs)
        assert not plt.fignum_exists(fig.number)
    if not record:
        assert not log.exists()
        return
    import json

    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines == [{"path": str((tmp_path / "good.png").resolve()), "problems": []},
                     {"path": str((tmp_path / "bad.png").resolve()), "problems": ["axes 0 has no x label"]}]
