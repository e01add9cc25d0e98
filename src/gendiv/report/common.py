"""What assemble.py and its section modules (size, sources) share: where the report
lives, how a figure is saved and linked, and the paired error bar of a loss.

Kept apart from report.py, which imports the sections, so that no section imports it back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib.pyplot as plt

from gendiv.layout import REPORT
from gendiv.report import results
from gendiv.report.claims import Scores
from gendiv.report.stats import Estimate


def save_figure(fig, path: Path, series: dict) -> Path:
    """Write `fig` as a PNG whose "Description" text chunk holds the plotted series as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, metadata={"Description": json.dumps(series, sort_keys=True)})
    plt.close(fig)
    os.replace(tmp, path)
    return path


def figure_link(path: Path, root: Path) -> str:
    """A figure's link as written in REPORT.md (relative to the report's folder)."""
    return os.path.relpath(root / path, root / REPORT.parent).replace(os.sep, "/")


def paired_difference(scores: Scores, task: str, a: str, b: str) -> Estimate | None:
    """loss(a) - loss(b) with its paired s.e. (None when either set's per-example scores are missing)."""
    sa, sb = scores.get((task, a)), scores.get((task, b))
    return results.loss_difference(sa, sb) if sa and sb else None


def paired_se(scores: Scores, task: str, dataset: str, reference: str) -> float:
    """Standard error of loss(dataset) - loss(reference) over the shared test examples (0 if unknown).

    Error bars use it, not each loss's own s.e.: the latter is dominated by how hard the test
    examples are, which every run shares, and would hide differences the paired test resolves.
    """
    effect = paired_difference(scores, task, dataset, reference) if dataset != reference else None
    return effect.se if effect else 0.0
