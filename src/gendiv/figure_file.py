"""One way to write a figure: a deterministic PNG that carries what it shows as text.

The PNG's "Description" chunk holds the plotted series and, under TEXT_KEY, every title and
axis label of the figure, so tests and reviewers can check that a figure states its units,
n, seeds and error bars without reading pixels. No "Software" or date chunk: the same data
give the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gendiv.io import atomic_open  # noqa: E402

TEXT_KEY = "_text"  # the key of the figure's titles and labels in the Description JSON


def figure_text(fig) -> list[str]:
    """Every non-empty title, axis label and figure-level label of `fig`, in drawing order."""
    texts = [fig.get_suptitle(), fig.get_supxlabel(), fig.get_supylabel()]
    for ax in fig.axes:
        texts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        if legend := ax.get_legend():
            texts += [t.get_text() for t in legend.get_texts()]
    for legend in fig.legends:
        texts += [t.get_text() for t in legend.get_texts()]
    return [t for t in texts if t]


def save_png(fig, path: Path, series: dict | None = None) -> Path:
    """Write `fig` atomically as a PNG with its series and text in "Description", then close it."""
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    description = {**(series or {}), TEXT_KEY: figure_text(fig)}
    with atomic_open(path, "wb") as fh:
        fig.savefig(
            fh,
            format="png",
            dpi=110,
            metadata={"Description": json.dumps(description, sort_keys=True), "Software": None},
        )
    plt.close(fig)
    return path
