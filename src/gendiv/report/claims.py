"""The paper's claims (SPEC section 7) at this scale: each reduced to ONE estimate in its own
units and judged by gendiv.report.stats.judge (one test per claim, never "any single contrast").

Loss claims are linear contrasts of the sets' test losses (gendiv.report.results.loss_contrast: test
examples and seeds both counted, QA clustered by document); claims about the data (diversity,
length) are contrasts of per-set measures of disjoint samples (gendiv.report.stats.independent_sum).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gendiv.config import TASKS, Params
from gendiv.io import read_jsonl
from gendiv.layout import dataset_path
from gendiv.report import results
from gendiv.report.cells import fmt, loss_of, steps_note
from gendiv.report.manipulation import Check
from gendiv.report.stats import (
    MDE_FACTOR,
    MIN_CLUSTERS,
    Z_ALPHA,
    Estimate,
    Finding,
    Verdict,
    centred_weights,
    cluster_mean,
    finding,
    independent_sum,
    spearman,
)

Scores = dict[tuple[str, str], "results.ExampleScores | None"]  # (task, dataset) -> per-example scores

METHOD = [
    "Each claim of the paper is reduced to ONE estimate in its own units (e.g. the mean over levels of "
    "Gen-D minus real loss; the fitted loss change from the lowest to the highest level; the mean over "
    "rho > 0 minus rho = 0), shown as estimate ± standard error, and judged by one rule: a two-sided "
    f"z-test at alpha 0.05 (|estimate| > {Z_ALPHA:g} s.e.). Every verdict states the smallest effect the "
    f'test detects with 80% power ({MDE_FACTOR:.2f} s.e.); *inconclusive* reads "no effect larger than X '
    f'at 95% confidence", X = |estimate| + {Z_ALPHA:g} s.e., the largest effect the interval leaves open. '
    "Loss s.e. combine two levels of noise: test examples (every run is scored on the same real "
    "test examples, so contrasts are paired per example; QA questions are clustered by document) and "
    "training seeds (the run-to-run variance of the loss, pooled over the sets of the claim, divided by "
    "each set's seed count; an analytic two-level model, chosen over a bootstrap because it is exact "
    "for linear contrasts, deterministic and costs nothing). A loss claim resting on single-seed runs "
    "cannot measure training noise: it is labelled an *indication*, never *reproduced*. Claims about the "
    "data (diversity, length) use jackknife standard errors over samples (QA: over documents); one "
    f"resting on fewer than {MIN_CLUSTERS} documents is an *indication* too (a jackknife over G clusters "
    "has G − 1 degrees of freedom: at 3, chance crosses the threshold ~19% of the time).",
    "",
]


def loss_claim(
    claim: str,
    task: str,
    scores: Scores,
    summary: pd.DataFrame,
    weights: dict[str, float],
    sign: int,
    unit: str,
    note: str,
) -> Finding:
    """A loss claim judged on the contrast sum_set w_set * loss(set)."""
    if not weights:
        return Finding(claim, task, Verdict.NOT_RUN, "no comparison available")
    missing = [n for n in weights if not scores.get((task, n))]
    if missing:
        return Finding(claim, task, Verdict.NOT_JUDGED, "per-example test scores missing for " + ", ".join(missing))
    est = results.loss_contrast([scores[(task, n)] for n in weights], list(weights.values()))
    return finding(claim, task, est, sign, unit, f"{note} {steps_note(summary, task, list(weights))}".strip())


def gated(f: Finding, check: Check) -> Finding:
    """A diversity claim only stands when the manipulation check shows diversity rising with level."""
    if check.passed or f.verdict in (Verdict.NOT_JUDGED, Verdict.NOT_RUN):
        return f
    verdict = Verdict.MANIPULATION_FAILED if check.passed is False else Verdict.NOT_JUDGED
    return Finding(f.claim, f.task, verdict, f"{check.numbers()}. Not judged on loss; for the record: {f.evidence}")


def mean_minus(names: list[str], reference: str) -> dict[str, float]:
    return {**{n: 1 / len(names) for n in names}, reference: -1.0}


def length_estimate(root: Path, task: str, name: str) -> Estimate | None:
    """Mean words of a set's targets (story completion, QA answer), s.e. clustered by QA document."""
    path = root / dataset_path(task, name)
    if not path.is_file():
        return None
    rows = read_jsonl(path)
    key = "answer" if task == "qa" else "completion"
    return cluster_mean(
        [len(r[key].split()) for r in rows], [r["document_id"] if task == "qa" else r["id"] for r in rows]
    )


def data_claim(
    claim: str,
    task: str,
    per_set: dict[str, Estimate | None],
    weights: dict[str, float],
    sign: int,
    unit: str,
    note: str,
) -> Finding:
    missing = [n for n in weights if per_set.get(n) is None]
    if missing:
        return Finding(claim, task, Verdict.NOT_JUDGED, note + " Missing for " + ", ".join(missing) + ".")
    est = independent_sum([per_set[n] for n in weights], list(weights.values()))
    values = ", ".join(f"{n} {per_set[n].value:.4g}" for n in weights)
    return finding(claim, task, est, sign, unit, f"{values}. {note}")


def task_findings(
    p: Params, root: Path, task: str, summary: pd.DataFrame, scores: Scores, check: Check
) -> list[Finding]:
    out: list[Finding] = []
    present = set(summary[summary.task == task].dataset)
    gen = [lv for lv in p.levels if f"d{lv}" in present]
    names = [f"d{lv}" for lv in gen]
    claim = f"Test loss falls as diversity rises (Gen-D{p.levels[0]} to Gen-D{p.levels[-1]})"
    if len(gen) < 3:
        out.append(Finding(claim, task, Verdict.NOT_RUN, "fewer than three Gen-D levels were trained"))
    else:
        losses = [loss_of(summary, task, n)[0] for n in names]
        out.append(
            gated(
                loss_claim(
                    claim,
                    task,
                    scores,
                    summary,
                    dict(zip(names, centred_weights(gen))),
                    -1,
                    f"nats (D{gen[0]}→D{gen[-1]} change)",
                    f"Least-squares fit over levels {', '.join(map(str, gen))}; Spearman(level, loss) = "
                    f"{spearman(gen, losses):.2f}; loss D{gen[0]} {fmt(losses[0])}, D{gen[-1]} {fmt(losses[-1])}.",
                ),
                check,
            )
        )
    if gen and "real" in present:
        out.append(
            loss_claim(
                "Gen-D sets are worse than real data (mean over levels of Gen-D − real)",
                task,
                scores,
                summary,
                mean_minus(names, "real"),
                +1,
                "nats",
                "",
            )
        )
    man = results.manipulation(root, task)
    claim, sign = (
        ("Paraphrasing makes generated QA data less diverse than real data", -1)
        if task == "qa"
        else ("Generated stories are more diverse than real stories", +1)
    )
    if gen and man is None:
        out.append(
            Finding(
                claim,
                task,
                Verdict.NOT_JUDGED,
                f"no diversity at equal sample counts with standard errors ({check.numbers()}).",
            )
        )
    elif gen:
        clusters = p.data.qa.n_train_docs if task == "qa" else None  # the QA jackknife is over documents
        div = {
            n: Estimate(v["distinct_5"]["value"], v["distinct_5"]["se"], clusters=clusters)
            for n, v in man["sets"].items()
            if "distinct_5" in v
        }
        out.append(
            data_claim(
                claim,
                task,
                div,
                mean_minus(names, "real"),
                sign,
                "Distinct-5",
                f"Mean over levels of Gen-D − real Distinct-5 at {man['n_per_set']} samples per set.",
            )
        )
    lengths = {n: length_estimate(root, task, n) for n in names + ["real"]}
    if task == "qa" and len(gen) >= 3:
        out.append(
            data_claim(
                "More diverse Gen-D QA sets have longer answers",
                task,
                lengths,
                dict(zip(names, centred_weights(gen))),
                +1,
                f"words (D{gen[0]}→D{gen[-1]} change)",
                "Least-squares fit of mean answer words over levels. The levels also differ in answer"
                " source: the real-answer share falls with the level (QA manipulation table).",
            )
        )
    if task == "story" and gen:
        out.append(
            data_claim(
                "Generated stories are shifted: longer completions than real",
                task,
                lengths,
                mean_minus(names, "real"),
                +1,
                "words",
                "Mean over levels of Gen-D − real mean completion words.",
            )
        )
    fixed = sorted((r, d) for d in present if (r := results.fixed_ratio_of(d)) is not None)
    if len(fixed) >= 2 and fixed[0][0] == 0.0:
        out.append(
            loss_claim(
                "Fixed-size mixing: generated data raises test loss (mean over rho > 0 − rho = 0)",
                task,
                scores,
                summary,
                mean_minus([d for _, d in fixed[1:]], fixed[0][1]),
                +1,
                "nats",
                "Losses: " + ", ".join(f"rho {r:g} {fmt(loss_of(summary, task, d)[0])}" for r, d in fixed) + ".",
            )
        )
    exp = sorted((e, d) for d in present if (e := results.expansion_of(d)))
    if "expand_real" in present and exp:
        claim, sign = (
            ("Adding generated data to scarce real data helps (QA)", -1)
            if task == "qa"
            else ("Adding generated data to scarce real stories hurts (distribution shift)", +1)
        )
        out.append(
            loss_claim(
                claim,
                task,
                scores,
                summary,
                mean_minus([d for _, d in exp], "expand_real"),
                sign,
                "nats",
                f"Mean over {len(exp)} expansions (levels x ratios) − the small real set alone "
                f"({fmt(loss_of(summary, task, 'expand_real')[0])}).",
            )
        )
    return out


def findings(p: Params, root: Path, summary: pd.DataFrame, scores: Scores, checks: dict[str, Check]) -> list[Finding]:
    out = [f for task in TASKS for f in task_findings(p, root, task, summary, scores, checks[task])]
    out += [
        Finding(
            "Fixed-size mixing and expansion with generated data",
            task,
            Verdict.NOT_RUN,
            f"`mixing.tasks` leaves out {task}: these grids do not fit "
            f"the embedded default's 60-minute budget next to {len(p.train.seeds)} seeds per core run; "
            "`gendiv apply-profile profiles/full.yaml` turns them on.",
        )
        for task in TASKS
        if task not in p.mixing.tasks
    ]
    out.append(
        Finding(
            "Model size: the 124M model gains from diversity, the 8B model loses",
            "both",
            Verdict.NOT_RUN,
            "needs GPT-2 124M / Llama 3.2 1B / Llama 3.1 8B: run the paper profile per model "
            "(dvc exp run -S models.base.hub_id=...).",
        )
    )
    return out
