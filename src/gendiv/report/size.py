"""The report's dataset-size section (paper sec 4.4): experiment 1 repeated on n-sample subsets.

Each subset run is scored on the same real test examples as every other run, so its claims
are judged like the main findings: one loss contrast per claim (test examples and seeds in
its standard error), judged by gendiv.report.stats.judge.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from gendiv.config import TASKS, Params
from gendiv.layout import RESULT_FIGURES_DIR
from gendiv.report import results
from gendiv.report.cells import fmt, table
from gendiv.report.cells import loss_of as _loss
from gendiv.report.claims import Scores, gated, loss_claim
from gendiv.report.common import bars_caption, error_bar, label_loss_panel, loss_footnote
from gendiv.report.common import figure_link as rel
from gendiv.report.common import save_figure as _save
from gendiv.report.manipulation import Check
from gendiv.report.stats import Finding, centred_weights

FIGURE = RESULT_FIGURES_DIR / "dataset_size.png"


def size_grid(p: Params, summary: pd.DataFrame, task: str) -> dict[str, dict[int, str]]:
    """{source: {size: dataset}} of the trained sets: the subsets, plus each full set at its size."""
    grid: dict[str, dict[int, str]] = {}
    for dataset in summary[summary.task == task].dataset:
        if sub := results.subset_of(dataset):
            grid.setdefault(sub[0], {})[sub[1]] = dataset
    if not grid:
        return {}
    full = {"real": p.n_real_train(task), **{f"d{lv}": p.n_generated(task) for lv in p.levels}}
    for source, sizes in grid.items():
        if _loss(summary, task, source):
            sizes[full[source]] = source
    return {s: dict(sorted(grid[s].items())) for s in sorted(grid, key=lambda s: (s != "real", len(s), s))}


Grids = dict[str, dict[str, dict[int, str]]]  # task -> size_grid of that task (tasks with subsets only)


def _add(weights: dict[str, float], names: list[str], ws: list[float], share: float) -> None:
    for name, w in zip(names, ws):
        weights[name] = weights.get(name, 0.0) + w * share


def findings(grids: Grids, scores: Scores, summary: pd.DataFrame, checks: dict[str, Check]) -> list[Finding]:
    """The paper's sec 4.4 claims, each one contrast over every size, judged per task on the subset runs."""
    out = []
    for task, grid in grids.items():
        real = grid.get("real", {})
        gen = {s: sizes for s, sizes in grid.items() if s != "real"}
        pairs = [(name, real[n]) for s, sizes in gen.items() for n, name in sizes.items() if n in real and name != s]
        worse: dict[str, float] = {}
        for name, ref in pairs:
            _add(worse, [name, ref], [1.0, -1.0], 1 / len(pairs))
        out.append(
            loss_claim(
                "At every dataset size, Gen-D subsets stay worse than the real subset of that size",
                task,
                scores,
                summary,
                worse,
                +1,
                "nats",
                f"Mean over {len(pairs)} (level, size) pairs of Gen-D − real.",
            )
        )
        at_n = {
            n: sorted((int(s[1:]), name) for s, sizes in gen.items() if (name := sizes.get(n)))
            for n in sorted({n for sizes in gen.values() for n in sizes})
        }
        at_n = {n: pts for n, pts in at_n.items() if len(pts) >= 3}
        if at_n:
            trend: dict[str, float] = {}
            for pts in at_n.values():
                _add(trend, [name for _, name in pts], centred_weights([lv for lv, _ in pts]), 1 / len(at_n))
            out.append(
                gated(
                    loss_claim(
                        "The diversity trend of experiment 1 (loss falls as diversity rises) holds across "
                        "dataset sizes",
                        task,
                        scores,
                        summary,
                        trend,
                        -1,
                        "nats (lowest→highest level change)",
                        f"Mean over sizes {', '.join(map(str, at_n))} of each size's fitted loss change across levels.",
                    ),
                    checks[task],
                )
            )
        if task == "qa":
            growth: dict[str, float] = {}
            series = [sizes for sizes in gen.values() if len(sizes) >= 2]
            for sizes in series:
                _add(growth, list(sizes.values()), centred_weights(list(sizes), span=False), 1000 / len(series))
            out.append(
                loss_claim(
                    "More LLM-generated data can be harmful: larger Gen-D sets give higher test loss",
                    task,
                    scores,
                    summary,
                    growth,
                    +1,
                    "nats per 1,000 samples",
                    f"Mean over {len(series)} levels of the slope of loss against set size.",
                )
            )
    return out


def figure(p: Params, grids: Grids, summary: pd.DataFrame, scores: Scores, path: Path) -> Path | None:
    """Test loss against training samples, one line per source, per task."""
    if not grids:
        return None
    fig, axes = plt.subplots(1, len(grids), figsize=(5.8 * len(grids), 4.6), squeeze=False, layout="constrained")
    series = {}
    cmap = plt.get_cmap("viridis")
    for ax, (task, grid) in zip(axes[0], grids.items()):
        real = grid.get("real", {})
        for source, sizes in grid.items():
            xs = list(sizes)
            ys = [_loss(summary, task, name)[0] for name in sizes.values()]
            errs = [error_bar(scores, task, name, real.get(n)) for n, name in sizes.items()]
            style = (
                {"color": "black", "linestyle": "--"}
                if source == "real"
                else {"color": cmap(int(source[1:]) / max(1, max(p.levels)))}
            )
            ax.errorbar(
                xs,
                ys,
                yerr=errs,
                marker="o",
                capsize=3,
                label=source if source == "real" else f"Gen-D{source[1:]}",
                **style,
            )
            series[f"{task}:{source}"] = {str(n): y for n, y in zip(xs, ys)}
            series[f"{task}:{source}_bar"] = {str(n): e for n, e in zip(xs, errs)}
        names = [name for sizes in grid.values() for name in sizes.values()]
        label_loss_panel(
            ax, f"Dataset size: {task}", "training samples (rightmost point: the full set)", scores, task, names
        )
        ax.legend(fontsize=7)
    loss_footnote(fig, "the real set of the same size")
    return _save(fig, path, series)


def section(p: Params, root: Path, summary: pd.DataFrame, scores: Scores, checks: dict[str, Check]) -> list[str]:
    """Markdown lines of the section; says how to run it when the params leave it off."""
    md = ["## Dataset size (paper sec 4.4)", ""]
    sizes = p.mixing.subset_sizes
    if not sizes:
        n = 2 * (1 + len(p.levels)) * len(p.train.secondary_seeds)
        return md + [
            "Not run at this scale: `mixing.subset_sizes` is empty. Each size adds "
            f"{n} fine-tuning runs (real and every Gen-D level, both tasks, each of `train.secondary_seeds`), e.g. "
            "`dvc exp run -S 'mixing.subset_sizes=[8,16]'`.",
            "",
        ]
    md += [
        f"Experiment 1 repeated on the first n samples of one seeded order of real and of each Gen-D "
        f"level (n = {', '.join(map(str, sizes))}; QA subsets take contexts round-robin, so each context keeps "
        "its share of QA pairs); the full sets are the rightmost points. Every run is scored on the same "
        "real test examples.",
        "",
    ]
    grids = {t: g for t in TASKS if (g := size_grid(p, summary, t))}
    claims = findings(grids, scores, summary, checks)
    if claims:
        md.append(
            table(
                ["claim", "task", "verdict", "numbers that decide it"],
                [[f.claim, f.task, f"**{f.label}**", f.evidence] for f in claims],
            )
        )
        md.append("")
    fig = figure(p, grids, summary, scores, root / FIGURE)
    if fig:
        md += [
            f"![Test loss against training samples for real and each Gen-D level]({rel(fig, root)})",
            "",
            "*Test loss (nats per completion token) against training samples; "
            f"{bars_caption('the real set of the same size')}.*",
            "",
        ]
    else:
        md += ["No subset run has recorded metrics yet.", ""]
    for task, grid in grids.items():
        sizes_seen = sorted({n for by_n in grid.values() for n in by_n})
        rows = [
            [src] + [fmt(_loss(summary, task, by_n[n])[0]) if n in by_n else "-" for n in sizes_seen]
            for src, by_n in grid.items()
        ]
        md += [
            f"**{task}**: test loss by training samples",
            "",
            table(["set"] + [f"n = {n}" for n in sizes_seen], rows),
            "",
        ]
    return md
