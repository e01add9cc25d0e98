"""The manipulation check: does diversity rise with the Gen-D level at all?

The paper's loss-versus-diversity claim is only a claim about diversity when the levels differ
in diversity. metrics/manipulation/{task}.json (the measure stage) holds, per set, measures at
equal sample counts with their standard errors; the check passes when Spearman(level, value)
>= RISES on at least two of the three families of across-sample measures: Distinct-n (counted
once, when most of its n pass), Vendi and mean pairwise embedding distance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from gendiv.report import results
from gendiv.report.stats import spearman

RISES = 0.9
DISTINCT = ("distinct_2", "distinct_3", "distinct_5")
FAMILIES = {"Distinct-n": DISTINCT, "Vendi": ("vendi",), "mean pairwise distance": ("mean_pairwise_distance",)}
# in table order; measures a task does not record are left out
MEASURES = (
    "topics_used",
    "topic_adherence",
    "topic_rank_mrr",
    *DISTINCT,
    "vendi",
    "mean_pairwise_distance",
    "repetition",
    "real_answer_share",
    "near_duplicate_share",
)
COVARIATES = ("real_answer_share", "near_duplicate_share")
PATH = results.MANIPULATION_DIR / "{task}.json"


@dataclass
class Check:
    """The check of one task: Spearman(level, value) per measure, and whether diversity rises."""

    task: str
    rho: dict[str, float]
    passed: bool | None  # None: the check was not measured (older runs)

    def numbers(self) -> str:
        if self.passed is None:
            return f"manipulation not checked ({PATH.as_posix().format(task=self.task)} absent)"
        shown = [
            f"{m} {r:.2f}"
            for m, r in self.rho.items()
            if any(m in fam for fam in FAMILIES.values()) and not math.isnan(r)
        ]
        return (
            f"Spearman(level, measure): {', '.join(shown) or 'not computable'} (rule: >= {RISES:g} on two "
            "of Distinct-n / Vendi / mean pairwise distance)"
        )


def family_passes(rho: dict[str, float], members: tuple[str, ...]) -> bool:
    hits = sum(rho.get(m, math.nan) >= RISES for m in members)
    return hits * 2 > len(members)


def check(man: dict | None, task: str, levels: list[int]) -> Check:
    if man is None:
        return Check(task, {}, None)
    sets = man["sets"]
    lvls = [lv for lv in levels if f"d{lv}" in sets]
    rho = {
        m: spearman(lvls, [sets[f"d{lv}"][m]["value"] for lv in lvls])
        for m in MEASURES
        if all(m in sets[f"d{lv}"] for lv in lvls) and lvls
    }
    return Check(task, rho, sum(family_passes(rho, fam) for fam in FAMILIES.values()) >= 2)


def _cell(entry: dict | None) -> str:
    if entry is None:
        return "-"
    value, se = entry["value"], entry.get("se", 0.0)
    text = f"{value:.4g}" if abs(value) >= 1 or value == 0 else f"{value:.3f}"
    return text + (f" ± {se:.2g}" if se else "")


def section(root: Path, tasks: tuple[str, ...], levels: list[int], table) -> tuple[list[str], dict[str, Check]]:
    """Markdown lines of the check (first in the report) and each task's Check."""
    md = [
        "## Manipulation check: does diversity rise with the Gen-D level?",
        "",
        "Before any loss claim: each set's diversity at an equal sample count (value ± jackknife s.e. "
        "over samples; QA: over documents). Across samples: Distinct-n, Vendi (cosine kernel), mean "
        "pairwise embedding distance; within samples: repetition (share of repeated word 2-grams). "
        "Story: topics used and topic adherence (share of stories whose embedding is nearest to their "
        "own topic among the pool; chance = 1 / pool size). QA: real-answer share and near-duplicate "
        "share are covariates: they move with the level too. The loss-versus-diversity claim is judged "
        f"only when Spearman(level, measure) >= {RISES:g} on at least two of Distinct-n (most of its n), "
        "Vendi and mean pairwise distance; otherwise its verdict is *manipulation failed*.",
        "",
    ]
    checks = {}
    for task in tasks:
        man = results.manipulation(root, task)
        checks[task] = c = check(man, task, levels)
        if man is None:
            md += [
                f"**{task}**: {c.numbers()}: a run from before the check existed; the loss-versus-diversity "
                "claim is not judged.",
                "",
            ]
            continue
        sets = man["sets"]
        names = ["real", "real_test"] + [f"d{lv}" for lv in levels]
        cols = [m for m in MEASURES if any(m in sets.get(n, {}) for n in names)]
        rows = [[n] + [_cell(sets[n].get(m)) for m in cols] for n in names if n in sets]
        rows.append(
            ["Spearman(level, ·)"]
            + [f"{c.rho[m]:.2f}" if not math.isnan(c.rho.get(m, math.nan)) else "n/a" for m in cols]
        )
        verdict = "rises with the level" if c.passed else "does NOT rise with the level"
        md += [
            f"**{task}** ({man['n_per_set']} samples per set, {man.get('subsamples', 1)} seeded subsamples): "
            f"diversity {verdict}.",
            "",
            table(["set"] + cols, rows),
            "",
        ]
        if task == "qa" and any(m in cols for m in COVARIATES):
            md += [
                "Answer source and near-duplication change with the level as well, so a QA loss trend "
                "cannot be credited to diversity alone.",
                "",
            ]
    return md, checks
