"""Small tables the report stage writes for `dvc exp show` and the top-level `plots:` of dvc.yaml.

metrics/headline.json is the one metrics file of the pipeline, so `dvc exp show` stays readable:
per task the test loss of the base model, of real data and of each Gen-D level, the Distinct-5
of real data and of each level, and the self-BLEU of each source-diversity model's outputs.
Every other number stays in its own file (plain outputs: metrics/summary.json holds every set's
loss, metrics/diversity/ every diversity metric). The CSVs under reports/plots/{task}/ have
fixed column names so every plot in dvc.yaml names its x and y; series with one line per set
are long tables (x, set, y) drawn by reports/templates/lines_by_set.json.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd

from gendiv.config import TASKS
from gendiv.io import atomic_open, read_json
from gendiv.layout import PLOTS_DIR, SOURCE_DIVERSITY_METRICS
from gendiv.report import results
from gendiv.report.cells import loss_of
from gendiv.train.runs import live_path

PLOTS = PLOTS_DIR
SOURCE_DIVERSITY = SOURCE_DIVERSITY_METRICS
TRAIN_CURVE = Path("plots/metrics/train/loss.tsv")  # DVCLive's file inside a run's live folder


def _r(x: float) -> float:
    return round(float(x), 6)


def _loss(summary: pd.DataFrame, task: str, dataset: str) -> float | None:
    """A set's mean test loss, rounded for the tables (None: no run recorded)."""
    got = loss_of(summary, task, dataset)
    return None if got is None else _r(got[0])


def headline(summary: pd.DataFrame, div: dict[str, dict], levels: list[int], root: Path) -> dict:
    """The numbers `dvc exp show` lists: bounded by the levels and generators, not by the grid."""
    out: dict[str, dict[str, float]] = {}
    for task in TASKS:
        losses = {name: _loss(summary, task, name) for name in ["base", "real", *(f"d{lv}" for lv in levels)]}
        out[f"loss_{task}"] = {k: v for k, v in losses.items() if v is not None}
        out[f"distinct_5_{task}"] = {
            name: _r(div[task][name]["distinct_5"])
            for name in ["real", *(f"d{lv}" for lv in levels)]
            if "distinct_5" in div.get(task, {}).get(name, {})
        }
    if (root / SOURCE_DIVERSITY).is_file():
        models = read_json(root / SOURCE_DIVERSITY).get("models", {})
        out["self_bleu_sources"] = {
            m: _r(v["intra"]["self_bleu"]) for m, v in models.items() if "self_bleu" in v.get("intra", {})
        }
    return {k: v for k, v in out.items() if v}


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with atomic_open(path) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _cell(x: float | None):
    return "" if x is None else x


def loss_vs_level(summary: pd.DataFrame, task: str, levels: list[int]) -> list[list]:
    """level, Gen-D loss, and the real and base losses as reference lines (paper fig. 2)."""
    real, base = _loss(summary, task, "real"), _loss(summary, task, "base")
    return [[lv, got, _cell(real), _cell(base)] for lv in levels if (got := _loss(summary, task, f"d{lv}")) is not None]


def fixed_mixing(summary: pd.DataFrame, task: str) -> list[list]:
    """rho, loss of each fixed-size mix (paper fig. 5)."""
    return sorted(
        [r, _loss(summary, task, d)]
        for d in summary[summary.task == task].dataset
        if (r := results.fixed_ratio_of(d)) is not None
    )


def expansion(summary: pd.DataFrame, task: str) -> list[list]:
    """rho, set, loss: one line per expansion level, each starting at the small real set alone (rho 0)."""
    base = _loss(summary, task, "expand_real")
    rows = []
    for d in summary[summary.task == task].dataset:
        if e := results.expansion_of(d):
            rows.append([e[1], f"real + d{e[0]}", _loss(summary, task, d)])
    if base is not None:
        rows += [[0.0, name, base] for name in {r[1] for r in rows}]
    return sorted(rows, key=lambda r: (r[1], r[0]))


def train_loss(root: Path, task: str, sets: list[str], seeds: list[int]) -> list[list]:
    """step, set, training loss averaged over the seeds that logged that step (core sets only)."""
    rows = []
    for name in sets:
        per_step: dict[int, list[float]] = {}
        for seed in seeds:
            path = root / live_path(task, name, seed) / TRAIN_CURVE
            if path.is_file():
                with path.open(encoding="utf-8") as fh:
                    for rec in csv.DictReader(fh, delimiter="\t"):
                        per_step.setdefault(int(rec["step"]), []).append(float(rec["loss"]))
        rows += [[step, name, _r(math.fsum(v) / len(v))] for step, v in sorted(per_step.items())]
    return rows


def write(root: Path, summary: pd.DataFrame, div: dict[str, dict], levels: list[int], seeds: list[int]) -> dict:
    """Write the plot tables of every task and return the headline metrics (the caller writes them)."""
    for task in TASKS:
        folder = root / PLOTS / task
        _write_csv(
            folder / "loss_vs_level.csv", ["level", "gen_d", "real", "base"], loss_vs_level(summary, task, levels)
        )
        _write_csv(folder / "fixed_mixing.csv", ["rho", "loss"], fixed_mixing(summary, task))
        _write_csv(folder / "expansion.csv", ["rho", "set", "loss"], expansion(summary, task))
        _write_csv(
            folder / "train_loss.csv",
            ["step", "set", "loss"],
            train_loss(root, task, ["real", *(f"d{lv}" for lv in levels)], seeds),
        )
    return headline(summary, div, levels, root)
