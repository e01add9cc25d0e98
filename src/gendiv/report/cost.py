"""The report's cost section: one row per generation stage, from the reports the stages write.

Calls and cache hits are the stage's last run; tokens and USD count every answer its data
uses, cached or new (`tokens_*_all`, `estimated_cost_usd_all`), so a resumed or replayed
stage still shows what its data cost. USD is an estimate at the list prices in params; a
local hf generator costs none.
"""

from __future__ import annotations

from pathlib import Path

from gendiv.config import Params
from gendiv.io import read_json
from gendiv.layout import GENERATED_DIR, generation_report_path
from gendiv.report.cells import table


def stage_reports(p: Params) -> list[tuple[str, Path]]:
    """(stage, its generation report) of every generation stage the params ask for, in pipeline order."""
    return (
        [("generate-topics", GENERATED_DIR / "story" / "topics.report.json")]
        + [(f"generate-story --level {lv}", generation_report_path("story", f"d{lv}")) for lv in p.levels]
        + [("generate-qa-pool", GENERATED_DIR / "qa" / "pool.report.json")]
        + [
            (f"generate-source --name {g.name}", generation_report_path("story", f"src_{g.name}"))
            for g in p.source_diversity.generators
        ]
    )


def _usd(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def section(p: Params, root: Path) -> list[str]:
    rows, totals = [], [0, 0, 0, 0, 0.0, 0.0]
    for stage, path in stage_reports(p):
        if not (root / path).is_file():
            rows.append([stage, "not run", "-", "-", "-", "-", "-", "-"])
            continue
        r = read_json(root / path)
        values = [r.get(k, 0) for k in ("calls", "cache_hits", "tokens_in_all", "tokens_out_all")]
        costs = [r.get("estimated_cost_usd"), r.get("estimated_cost_usd_all")]
        totals = [t + v for t, v in zip(totals, values + [c or 0.0 for c in costs])]
        rows.append([stage, f"{r.get('backend')}:{r.get('model')}", *values, *map(_usd, costs)])
    rows.append(["**total**", "", *totals[:4], f"{totals[4]:.4f}", f"{totals[5]:.4f}"])
    g = p.generator
    return [
        "## Generation cost",
        "",
        "From each generation stage's report (`*.report.json`). Calls and cache hits are the stage's last run; "
        "tokens and USD (all answers) count every answer its data uses, cached or new. USD is estimated at "
        f"generator.price_in_per_mtok = {g.price_in_per_mtok:g} and price_out_per_mtok = {g.price_out_per_mtok:g} "
        "per million tokens (their source and date: the comments in `params.yaml`; Batch API at half); "
        "a local hf generator has no USD (-). `gendiv estimate` prints this before a run.",
        "",
        table(
            [
                "stage",
                "generator",
                "calls (last run)",
                "cache hits",
                "tokens in",
                "tokens out",
                "USD (last run)",
                "USD (all answers)",
            ],
            rows,
        ),
        "",
    ]
