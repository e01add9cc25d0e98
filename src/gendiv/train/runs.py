"""Where the files of each fine-tuning run live: written by train/evaluate, read by results/verify.

Kept apart from the readers so that changing how results are summarised never looks like a
change to the training stages (whose DVC deps are the modules they import).
"""

from __future__ import annotations

from pathlib import Path

from gendiv.errors import UserError
from gendiv.layout import ADAPTERS_DIR, EXAMPLES_DIR, RUNS_DIR


def _file(folder: Path, task: str, dataset: str, seed: int | None) -> Path:
    return folder / task / (f"{dataset}.json" if seed is None else f"{dataset}/s{seed}.json")


def metrics_path(task: str, dataset: str, seed: int | None = None) -> Path:
    """Test (and train) metrics of a run; without a seed, of the base model's reference run."""
    return _file(RUNS_DIR, task, dataset, seed)


def examples_path(task: str, dataset: str, seed: int | None = None) -> Path:
    """Per-example test scores of a run; without a seed, of the base model's reference run."""
    return _file(EXAMPLES_DIR, task, dataset, seed)


def adapter_path(task: str, dataset: str, seed: int) -> Path:
    """The peft adapter folder of a run (PeftModel.from_pretrained loads it)."""
    return ADAPTERS_DIR / task / dataset / f"s{seed}"


def trained_adapter(task: str, dataset: str, seed: int, root: Path = Path()) -> Path:
    """root / adapter_path of a finished run; a UserError naming the train command when it is missing."""
    path = root / adapter_path(task, dataset, seed)
    if not (path / "adapter_config.json").is_file():
        raise UserError(f"{path} is missing: run `gendiv train --task {task} --dataset {dataset} --seed {seed}`")
    return path


def live_path(task: str, dataset: str, seed: int) -> Path:
    """The DVCLive folder of a run's training curves."""
    return RUNS_DIR / task / dataset / f"s{seed}_live"
