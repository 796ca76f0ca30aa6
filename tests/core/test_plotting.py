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
