"""Where the files of each fine-tuning run live: written by train/evaluate, read by results/verify.

Kept apart from the readers so that changing how results are summarised never looks like a
change to the training stages (whose DVC deps are the modules they import).
"""

from __future__ import annotations

from pathlib import Path

ADAPTERS_DIR = Path("models/adapters")
RUNS_DIR = Path("metrics/runs")
EXAMPLES_DIR = Path("metrics/examples")


def examples_path(task: str, dataset: str, seed: int | None = None) -> Path:
    """Per-example test scores of a run; without a seed, of the base model's reference run."""
    return EXAMPLES_DIR / task / (f"{dataset}.json" if seed is None else f"{dataset}/s{seed}.json")
