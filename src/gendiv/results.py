"""Read every recorded metric into tidy tables: the report and verify both start here.

Run metrics live at metrics/runs/{task}/{dataset}/s{seed}.json (one fine-tuning run each)
and metrics/runs/{task}/base.json (the base model without adapter); diversity and
distribution metrics at metrics/diversity/{task}.json, flat "{dataset}.{metric}" keys.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from gendiv.io import read_json

RUNS_DIR = Path("metrics/runs")
DIVERSITY_DIR = Path("metrics/diversity")
_SEED_FILE = re.compile(r"^s(\d+)\.json$")


def run_metrics(root: Path = Path(".")) -> pd.DataFrame:
    """One row per fine-tuning run: task, dataset, seed and every number the run recorded."""
    rows = []
    for path in sorted((root / RUNS_DIR).glob("*/*/s*.json")):
        match = _SEED_FILE.match(path.name)
        if not match:
            continue
        task, dataset = path.parent.parent.name, path.parent.name
        rows.append({"task": task, "dataset": dataset, "seed": int(match.group(1)), **_numbers(read_json(path))})
    for path in sorted((root / RUNS_DIR).glob("*/base.json")):
        rows.append({"task": path.parent.name, "dataset": "base", "seed": -1, **_numbers(read_json(path))})
    columns = ["task", "dataset", "seed", "test_loss"]
    return pd.DataFrame(rows, columns=None if rows else columns)


def loss_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation (over seeds) and run count of the test loss per set."""
    if runs.empty:
        return pd.DataFrame(columns=["task", "dataset", "mean", "std", "n"])
    grouped = runs.groupby(["task", "dataset"])["test_loss"]
    out = grouped.agg(["mean", "std", "count"]).reset_index().rename(columns={"count": "n"})
    out["std"] = out["std"].fillna(0.0)
    return out


def diversity_metrics(root: Path, task: str) -> dict[str, dict[str, float]]:
    """{dataset: {metric: value}} from metrics/diversity/{task}.json ({} if not measured).

    The file is nested by dataset; names like fixed_r0.5 contain dots, so it is read as
    nested, never flattened and split.
    """
    path = root / DIVERSITY_DIR / f"{task}.json"
    if not path.is_file():
        return {}
    return {dataset: _numbers(values) for dataset, values in read_json(path).items()
            if isinstance(values, dict)}


def flatten(obj, prefix: str = "") -> dict:
    """Nested mappings as one level of dotted keys."""
    if not isinstance(obj, dict):
        return {prefix: obj}
    out = {}
    for key, value in obj.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _numbers(obj: dict) -> dict:
    return {k: v for k, v in flatten(obj).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def level_of(dataset: str) -> int | None:
    """The Gen-D level of a dataset name like 'd3', else None."""
    match = re.fullmatch(r"d(\d+)", dataset)
    return int(match.group(1)) if match else None


def fixed_ratio_of(dataset: str) -> float | None:
    match = re.fullmatch(r"fixed_r([0-9.]+)", dataset)
    return float(match.group(1)) if match else None


def expansion_of(dataset: str) -> tuple[int, float] | None:
    """(source level, ratio) of an expansion set like 'expand_d3_r0.5'."""
    match = re.fullmatch(r"expand_d(\d+)_r([0-9.]+)", dataset)
    return (int(match.group(1)), float(match.group(2))) if match else None
