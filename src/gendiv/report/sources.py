"""The report's source-diversity section (second study), from metrics/source_diversity.json.

Claims are judged on paired per-prompt differences of the intra-prompt measures (the same
held-out prompts for every model): a difference counts when gendiv.report.stats' rule finds it
beyond noise (standard error over prompts) in the claimed direction. A claim is reproduced
when, for every comparison it makes, a majority of the three measures count; not reproduced
when, in some comparison, a majority count the other way. The per-prompt values are averaged
over training seeds upstream, so seed-to-seed noise is not a separate term here; with a single
seed the verdict is an indication.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from gendiv.config import Params
from gendiv.io import read_json
from gendiv.layout import RESULT_FIGURES_DIR
from gendiv.measure.output_diversity import METRICS, OUT_DIR
from gendiv.report import results
from gendiv.report.cells import fmt, table
from gendiv.report.common import figure_link as rel
from gendiv.report.common import save_figure as _save
from gendiv.report.stats import LEAN, Z_ALPHA, Estimate, Verdict, direction

FIGURE = RESULT_FIGURES_DIR / "source_diversity.png"
# measure -> +1 if a larger value means broader outputs, -1 if smaller does
MEASURES = {"distinct_2": 1, "self_bleu": -1, "embedding_spread": 1}
MEASURE_LABEL = {
    "distinct_2": "distinct bigrams / bigrams",
    "self_bleu": "self-BLEU (0-1)",
    "embedding_spread": "mean pairwise cosine distance",
}
SCOPE_COLOR = {"intra": "tab:purple", "inter": "tab:gray"}


@dataclass
class Comparison:
    broader: str  # the model claimed to write broader outputs
    narrower: str
    diffs: dict[str, tuple[float, float]]  # measure -> (mean paired difference, its standard error)

    def direction(self, measure: str) -> int:
        """+1 / -1: beyond noise for / against the claim; 0: within noise."""
        return direction(Estimate(*self.diffs[measure]), MEASURES[measure])

    def counts(self, measure: str) -> bool:
        return self.direction(measure) == 1

    @property
    def majority(self) -> bool:
        return sum(self.counts(m) for m in MEASURES) * 2 > len(MEASURES)

    @property
    def contrary(self) -> bool:
        return sum(self.direction(m) == -1 for m in MEASURES) * 2 > len(MEASURES)

    def evidence(self) -> str:
        mark = {1: " ✓", -1: " ✗", 0: ""}
        parts = [f"{m} {mean:+.3f} ± {se:.3f}{mark[self.direction(m)]}" for m, (mean, se) in self.diffs.items()]
        return f"{self.broader} − {self.narrower}: " + ", ".join(parts)


def compare(per_prompt: dict, broader: str, narrower: str) -> Comparison:
    """Paired per-prompt differences broader − narrower of each intra measure."""
    diffs = {}
    for m in MEASURES:
        d = np.asarray(per_prompt[broader][m]) - np.asarray(per_prompt[narrower][m])
        diffs[m] = (float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))))
    return Comparison(broader, narrower, diffs)


def verdict(comps: list[Comparison]) -> Verdict:
    """The claim's verdict by the rule above, before the seed count is considered."""
    if all(c.majority for c in comps):
        return Verdict.REPRODUCED
    return Verdict.NOT_REPRODUCED if any(c.contrary for c in comps) else Verdict.INCONCLUSIVE


def label(p: Params, comps: list[Comparison]) -> str:
    """The verdict; with one training seed an indication that still says which way the data lean."""
    v = verdict(comps)
    if len(p.train.secondary_seeds) >= 2:
        return v.value
    lean = LEAN.get({Verdict.REPRODUCED: 1, Verdict.NOT_REPRODUCED: -1}.get(v, 0), "mixed or within noise")
    return f"{Verdict.INDICATION.value} ({len(p.train.secondary_seeds)} seed): {lean}"


def claims(p: Params, per_prompt: dict) -> list[tuple[str, str, str]]:
    """(claim, verdict, evidence) for each claim of the second study that this pipeline tests."""
    singles = [f"src_{g.name}" for g in p.source_diversity.generators]
    tests = [
        (
            "Fine-tuning on multi-source synthetic data keeps outputs broader than single-source data "
            "(mitigates distribution collapse)",
            [compare(per_prompt, "src_multi", s) for s in singles],
        ),
        (
            "Human (real) data keeps outputs broader than multi-source synthetic data",
            [compare(per_prompt, "real", "src_multi")],
        ),
        (
            "Fine-tuning on single-source synthetic data narrows outputs relative to the base model (collapse)",
            [compare(per_prompt, "base", s) for s in singles],
        ),
    ]
    return [(claim, label(p, comps), "; ".join(c.evidence() for c in comps)) for claim, comps in tests]


def test_loss_lines(p: Params, root: Path) -> list[str]:
    """Real test loss of each source's model, and multi-source minus each single source (paired)."""
    names = ["real"] + [f"src_{g.name}" for g in p.source_diversity.generators] + ["src_multi"]
    scores = {n: results.example_scores(root, "story", n, p.train.secondary_seeds) for n in names}
    if not all(scores.values()):
        return ["Real test loss: per-example scores missing for " + ", ".join(n for n, s in scores.items() if not s)]
    diff = {n: results.loss_difference(scores["src_multi"], scores[n]) for n in names if n != "src_multi"}
    rows = [[n, fmt(scores[n].loss), f"{diff[n].value:+.4f} ± {diff[n].se:.4f}" if n in diff else ""] for n in names]
    return [
        "**Real test loss of the fine-tuned models** (the second study measures collapse in outputs, "
        "not loss; shown so both views sit side by side)",
        "",
        table(["model", "test loss", "src_multi − this (paired, ± s.e.)"], rows),
    ]


def figure(models: dict, path: Path, note: str) -> Path:
    """Intra- and inter-prompt measures per model: points on a zoomed axis (the models differ in the
    second decimal), intra with ± Z_ALPHA s.e. over prompts."""
    names = list(models)
    fig, axes = plt.subplots(2, len(MEASURES), figsize=(4 * len(MEASURES), 6.4), squeeze=False, layout="constrained")
    series = {}
    for row, scope in enumerate(("intra", "inter")):
        for col, m in enumerate(MEASURES):
            values = [models[n][scope][m] for n in names]
            errors = [Z_ALPHA * models[n][scope][f"{m}_se"] for n in names] if scope == "intra" else None
            ax = axes[row][col]
            ax.errorbar(range(len(names)), values, yerr=errors, fmt="o", capsize=4, color=SCOPE_COLOR[scope])
            ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
            ax.set_xlim(-0.5, len(names) - 0.5)
            ax.set_title(f"{scope}-prompt {m} ({'lower' if MEASURES[m] < 0 else 'higher'} = broader)", fontsize=9)
            ax.set_ylabel(MEASURE_LABEL[m], fontsize=8)
            ax.grid(axis="y", alpha=0.3)
            series[f"{scope}.{m}"] = dict(zip(names, values))
    fig.suptitle("Diversity of the fine-tuned models' outputs per training source (y axes zoomed)", fontsize=10)
    fig.supxlabel(
        f"{note}\nIntra: across the samples of one prompt, mean over prompts, bars ± {Z_ALPHA:g} s.e. over prompts "
        "(the verdicts judge the paired per-prompt differences in the table above). Inter: across prompts, "
        "one value per model (no bar).",
        fontsize=7,
        wrap=True,
    )
    return _save(fig, path, series)


def section(p: Params, root: Path) -> list[str]:
    """Markdown lines of the section (empty notice when the stage has not run)."""
    md = ["## Source diversity: one generator vs several (second study)", ""]
    if not (root / METRICS).is_file():
        return md + ["The `output_diversity` stage has not run; no numbers yet.", ""]
    metrics = read_json(root / METRICS)
    per_prompt = read_json(root / OUT_DIR / "per_prompt.json")
    sd = p.source_diversity
    models, data = metrics["models"], metrics["data"]
    md += [
        f"Every generator of the pool ({', '.join(f'`{g.name}`: {g.model}' for g in sd.generators)}) answered "
        f"the same Gen-D{sd.level} prompts; the multi-source set has the same size ({p.n_source_samples()} "
        "stories) with equal shares. The base model was fine-tuned on each set, then each model continued "
        f"{metrics['n_prompts']} held-out test stories {metrics['samples_per_prompt']} times (temperature "
        f"{sd.temperature:g}). Intra = across the samples of one prompt (mean ± standard error over prompts); "
        "inter = across prompts. Self-BLEU: higher means more alike.",
        "",
    ]
    md += ["**Training data** (do the sources differ at all?)", ""]
    md.append(
        table(
            ["set", "stories", "distinct-2", "embedding spread"],
            [[n, d["n_samples"], fmt(d["distinct_2"]), fmt(d["embedding_spread"])] for n, d in data.items()],
        )
    )
    md += ["", "**Outputs of the fine-tuned models**", ""]
    rows = []
    for n, m in models.items():
        intra, inter = m["intra"], m["inter"]
        rows.append(
            [n] + [f"{fmt(intra[k])} ± {fmt(intra[k + '_se'])}" for k in MEASURES] + [fmt(inter[k]) for k in MEASURES]
        )
    md.append(table(["model"] + [f"intra {k}" for k in MEASURES] + [f"inter {k}" for k in MEASURES], rows))
    md += ["", *test_loss_lines(p, root)]
    md += [
        "",
        "**Claims of the second study at this scale** (a difference counts (✓) when it is in the "
        f"claimed direction and beyond {Z_ALPHA:g} standard errors over prompts; a claim is reproduced when a "
        "majority of the three measures count in every comparison it makes, not reproduced when a majority "
        "count the other way in one; the per-prompt values are averaged over the training seeds, so "
        "seed-to-seed noise is not a separate term)",
        "",
    ]
    md.append(
        table(
            ["claim", "verdict", "paired differences (intra, mean ± s.e.)"],
            [[c, f"**{v}**", e] for c, v, e in claims(p, per_prompt)],
        )
    )
    seeds = len(p.train.secondary_seeds)
    note = (
        f"n = {metrics['n_prompts']} held-out prompts x {metrics['samples_per_prompt']} samples per model; "
        f"{seeds} training seed(s) per model, per-prompt values averaged over them"
    )
    fig = figure(models, root / FIGURE, note)
    md += [
        "",
        f"![Output diversity of each fine-tuned model, within and across prompts]({rel(fig, root)})",
        "",
        f"*Distinct-2, self-BLEU and embedding spread of each model's outputs ({note}); intra bars "
        f"± {Z_ALPHA:g} s.e. over prompts.*",
        "",
    ]
    return md
