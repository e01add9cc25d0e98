"""The report's loss figures (paper figs. 2, 5 and 6-7), drawn from the loss summary and the
per-example scores.

Every panel states its units (nats per completion token), its n (test examples; QA: and
documents) and its seeds per set; every error bar is ± Z_ALPHA standard errors of the paired
difference to the panel's reference set, the estimate the verdicts judge (report.common.error_bar),
so a bar that misses the reference line is a difference the report's rule calls significant.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from gendiv.config import TASKS  # noqa: E402
from gendiv.report import results  # noqa: E402
from gendiv.report.cells import loss_of as _loss  # noqa: E402
from gendiv.report.claims import Scores  # noqa: E402
from gendiv.report.common import bars_caption, error_bar, label_loss_panel, loss_footnote  # noqa: E402
from gendiv.report.common import save_figure as _save  # noqa: E402

MEASURE_FIGURES = Path("reports/figures")  # measure.stage.FIGURES_DIR: lengths and maps
TASK_TITLE = {"story": "Story completion (ROCStories)", "qa": "Long-context QA (NarrativeQA)"}


def _panels(n: int, width: float, height: float):
    """One row of n panels with room for the titles and the footnote (constrained layout)."""
    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False, layout="constrained")
    return fig, axes[0]


def _distinct5_normalized(div: dict, levels: list[int]) -> dict[str, float]:
    """Distinct-5 of real and each level divided by the group maximum (paper fig. 2)."""
    values = {
        name: div[name]["distinct_5"]
        for name in ["real"] + [f"d{lv}" for lv in levels]
        if "distinct_5" in div.get(name, {})
    }
    top = max(values.values(), default=0.0)
    return {k: (v / top if top > 0 else 0.0) for k, v in values.items()}


def figure_levels(
    summary: pd.DataFrame, div_by_task: dict, levels: list[int], out: Path, scores: Scores
) -> Path | None:
    """Test loss per Gen-D level against real and base, over normalized Distinct-5 (paper fig. 2)."""
    tasks = [t for t in TASKS if any(_loss(summary, t, f"d{lv}") for lv in levels)]
    if not tasks:
        return None
    fig, axes = _panels(len(tasks), 5.8, 4.6)
    series = {}
    for ax, task in zip(axes, tasks):
        xs, ys, es = [], [], []
        for lv in levels:
            if got := _loss(summary, task, f"d{lv}"):
                xs.append(lv), ys.append(got[0]), es.append(error_bar(scores, task, f"d{lv}", "real"))
        ax.errorbar(xs, ys, yerr=es, marker="o", color="tab:blue", capsize=3, label="Gen-D (test loss)")
        series[f"{task}:gen_loss"] = dict(zip(map(str, xs), ys))
        series[f"{task}:gen_loss_bar"] = dict(zip(map(str, xs), es))
        for name, style in (("real", "--"), ("base", ":")):
            if ref := _loss(summary, task, name):
                ax.axhline(
                    ref[0], linestyle=style, color="black" if name == "real" else "gray", label=f"{name} (test loss)"
                )
                series[f"{task}:{name}_loss"] = ref[0]
        label_loss_panel(
            ax, TASK_TITLE[task], "diversity level (Gen-D)", scores, task, ["real", *(f"d{lv}" for lv in xs)]
        )
        ax.set_xticks(levels)
        norm = _distinct5_normalized(div_by_task.get(task, {}), levels)
        handles, labels = ax.get_legend_handles_labels()
        if norm:
            ax2 = ax.twinx()
            lvls = [lv for lv in levels if f"d{lv}" in norm]
            ax2.bar(lvls, [norm[f"d{lv}"] for lv in lvls], alpha=0.2, color="tab:orange", label="Gen-D Distinct-5")
            if "real" in norm:
                ax2.axhline(norm["real"], color="tab:orange", linestyle="-.", label="real Distinct-5")
            ax2.set_ylim(0, 1.25)  # real Distinct-5 (1.0 at most) stays clear of the base line at the top
            ax2.set_ylabel("Distinct-5 / largest of the group (bars, unitless)")
            series[f"{task}:distinct5_norm"] = norm
            ax.set_zorder(ax2.get_zorder() + 1)  # loss line above the bars
            ax.patch.set_visible(False)
            h2, l2 = ax2.get_legend_handles_labels()
            handles, labels = handles + h2, labels + l2
        ax.legend(handles, labels, loc="best", fontsize=7)
    loss_footnote(fig, "real")
    return _save(fig, out, series)


def figure_fixed_mixing(summary: pd.DataFrame, out: Path, scores: Scores) -> Path | None:
    """Test loss against the generated share of a fixed-size mix (paper fig. 5)."""
    present = {
        t: sorted(
            (r, d, _loss(summary, t, d)[0], error_bar(scores, t, d, "fixed_r0.0"))
            for d in summary[summary.task == t].dataset
            if (r := results.fixed_ratio_of(d)) is not None
        )
        for t in TASKS
    }
    tasks = [t for t in TASKS if present[t]]
    if not tasks:
        return None
    fig, axes = _panels(len(tasks), 5.2, 4.2)
    series = {}
    for ax, task in zip(axes, tasks):
        rhos, names, means, errs = zip(*present[task])
        ax.errorbar(rhos, means, yerr=errs, marker="o", capsize=3)
        label_loss_panel(
            ax, f"Fixed-size mixing: {task}", "mixing ratio rho = |gen| / (|gen| + |real|)", scores, task, list(names)
        )
        series[f"{task}:fixed"] = dict(zip(map(str, rhos), means))
        series[f"{task}:fixed_bar"] = dict(zip(map(str, rhos), errs))
    loss_footnote(fig, "rho = 0")
    return _save(fig, out, series)


def figure_expansion(summary: pd.DataFrame, out: Path, scores: Scores) -> Path | None:
    """Test loss as generated data is added to a small real set (paper figs. 6-7)."""
    tasks = [t for t in TASKS if any(results.expansion_of(d) for d in summary[summary.task == t].dataset)]
    if not tasks:
        return None
    fig, axes = _panels(len(tasks), 5.2, 4.2)
    series = {}
    for ax, task in zip(axes, tasks):
        base = _loss(summary, task, "expand_real")
        by_level: dict[int, list] = {}
        for d in summary[summary.task == task].dataset:
            if e := results.expansion_of(d):
                by_level.setdefault(e[0], []).append((e[1], _loss(summary, task, d)[0], d))
        names = ["expand_real"]
        for lv, points in sorted(by_level.items()):
            points = ([(0.0, base[0], "expand_real")] if base else []) + sorted(points)
            rhos, losses, sets = zip(*points)
            bars = [error_bar(scores, task, d, "expand_real") for d in sets]
            ax.errorbar(rhos, losses, yerr=bars, marker="o", capsize=3, label=f"+ Gen-D{lv}")
            series[f"{task}:expand_d{lv}"] = dict(zip(map(str, rhos), losses))
            series[f"{task}:expand_d{lv}_bar"] = dict(zip(map(str, rhos), bars))
            names += sets
        if base:
            ax.axhline(base[0], linestyle="--", color="black", label="small real set alone")
        label_loss_panel(ax, f"Variable-size expansion: {task}", "share of generated data rho", scores, task, names)
        ax.legend(fontsize=8)
    loss_footnote(fig, "the small real set alone")
    return _save(fig, out, series)


# ---------------------------------------------------------------- REPORT.md lines

LOSS_FIGURES = {  # figs key -> (heading, alt text, caption)
    "levels": (
        "Test loss and normalized diversity per Gen-D level (paper fig. 2)",
        "Test loss of each Gen-D level against real and base, over normalized Distinct-5",
        f"Test loss (nats per completion token) per Gen-D level; {bars_caption('real')}; shaded bars: "
        "Distinct-5 divided by the largest of the group.",
    ),
    "fixed": (
        "Fixed-size mixing (paper fig. 5)",
        "Test loss against the generated share of a fixed-size training set",
        f"Test loss (nats per completion token) against rho at a fixed set size; {bars_caption('rho = 0')}.",
    ),
    "expansion": (
        "Variable-size expansion (paper figs. 6-7)",
        "Test loss as Gen-D data is added to a small real set",
        f"Test loss (nats per completion token) of the small real set plus generated data; "
        f"{bars_caption('the small real set alone')}.",
    ),
}


def loss_figure_lines(figs: dict[str, Path | None], link) -> list[str]:
    """Markdown of the loss figures drawn: a heading, the image with its own alt text, a caption."""
    md = []
    for key, (heading, alt, caption) in LOSS_FIGURES.items():
        if figs.get(key):
            md += [f"### {heading}", "", f"![{alt}]({link(figs[key])})", "", f"*{caption}*", ""]
    return md


def measure_figure_lines(root: Path, link) -> list[str]:
    """Markdown of the measure stage's figures (length box plots, embedding maps), each captioned."""
    lengths = sorted((root / MEASURE_FIGURES).glob("*_lengths.png"))
    maps = sorted((root / MEASURE_FIGURES / "maps").glob("*/*.png"))
    if not lengths and not maps:
        return []
    md = ["### Length distributions and 2-D embedding maps (paper fig. 4)", ""]
    for path in lengths:
        task = path.stem.removesuffix("_lengths")
        target = "completion" if task == "story" else "answer"
        md += [
            f"![{task}: {target} lengths per set, in words and tokens]({link(path)})",
            "",
            f"*{task}: {target} length per set (box: quartiles, line: median, whiskers: furthest point within "
            "1.5 IQR, outliers not drawn; n per set under its name).*",
            "",
        ]
    for path in maps:
        task, group = path.parent.name, path.stem
        md += [
            f"![{task}: embedding map of the {group} sets against real]({link(path)})",
            "",
            f"*{task}, {group} sets: sentence embeddings of each set (orange) over the real training sample "
            "(blue) in 2-D; the projection, its explained variance and the point counts are on the axes.*",
            "",
        ]
    return md
