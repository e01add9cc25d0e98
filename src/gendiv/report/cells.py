"""What the report's cells print: numbers, markdown tables, and a set's loss and optimizer steps
as the run summary (gendiv.report.results.loss_summary) holds them."""

from __future__ import annotations

import math

import pandas as pd


def fmt(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def loss_of(summary: pd.DataFrame, task: str, dataset: str) -> tuple[float, float, int] | None:
    """(mean test loss, std over seeds (NaN for one seed), seeds) of a set."""
    row = summary[(summary.task == task) & (summary.dataset == dataset)]
    if row.empty:
        return None
    r = row.iloc[0]
    return float(r["mean"]), float(r["std"]), int(r["n"])


def steps_text(summary: pd.DataFrame, task: str, dataset: str) -> str:
    row = summary[(summary.task == task) & (summary.dataset == dataset)]
    if row.empty or math.isnan(row.iloc[0]["steps_min"]):
        return "n/a"
    lo, hi = int(row.iloc[0]["steps_min"]), int(row.iloc[0]["steps_max"])
    return str(lo) if lo == hi else f"{lo}-{hi}"


def steps_note(summary: pd.DataFrame, task: str, names: list[str]) -> str:
    """Whether the compared sets' runs took the same number of optimizer steps."""
    steps = {n: steps_text(summary, task, n) for n in names}
    if set(steps.values()) == {"n/a"}:
        return "Optimizer steps not recorded."
    if len(set(steps.values())) == 1 and "-" not in next(iter(steps.values())):
        return f"Equal optimizer steps ({next(iter(steps.values()))} per run)."
    return (
        "Optimizer steps differ ("
        + ", ".join(f"{n} {s}" for n, s in steps.items())
        + "): the contrast mixes data with training length."
    )
