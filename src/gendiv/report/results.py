"""Read every recorded metric into tidy tables: the report and verify both start here.

Run metrics live at metrics/runs/{task}/{dataset}/s{seed}.json (one fine-tuning run each)
and metrics/runs/{task}/base.json (the base model without adapter); each run's per-example
test scores beside them under metrics/examples/ (same layout); diversity and distribution
metrics at metrics/diversity/{task}.json, nested by dataset; the manipulation check (diversity
per Gen-D level at equal sample counts, with standard errors) at metrics/manipulation/{task}.json.

Every run is scored on the same real test examples, so two runs are compared pairwise:
the test-example part of a loss difference's standard error comes from the spread of
per-example differences, which is far smaller than the spread of the losses themselves;
the seed-to-seed spread of the runs is added to it (loss_contrast).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gendiv.config import TASKS, Params
from gendiv.io import read_json
from gendiv.layout import DIVERSITY_DIR, MANIPULATION_DIR, dataset_names, parse_dataset, run_seeds
from gendiv.report.stats import Estimate, centred_weights
from gendiv.train.runs import examples_path, metrics_path


def planned_runs(p: Params) -> set[tuple[str, str, int]]:
    """(task, dataset, seed) of every run the params ask dvc.yaml for; the base model has seed -1.

    Files of runs that the params no longer ask for stay in the workspace (DVC does not delete
    outputs of stages that left the grid), so readers select by this set, never by glob alone.
    """
    sources = [f"src_{g.name}" for g in p.source_diversity.generators] + ["src_multi"]
    runs = {(task, "base", -1) for task in TASKS}
    for task in TASKS:
        names = dataset_names(p, task) + (sources if task == "story" else [])
        runs |= {(task, name, seed) for name in names for seed in run_seeds(p, name)}
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
    """Mean, standard deviation over seeds (NaN for one seed: not measured), run count and the
    fewest and most optimizer steps of the runs, per set."""
    columns = ["task", "dataset", "mean", "std", "n", "steps_min", "steps_max"]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    if "steps" not in runs:
        runs = runs.assign(steps=float("nan"))
    grouped = runs.groupby(["task", "dataset"])
    out = grouped["test_loss"].agg(["mean", "std", "count"]).rename(columns={"count": "n"})
    out["steps_min"], out["steps_max"] = grouped["steps"].min(), grouped["steps"].max()
    return out.reset_index()[columns]


def manipulation(root: Path, task: str) -> dict | None:
    """The manipulation check of a task (metrics/manipulation/{task}.json; None where not measured)."""
    path = root / MANIPULATION_DIR / f"{task}.json"
    return read_json(path) if path.is_file() else None


def diversity_metrics(root: Path, task: str) -> dict[str, dict[str, float]]:
    """{dataset: {metric: value}} from metrics/diversity/{task}.json ({} if not measured).

    The file is nested by dataset; names like fixed_r0.5 contain dots, so it is read as
    nested, never flattened and split.
    """
    path = root / DIVERSITY_DIR / f"{task}.json"
    if not path.is_file():
        return {}
    return {dataset: _numbers(values) for dataset, values in read_json(path).items() if isinstance(values, dict)}


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
    parsed = parse_dataset(dataset)
    return parsed.level if parsed and parsed.kind == "generated" else None


def fixed_ratio_of(dataset: str) -> float | None:
    parsed = parse_dataset(dataset)
    return float(parsed.ratio) if parsed and parsed.kind == "fixed" else None


def subset_of(dataset: str) -> tuple[str, int] | None:
    """(source, size) of a dataset-size subset like 'd3_n100' or 'real_n100'."""
    parsed = parse_dataset(dataset)
    return (parsed.source, parsed.size) if parsed and parsed.kind == "subset" else None


def expansion_of(dataset: str) -> tuple[int, float] | None:
    """(source level, ratio) of an expansion set like 'expand_d3_r0.5'."""
    parsed = parse_dataset(dataset)
    return (parsed.level, float(parsed.ratio)) if parsed and parsed.kind == "expand" else None


def document_of(task: str, example_id: str) -> str:
    """The test cluster of an example: QA questions of one document share its context (ids are
    '{document_id}-{k}', see prepare_real), so they are not independent; a story is its own."""
    return example_id.rsplit("-", 1)[0] if task == "qa" else example_id


@dataclass(frozen=True)
class ExampleScores:
    """Completion NLL (summed over its tokens) of every test example for each seed of a set
    (one row per seed), the examples' token counts and their test clusters."""

    ids: tuple[str, ...]
    nll_by_seed: np.ndarray
    tokens: np.ndarray
    clusters: tuple[str, ...]

    @property
    def nll(self) -> np.ndarray:
        """Per-example NLL averaged over the seeds."""
        return self.nll_by_seed.mean(axis=0)

    @property
    def seeds(self) -> int:
        return len(self.nll_by_seed)

    @property
    def seed_losses(self) -> np.ndarray:
        return self.nll_by_seed.sum(axis=1) / self.tokens.sum()

    @property
    def loss(self) -> float:
        return float(self.nll.sum() / self.tokens.sum())


def per_example_values(values_by_seed: np.ndarray) -> ExampleScores:
    """Per-seed values of any per-example score (one row per seed; each example its own cluster,
    weighing one token), so that loss_contrast's standard error over examples and seeds applies
    to its means too."""
    values = np.asarray(values_by_seed, dtype=np.float64)
    ids = tuple(str(i) for i in range(values.shape[1]))
    return ExampleScores(ids, values, np.ones(values.shape[1]), ids)


def example_scores(root: Path, task: str, dataset: str, seeds: list[int]) -> ExampleScores | None:
    """Per-example scores of every recorded seed of a training set among `seeds` (None: none recorded)."""
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
    nll = np.array([r["nll"] for r in records], dtype=np.float64)
    return ExampleScores(
        tuple(first["id"]),
        nll,
        np.asarray(first["tokens"], dtype=np.float64),
        tuple(document_of(task, i) for i in first["id"]),
    )


def loss_contrast(scores: list[ExampleScores], weights: list[float]) -> Estimate:
    """sum_k w_k * loss_k (loss_k averaged over set k's seeds), with a standard error that counts
    both the test examples and the training seeds (a two-level model, additive variances).

    Test examples: all losses share the token counts t_i, so the contrast is the ratio
    sum_i d_i / sum_i t_i with d_i = sum_k w_k nll_ki (nll averaged over seeds); its variance is
    the linearised one of a ratio estimator, with the residuals d_i - C t_i summed per test
    cluster (QA: per document) first: G / (G - 1) * sum_g r_g^2 / (sum_i t_i)^2.
    Seeds: sum_k w_k^2 s^2 / n_k, where s^2 is the variance of a run's loss around its set's
    mean, pooled over the sets in the contrast (training noise comes from the optimiser: data
    order and adapter initialisation, which every set shares; with 3 seeds a per-set variance
    has only 2 degrees of freedom and would make the error itself noisy). The seed term also
    holds a little of the test-example term's seed-by-example noise, and runs of different sets
    are taken as independent (a seed's shared adapter initialisation can only correlate them
    positively), so the sum errs on the wide side. With one seed per set s^2 is unmeasured and only the
    test term is counted
    (Estimate.seeds says so).
    """
    first = scores[0]
    for s in scores[1:]:
        if s.ids != first.ids or not np.array_equal(s.tokens, first.tokens):
            raise ValueError("runs were scored on different test examples; they cannot be paired")
    d = sum(w * s.nll for w, s in zip(weights, scores))
    t = first.tokens
    contrast = float(d.sum() / t.sum())
    keys = sorted(set(first.clusters))
    if len(keys) < 2:
        return Estimate(contrast, math.nan, min(s.seeds for s in scores))
    index = {k: i for i, k in enumerate(keys)}
    resid = np.bincount([index[c] for c in first.clusters], d - contrast * t, len(keys))
    test_var = len(keys) / (len(keys) - 1) * float(resid @ resid) / t.sum() ** 2
    df = sum(s.seeds - 1 for s in scores)
    pooled = sum(float(((s.seed_losses - s.seed_losses.mean()) ** 2).sum()) for s in scores) / df if df else 0.0
    seed_var = pooled * sum(w * w / s.seeds for w, s in zip(weights, scores))
    seeds = min(s.seeds for s in scores)
    seed_se = math.sqrt(seed_var) if df else None  # unmeasured with one seed per set
    return Estimate(contrast, math.sqrt(test_var + seed_var), seeds, math.sqrt(test_var), seed_se)


def loss_difference(a: ExampleScores, b: ExampleScores) -> Estimate:
    """loss(a) - loss(b) on the same test examples, and its paired standard error."""
    return loss_contrast([a, b], [1.0, -1.0])


def loss_slope(xs: list[float], scores: list[ExampleScores]) -> Estimate:
    """Least-squares slope of loss against x (e.g. the Gen-D level), with its paired standard error."""
    return loss_contrast(scores, centred_weights(xs, span=False))
