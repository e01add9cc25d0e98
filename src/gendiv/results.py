"""Read every recorded metric into tidy tables: the report and verify both start here.

Run metrics live at metrics/runs/{task}/{dataset}/s{seed}.json (one fine-tuning run each)
and metrics/runs/{task}/base.json (the base model without adapter); each run's per-example
test scores beside them under metrics/examples/ (same layout); diversity and distribution
metrics at metrics/diversity/{task}.json, nested by dataset.

Every run is scored on the same real test examples, so two runs are compared pairwise:
the standard error of a loss difference comes from the spread of per-example differences,
which is far smaller than the spread of the losses themselves.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gendiv.io import read_json
from gendiv.params import TASKS, Params
from gendiv.runs import examples_path, metrics_path

DIVERSITY_DIR = Path("metrics/diversity")


def planned_runs(p: Params) -> set[tuple[str, str, int]]:
    """(task, dataset, seed) of every run the params ask dvc.yaml for; the base model has seed -1.

    Files of runs that the params no longer ask for stay in the workspace (DVC does not delete
    outputs of stages that left the grid), so readers select by this set, never by glob alone.
    """
    from gendiv.datasets import dataset_names

    sources = [f"src_{g.name}" for g in p.source_diversity.generators] + ["src_multi"]
    runs = {(task, "base", -1) for task in TASKS}
    for task in TASKS:
        names = dataset_names(p, task) + (sources if task == "story" else [])
        runs |= {(task, name, seed) for name in names for seed in p.train.seeds}
    return runs


def run_metrics(root: Path, p: Params) -> pd.DataFrame:
    """One row per fine-tuning run of the params' grid: task, dataset, seed and its recorded numbers."""
    rows = []
    for task, dataset, seed in sorted(planned_runs(p)):
        path = root / metrics_path(task, dataset, None if dataset == "base" else seed)
        if path.is_file():
            rows.append({"task": task, "dataset": dataset, "seed": seed, **_numbers(read_json(path))})
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


def subset_of(dataset: str) -> tuple[str, int] | None:
    """(source, size) of a dataset-size subset like 'd3_n100' or 'real_n100'."""
    match = re.fullmatch(r"(real|d\d+)_n(\d+)", dataset)
    return (match.group(1), int(match.group(2))) if match else None


def expansion_of(dataset: str) -> tuple[int, float] | None:
    """(source level, ratio) of an expansion set like 'expand_d3_r0.5'."""
    match = re.fullmatch(r"expand_d(\d+)_r([0-9.]+)", dataset)
    return (int(match.group(1)), float(match.group(2))) if match else None


@dataclass(frozen=True)
class ExampleScores:
    """Completion NLL (summed over its tokens) and token count of every test example."""

    ids: tuple[str, ...]
    nll: np.ndarray
    tokens: np.ndarray

    @property
    def loss(self) -> float:
        return float(self.nll.sum() / self.tokens.sum())


def example_scores(root: Path, task: str, dataset: str, seeds: list[int]) -> ExampleScores | None:
    """Per-example scores of a training set, NLL averaged over `seeds` (None: none recorded)."""
    if dataset == "base":
        files = [root / examples_path(task, "base")]
    else:
        files = [root / examples_path(task, dataset, seed) for seed in seeds]
    records = [read_json(f) for f in files if f.is_file()]
    if not records:
        return None
    first = records[0]
    for other in records[1:]:
        if other["id"] != first["id"] or other["tokens"] != first["tokens"]:
            raise ValueError(f"{task}/{dataset}: seeds were scored on different test examples")
    nll = np.mean([np.asarray(r["nll"], dtype=np.float64) for r in records], axis=0)
    return ExampleScores(tuple(first["id"]), nll, np.asarray(first["tokens"], dtype=np.float64))


def loss_contrast(scores: list[ExampleScores], weights: list[float]) -> tuple[float, float]:
    """sum_k w_k * loss_k and its standard error over test examples, the runs paired by example.

    All losses share the token counts t_i, so the contrast is the ratio sum_i d_i / sum_i t_i
    with d_i = sum_k w_k nll_ki; its standard error is the linearised one of a ratio
    estimator, sqrt(n / (n - 1) * sum_i (d_i - C t_i)^2) / sum_i t_i.
    """
    first = scores[0]
    for s in scores[1:]:
        if s.ids != first.ids or not np.array_equal(s.tokens, first.tokens):
            raise ValueError("runs were scored on different test examples; they cannot be paired")
    d = sum(w * s.nll for w, s in zip(weights, scores))
    t = first.tokens
    n = len(t)
    contrast = float(d.sum() / t.sum())
    if n < 2:
        return contrast, math.nan
    resid = d - contrast * t
    return contrast, float(math.sqrt(n / (n - 1) * float(resid @ resid)) / t.sum())


def loss_difference(a: ExampleScores, b: ExampleScores) -> tuple[float, float]:
    """loss(a) - loss(b) on the same test examples, and its paired standard error."""
    return loss_contrast([a, b], [1.0, -1.0])


def loss_slope(xs: list[float], scores: list[ExampleScores]) -> tuple[float, float]:
    """Least-squares slope of loss against x (e.g. the Gen-D level), with its paired standard error."""
    x = np.asarray(xs, dtype=np.float64)
    centred = x - x.mean()
    return loss_contrast(scores, list(centred / float(centred @ centred)))
