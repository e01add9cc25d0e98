"""Stage `report`: reports/REPORT.md and its figures, written from the metrics files alone.

Each figure is a PNG under reports/figures/results/ whose text chunk "Description" lists
the plotted series as JSON, so tests (and reviewers) can check what a figure shows
without reading pixels. Each task opens with its manipulation check (report.manipulation);
every finding of the paper is judged by the one rule of gendiv.report.stats on the recorded numbers
(report.claims, report.size); nothing here is typed in by hand.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd  # noqa: E402

from gendiv.config import TASKS, Params, load_params  # noqa: E402
from gendiv.io import atomic_open, write_json  # noqa: E402
from gendiv.layout import HEADLINE, RESULT_FIGURES_DIR, SUMMARY, run_seeds  # noqa: E402
from gendiv.report import manipulation as report_manipulation  # noqa: E402
from gendiv.report import provenance as report_provenance
from gendiv.report import results
from gendiv.report import size as report_size
from gendiv.report import sources as report_sources
from gendiv.report import tables as report_tables
from gendiv.report.cells import fmt as _fmt
from gendiv.report.cells import steps_text
from gendiv.report.cells import table as _table
from gendiv.report.claims import METHOD, Scores, findings
from gendiv.report.common import (
    REPORT,
)
from gendiv.report.common import (
    figure_link as _rel,
)
from gendiv.report.figures import (  # noqa: E402
    figure_expansion,
    figure_fixed_mixing,
    figure_levels,
    loss_figure_lines,
    measure_figure_lines,
)

FIGURES = RESULT_FIGURES_DIR
DISTANCES = ("mmd2_rbf", "mmd2_rbf_p", "frechet")  # measure.set_metrics.distance_metrics
SCORES = ("dcscore", "vendi")  # measure.set_metrics.embedding_metrics

# Distinct-5 of Gen-D0..Gen-D6 from the paper's table in sec. 4.2 (Zhu et al., arXiv 2506.19262;
# the text extraction in ../shared/seeds lost its caption and page); their absolute scale reflects
# an aggregation the paper does not define, so only the trend is comparable.
PAPER_DISTINCT5 = {
    "qa": [0.0057, 0.0078, 0.0089, 0.0088, 0.0111, 0.0095, 0.0099],
    "story": [2.4507, 2.5120, 2.5651, 2.7896, 2.7827, 2.7635, 3.0178],
}


# ---------------------------------------------------------------- figures


def with_test_se(summary: pd.DataFrame, scores: Scores) -> pd.DataFrame:
    """`summary` plus column se: each set's loss standard error over test examples and seeds."""
    out = summary.copy()
    out["se"] = [
        results.loss_contrast([sc], [1.0]).se if (sc := scores.get((t, d))) else float("nan")
        for t, d in zip(out.task, out.dataset)
    ]
    return out


# ---------------------------------------------------------------- markdown


def _per_task(values) -> str:
    """'<story value> (story) and <qa value> (qa)': one value per task, as the report states them."""
    return " and ".join(f"{value:g} ({task})" for task, value in zip(TASKS, values))


def train_budget(p: Params) -> str:
    """How long every run trains, as the report states it."""
    t = p.train
    rates = _per_task(p.task_train(task).learning_rate for task in TASKS)
    if t.max_steps:
        steps = _per_task(p.train_steps(task) for task in TASKS)
        return (
            f"{steps} optimizer steps of batch {t.batch_size} per run (the same for every set of a task), "
            f"learning rate {rates}"
        )
    epochs = _per_task(p.task_train(task).epochs for task in TASKS)
    return f"{epochs} epoch(s) of batch {t.batch_size} per run (steps grow with the set's size), learning rate {rates}"


def render(p: Params, root: Path, summary: pd.DataFrame) -> str:
    """REPORT.md's text; `summary` is results.loss_summary of the params' runs."""
    scores: Scores = {
        (t, d): results.example_scores(root, t, d, run_seeds(p, d))
        for t, d in summary[["task", "dataset"]].itertuples(index=False)
    }
    summary = with_test_se(summary, scores)
    div = {t: results.diversity_metrics(root, t) for t in TASKS}
    levels = p.levels
    figs = {
        "levels": figure_levels(summary, div, levels, root / FIGURES / "loss_vs_diversity.png", scores),
        "fixed": figure_fixed_mixing(summary, root / FIGURES / "fixed_mixing.png", scores),
        "expansion": figure_expansion(summary, root / FIGURES / "expansion.png", scores),
    }
    md = [
        "# gendiv report: diversity of LLM-generated data and fine-tuning quality",
        "",
        "Written by the `report` stage from the metrics files alone (`metrics/`); every number "
        "below comes from a pipeline run with the params in `params.yaml`. Scale: "
        f"{p.data.story.n_train} real training stories, {p.n_real_train('qa')} real training QA pairs "
        f"({p.data.qa.n_train_docs} contexts); test sets: {p.data.story.n_test} real stories and "
        f"{p.data.qa.n_test_docs} other contexts x {p.data.qa.test_qa_per_doc} real QA pairs; "
        f"base model `{p.models.base.dir}` "
        f"({p.models.base.source}), generator `{p.generator.model}` ({p.generator.backend}), "
        f"{len(p.train.seeds)} seed(s) per real and Gen-D set, {len(p.train.secondary_seeds)} per other set, "
        f"{train_budget(p)}.",
        "",
    ]

    manipulation_md, checks = report_manipulation.section(root, TASKS, levels, _table)
    md += manipulation_md
    md += ["## Findings of the paper at this scale", "", *METHOD]
    md.append(
        _table(
            ["claim", "task", "verdict", "numbers that decide it"],
            [[f.claim, f.task, f"**{f.label}**", f.evidence] for f in findings(p, root, summary, scores, checks)],
        )
    )
    md.append("")

    md += ["## Test loss per training set", ""]
    if summary.empty:
        md += ["No fine-tuning run has recorded metrics yet.", ""]
    else:
        rows = [
            [
                r.task,
                r.dataset,
                _fmt(r["mean"]),
                _fmt(r["se"]),
                _fmt(r["std"]),
                int(r.n),
                steps_text(summary, r.task, r.dataset),
            ]
            for _, r in summary.iterrows()
        ]
        md += [
            "Test loss: nats per completion token, averaged over the test set and then over a set's runs; "
            "s.e. counts test examples and seeds (pooled seed variance; test examples only for a single "
            "run); std over seeds is n/a for one run; steps are the optimizer steps of each run (a range "
            "when its seeds differ).",
            "",
            _table(["task", "training set", "test loss (mean)", "s.e.", "std over seeds", "runs", "steps"], rows),
            "",
        ]
    md += loss_figure_lines(figs, lambda path: _rel(path, root))

    md += report_size.section(p, root, summary, scores, checks)

    md += [
        "## Diversity: Distinct-5 beside the paper's values",
        "",
        "The paper's values are those of its Distinct-5 table in sec. 4.2 (Zhu et al., arXiv 2506.19262); "
        "they use an aggregation the paper does not define (their scale differs from ours); compare the "
        "trend across levels, not the absolute values. Ours: story, Distinct-5 over all stories of a set; "
        "QA, the sum over training contexts of each context's Distinct-5 (the manipulation table above "
        "shows the mean per context instead).",
        "",
    ]
    for task in TASKS:
        rows = []
        for lv in levels:
            ours = div[task].get(f"d{lv}", {}).get("distinct_5")
            paper = PAPER_DISTINCT5[task][lv] if lv < len(PAPER_DISTINCT5[task]) else None
            rows.append(
                [f"Gen-D{lv}", _fmt(ours) if ours is not None else "not measured", paper if paper is not None else "-"]
            )
        real = div[task].get("real", {}).get("distinct_5")
        rows.append(["real", _fmt(real) if real is not None else "not measured", "-"])
        md += [f"**{task}**", "", _table(["set", "Distinct-5 (ours)", "Distinct-5 (paper)"], rows), ""]

    md += [
        "## Distribution shift (paper table 2)",
        "",
        "Distances between each set's sentence embeddings and the real training set's, at the same number "
        "of samples for every set (n below): `mmd2_rbf`, the unbiased squared MMD with an RBF kernel (median-heuristic "
        "bandwidth), with `mmd2_rbf_p` its permutation p-value, and `frechet`, the Frechet distance between "
        "Gaussians fitted to the embeddings; `real_test` (real held-out data) is the reference for how far "
        "two samples of the same real distribution are. The embedding diversity scores of each set "
        "(DCScore, Vendi) follow in their own table: they describe one set, not its distance to real.",
        "",
    ]
    for task in TASKS:
        n = sorted({m["distance_n"] for m in div[task].values() if "distance_n" in m})
        at_n = f" (n = {', '.join(map(str, n))} samples per set)" if n else ""
        for title, columns in ((f"**{task}**: distance to real{at_n}", DISTANCES), (f"**{task}**: diversity", SCORES)):
            names = [n for n in sorted(div[task]) if any(c in div[task][n] for c in columns)]
            rows = [[n] + [_fmt(div[task][n][c]) if c in div[task][n] else "-" for c in columns] for n in names]
            if rows:
                md += [title, "", _table(["set", *columns], rows), ""]
    md += measure_figure_lines(root, lambda path: _rel(path, root))

    md += report_sources.section(p, root)
    from gendiv.report import self_preference as report_self_preference

    md += report_self_preference.section(p, root)
    from gendiv.report import cost as report_cost

    md += report_cost.section(p, root)

    md += report_provenance.section(root)
    return "\n".join(md) + "\n"


def summary_metrics(summary: pd.DataFrame) -> dict:
    """Mean test loss per task and training set (a plain output; the headline metrics are in
    gendiv.layout.HEADLINE)."""
    out: dict[str, dict[str, float]] = {}
    for _, row in summary.iterrows():
        out.setdefault(f"loss_{row.task}", {})[row.dataset] = round(float(row["mean"]), 6)
    return out


def run(p: Params, root: Path = Path(".")) -> Path:
    summary = results.loss_summary(results.run_metrics(root, p))
    write_json(root / SUMMARY, summary_metrics(summary))
    div = {t: results.diversity_metrics(root, t) for t in TASKS}
    write_json(root / HEADLINE, report_tables.write(root, summary, div, p.levels, p.train.seeds))
    text = render(p, root, summary)
    with atomic_open(root / REPORT) as fh:
        fh.write(text)
    return root / REPORT


def main(params: Path = Path("params.yaml")) -> None:
    """Write reports/REPORT.md and reports/figures/results/*.png from the metrics."""
    p = load_params(params)
    print(f"report written to {run(p, params.resolve().parent)}")


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(main)
