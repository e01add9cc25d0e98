"""What assemble.py and its section modules (size, sources) share: where the report
lives, how a figure is saved and linked, and the paired error bar of a loss.

Kept apart from report.py, which imports the sections, so that no section imports it back.
"""

from __future__ import annotations

import os
from pathlib import Path

from gendiv.figure_file import save_png as save_figure  # noqa: F401 (the sections' one way to save)
from gendiv.layout import REPORT
from gendiv.report import results
from gendiv.report.claims import Scores
from gendiv.report.stats import Z_ALPHA, Estimate

LOSS_LABEL = "test loss (nats per completion token)"
LOSS_UNITS = "Test loss: mean cross-entropy on the real test set, in nats per completion token."


def bars_note(reference: str) -> str:
    """What a loss figure's error bars are: the verdicts' estimate, drawn."""
    return (
        f"Bars: ± {Z_ALPHA:g} s.e. of the paired difference to {reference} (test examples, QA clustered by "
        "document, and training seeds; test examples only for 1 seed), the report's significance rule: "
        f"a bar that does not reach the loss of {reference} marks a significant difference."
    )


def bars_caption(reference: str) -> str:
    """The short form of bars_note, for a caption in REPORT.md."""
    return (
        f"bars: ± {Z_ALPHA:g} s.e. of the paired difference to {reference} (test examples and seeds), "
        "the verdicts' rule"
    )


def loss_footnote(fig, reference: str) -> None:
    """The units and the error bars of a loss figure, under its panels."""
    fig.supxlabel(f"{LOSS_UNITS}\n{bars_note(reference)}", fontsize=7, wrap=True)


def label_loss_panel(ax, title: str, xlabel: str, scores: Scores, task: str, names: list[str]) -> None:
    """A loss panel's x label, y label in nats and title with its n and seeds."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(LOSS_LABEL)
    ax.set_title(f"{title}\n{sample_note(scores, task, names)}", fontsize=9)


def sample_note(scores: Scores, task: str, names: list[str]) -> str:
    """n test examples (QA: and documents) and the seeds per set behind a panel's losses."""
    got = [sc for name in names if name != "base" and (sc := scores.get((task, name)))]
    if not got:
        return "per-example scores missing"
    seeds = sorted({sc.seeds for sc in got})
    docs = f" in {len(set(got[0].clusters))} documents" if task == "qa" else ""
    per_set = str(seeds[0]) if len(seeds) == 1 else f"{seeds[0]}-{seeds[-1]}"
    return f"n = {len(got[0].ids)} test examples{docs}, {per_set} seed(s) per set"


def figure_link(path: Path, root: Path) -> str:
    """A figure's link as written in REPORT.md (relative to the report's folder)."""
    return os.path.relpath(root / path, root / REPORT.parent).replace(os.sep, "/")


def paired_difference(scores: Scores, task: str, a: str, b: str) -> Estimate | None:
    """loss(a) - loss(b) with its paired s.e. (None when either set's per-example scores are missing)."""
    sa, sb = scores.get((task, a)), scores.get((task, b))
    return results.loss_difference(sa, sb) if sa and sb else None


def error_bar(scores: Scores, task: str, dataset: str, reference: str | None) -> float:
    """Half-width of a loss point's error bar: Z_ALPHA x the s.e. of loss(dataset) - loss(reference)
    over the shared test examples and seeds (0 for the reference itself or when unknown).

    The paired s.e., not each loss's own: the latter is dominated by how hard the test examples
    are, which every run shares, and would hide differences the paired test resolves.
    """
    effect = paired_difference(scores, task, dataset, reference) if reference and dataset != reference else None
    return Z_ALPHA * effect.se if effect else 0.0
