"""Stage `report`: reports/REPORT.md and its figures, written from the metrics files alone.

Each figure is a PNG under reports/figures/results/ whose text chunk "Description" lists
the plotted series as JSON, so tests (and reviewers) can check what a figure shows
without reading pixels. Every finding of the paper is judged by a stated rule on the
recorded numbers; nothing here is typed in by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from gendiv import results  # noqa: E402
from gendiv.cli import TIMINGS_DIR  # noqa: E402
from gendiv.io import atomic_open, read_json, write_json  # noqa: E402
from gendiv.params import Params, load_params  # noqa: E402

REPORT = Path("reports/REPORT.md")
SUMMARY = Path("metrics/summary.json")
FIGURES = Path("reports/figures/results")
ALL_FIGURES = Path("reports/figures")
PAPER_PROFILE = Path("profiles/paper.yaml")
TASKS = ("story", "qa")
TASK_TITLE = {"story": "Story completion (ROCStories)", "qa": "Long-context QA (NarrativeQA)"}

# Distinct-5 of Gen-D0..Gen-D6 as printed in the paper (SPEC section 4); their absolute scale
# reflects an aggregation the paper does not define, so only the trend is comparable.
PAPER_DISTINCT5 = {
    "qa": [0.0057, 0.0078, 0.0089, 0.0088, 0.0111, 0.0095, 0.0099],
    "story": [2.4507, 2.5120, 2.5651, 2.7896, 2.7827, 2.7635, 3.0178],
}
PACKAGES = ("gendiv", "torch", "transformers", "peft", "trl", "accelerate", "datasets",
            "sentence-transformers", "openai", "dvc", "dvc-s3", "scikit-learn", "scipy")


Scores = dict[tuple[str, str], "results.ExampleScores | None"]  # (task, dataset) -> per-example scores


@dataclass
class Finding:
    claim: str
    task: str
    verdict: str  # "reproduced" | "not reproduced" | "not run at this scale"
    evidence: str


# ---------------------------------------------------------------- figures

def _save(fig, path: Path, series: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, metadata={"Description": json.dumps(series, sort_keys=True)})
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _loss(summary: pd.DataFrame, task: str, dataset: str) -> tuple[float, float, int] | None:
    """(mean test loss, std over seeds, seeds) of a set."""
    row = summary[(summary.task == task) & (summary.dataset == dataset)]
    if row.empty:
        return None
    r = row.iloc[0]
    return float(r["mean"]), float(r["std"]), int(r["n"])


def with_test_se(summary: pd.DataFrame, scores: Scores) -> pd.DataFrame:
    """`summary` plus column se: each set's loss standard error over the test examples."""
    out = summary.copy()
    out["se"] = [results.loss_contrast([sc], [1.0])[1] if (sc := scores.get((t, d))) else float("nan")
                 for t, d in zip(out.task, out.dataset)]
    return out


def _distinct5_normalized(div: dict, levels: list[int]) -> dict[str, float]:
    """Distinct-5 of real and each level divided by the group maximum (paper fig. 2)."""
    values = {name: div[name]["distinct_5"] for name in ["real"] + [f"d{lv}" for lv in levels]
              if "distinct_5" in div.get(name, {})}
    top = max(values.values(), default=0.0)
    return {k: (v / top if top > 0 else 0.0) for k, v in values.items()}


def _paired_se(scores: Scores, task: str, dataset: str, reference: str) -> float:
    """Standard error of loss(dataset) - loss(reference) over the shared test examples (0 if unknown).

    Error bars use it, not each loss's own s.e.: the latter is dominated by how hard the test
    examples are, which every run shares, and would hide differences the paired test resolves.
    """
    effect = paired_difference(scores, task, dataset, reference) if dataset != reference else None
    return effect[1] if effect else 0.0


def figure_levels(summary: pd.DataFrame, div_by_task: dict, levels: list[int], out: Path,
                  scores: Scores) -> Path | None:
    tasks = [t for t in TASKS if any(_loss(summary, t, f"d{lv}") for lv in levels)]
    if not tasks:
        return None
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    series = {}
    for ax, task in zip(axes[0], tasks):
        xs, ys, es = [], [], []
        for lv in levels:
            if (got := _loss(summary, task, f"d{lv}")):
                xs.append(lv), ys.append(got[0]), es.append(_paired_se(scores, task, f"d{lv}", "real"))
        ax.errorbar(xs, ys, yerr=es, marker="o", color="tab:blue", capsize=3,
                    label="Gen-D (test loss; bars: ± 1 paired s.e. vs real)")
        series[f"{task}:gen_loss"] = dict(zip(map(str, xs), ys))
        for name, style in (("real", "--"), ("base", ":")):
            if (ref := _loss(summary, task, name)):
                ax.axhline(ref[0], linestyle=style, color="black" if name == "real" else "gray",
                           label=f"{name} (test loss)")
                series[f"{task}:{name}_loss"] = ref[0]
        ax.set_xlabel("diversity level (Gen-D)")
        ax.set_ylabel("test loss (real test set)")
        ax.set_xticks(levels)
        ax.set_title(TASK_TITLE[task])
        norm = _distinct5_normalized(div_by_task.get(task, {}), levels)
        if norm:
            ax2 = ax.twinx()
            lvls = [lv for lv in levels if f"d{lv}" in norm]
            ax2.bar(lvls, [norm[f"d{lv}"] for lv in lvls], alpha=0.2, color="tab:orange",
                    label="normalized Distinct-5")
            if "real" in norm:
                ax2.axhline(norm["real"], color="tab:orange", linestyle="-.", label="real Distinct-5")
            ax2.set_ylim(0, 1.05)
            ax2.set_ylabel("normalized Distinct-5 (bars)")
            series[f"{task}:distinct5_norm"] = norm
            ax.set_zorder(ax2.get_zorder() + 1)  # loss line above the bars
            ax.patch.set_visible(False)
            handles, labels = ax.get_legend_handles_labels()
            h2, l2 = ax2.get_legend_handles_labels()
            ax.legend(handles + h2, labels + l2, loc="best", fontsize=7)
        else:
            ax.legend(loc="best", fontsize=7)
    return _save(fig, out, series)


def figure_fixed_mixing(summary: pd.DataFrame, out: Path, scores: Scores) -> Path | None:
    present = {t: sorted((r, _loss(summary, t, d)[0], _paired_se(scores, t, d, "fixed_r0.0"))
                         for d in summary[summary.task == t].dataset
                         if (r := results.fixed_ratio_of(d)) is not None) for t in TASKS}
    tasks = [t for t in TASKS if present[t]]
    if not tasks:
        return None
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.6), squeeze=False)
    series = {}
    for ax, task in zip(axes[0], tasks):
        rhos, means, errs = zip(*present[task])
        ax.errorbar(rhos, means, yerr=errs, marker="o", capsize=3)
        ax.set_xlabel("mixing ratio rho = |gen| / (|gen| + |real|)")
        ax.set_ylabel("test loss (bars: ± 1 paired s.e. vs rho = 0)")
        ax.set_title(f"Fixed-size mixing: {task}")
        series[f"{task}:fixed"] = dict(zip(map(str, rhos), means))
    return _save(fig, out, series)


def figure_expansion(summary: pd.DataFrame, out: Path) -> Path | None:
    tasks = [t for t in TASKS if any(results.expansion_of(d) for d in summary[summary.task == t].dataset)]
    if not tasks:
        return None
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.6), squeeze=False)
    series = {}
    for ax, task in zip(axes[0], tasks):
        base = _loss(summary, task, "expand_real")
        by_level: dict[int, list] = {}
        for d in summary[summary.task == task].dataset:
            if (e := results.expansion_of(d)):
                by_level.setdefault(e[0], []).append((e[1], _loss(summary, task, d)[0]))
        for lv, points in sorted(by_level.items()):
            points = ([(0.0, base[0])] if base else []) + sorted(points)
            ax.plot(*zip(*points), marker="o", label=f"+ Gen-D{lv}")
            series[f"{task}:expand_d{lv}"] = {str(r): v for r, v in points}
        if base:
            ax.axhline(base[0], linestyle="--", color="black", label="small real set alone")
        ax.set_xlabel("share of generated data rho")
        ax.set_ylabel("test loss")
        ax.set_title(f"Variable-size expansion: {task}")
        ax.legend(fontsize=8)
    return _save(fig, out, series)


# ---------------------------------------------------------------- findings

SIGNIFICANT = 2.0  # a loss effect counts when it is larger than this many standard errors
NOT_JUDGED = "not judged"


def _spearman(xs, ys) -> tuple[float, float]:
    if len(xs) < 3 or len(set(ys)) < 2:
        return float("nan"), float("nan")
    res = spearmanr(xs, ys)
    return float(res.statistic), float(res.pvalue)


def _fmt(x: float) -> str:
    return f"{x:.4f}"


def _pm(effect: tuple[float, float]) -> str:
    return f"{effect[0]:+.4f} ± {effect[1]:.4f}"


def _verdict(effects: list[tuple[float, float]], sign: int) -> str:
    """Judge loss effects (estimate, s.e.) that the paper claims have sign `sign`.

    Any effect beyond SIGNIFICANT s.e. the other way: not reproduced; every effect beyond it
    the claimed way: reproduced; otherwise the data cannot tell at this scale.
    """
    if any(-sign * e > SIGNIFICANT * se for e, se in effects):
        return "not reproduced"
    if all(sign * e > SIGNIFICANT * se for e, se in effects):
        return "reproduced"
    return "inconclusive (within noise)"


def paired_difference(scores: Scores, task: str, a: str, b: str) -> tuple[float, float] | None:
    """loss(a) - loss(b) with its paired s.e. (None when either set's per-example scores are missing)."""
    sa, sb = scores.get((task, a)), scores.get((task, b))
    return results.loss_difference(sa, sb) if sa and sb else None


def judge(claim: str, task: str, effects: list[tuple[str, tuple[float, float] | None]], sign: int,
          note: str) -> Finding:
    """A loss claim judged on labelled effects (estimate, s.e.); None marks missing scores."""
    missing = [label for label, e in effects if e is None]
    if missing:
        return Finding(claim, task, NOT_JUDGED, "per-example test scores missing for " + ", ".join(missing))
    if not effects:
        return Finding(claim, task, "not run at this scale", "no comparison available")
    evidence = "; ".join(f"{label}: {_pm(e)}" for label, e in effects)
    return Finding(claim, task, _verdict([e for _, e in effects], sign), f"{evidence}. {note}")


def findings(summary: pd.DataFrame, div_by_task: dict, levels: list[int], scores: Scores) -> list[Finding]:
    """Every claim of the paper judged on the recorded numbers.

    Loss claims use paired per-example differences on the shared real test set (see
    gendiv.results), so a verdict says whether an effect is larger than the test-set noise.
    """
    out: list[Finding] = []
    rule = f"more than {SIGNIFICANT:g} s.e."

    def loss_finding(claim: str, task: str, pairs: list[tuple[str, str, str]], sign: int, note: str) -> Finding:
        """pairs: (label, set, reference set); each effect is loss(set) - loss(reference)."""
        return judge(claim, task, [(label, paired_difference(scores, task, a, b)) for label, a, b in pairs],
                     sign, note)

    for task in TASKS:
        gen = [(lv, *_loss(summary, task, f"d{lv}")) for lv in levels if _loss(summary, task, f"d{lv}")]
        claim = "Test loss falls as diversity rises (Gen-D0 to Gen-D6)"
        if len(gen) < 3:
            out.append(Finding(claim, task, "not run at this scale", "fewer than three Gen-D levels were trained"))
        elif not all(scores.get((task, f"d{g[0]}")) for g in gen):
            out.append(Finding(claim, task, NOT_JUDGED, "per-example test scores missing for a Gen-D level"))
        else:
            slope = results.loss_slope([g[0] for g in gen], [scores[(task, f"d{g[0]}")] for g in gen])
            rho, pval = _spearman([g[0] for g in gen], [g[1] for g in gen])
            spread = max(g[2] for g in gen)
            out.append(Finding(
                claim, task, _verdict([slope], -1),
                f"least-squares slope of test loss per level = {_pm(slope)}; Spearman(level, loss) = {rho:.2f} "
                f"(p = {pval:.2f}); loss D{gen[0][0]} = {_fmt(gen[0][1])}, D{gen[-1][0]} = {_fmt(gen[-1][1])}; " +
                (f"largest std over seeds = {_fmt(spread)} ({gen[0][3]} seeds). " if gen[0][3] > 1 else
                 "seed-to-seed spread not measured (1 seed). ") + f"Rule: slope below 0 by {rule}"))
        if gen and _loss(summary, task, "real"):
            out.append(loss_finding(
                "Every Gen-D set stays worse than real data", task,
                [(f"D{g[0]} − real", f"d{g[0]}", "real") for g in gen], +1,
                f"Rule: every Gen-D loss above real by {rule}"))
        div = div_by_task.get(task, {})
        d5 = {lv: div[f"d{lv}"]["distinct_5"] for lv in levels if "distinct_5" in div.get(f"d{lv}", {})}
        real_d5 = div.get("real", {}).get("distinct_5")
        if d5 and real_d5 is not None:
            below = sum(v < real_d5 for v in d5.values())
            if task == "qa":
                claim, ok = "Paraphrasing makes generated QA data less diverse than real data", below == len(d5)
            else:
                claim, ok = "Generated stories are more diverse than real stories", below == 0
            out.append(Finding(claim, task, "reproduced" if ok else "not reproduced",
                               f"Distinct-5: real {_fmt(real_d5)}; levels " +
                               ", ".join(f"D{lv} {_fmt(v)}" for lv, v in d5.items()) +
                               f" ({below} of {len(d5)} below real)."))
        length_key = "answer_words_mean" if task == "qa" else "completion_words_mean"
        lengths = {lv: div[f"d{lv}"][length_key] for lv in levels if length_key in div.get(f"d{lv}", {})}
        if task == "qa" and len(lengths) >= 3:
            rho, _ = _spearman(list(lengths), list(lengths.values()))
            out.append(Finding("More diverse Gen-D QA sets have longer answers", task,
                               "reproduced" if rho >= 0.5 else "not reproduced",
                               f"Spearman(level, mean answer words) = {rho:.2f}; " +
                               ", ".join(f"D{lv} {v:.1f}" for lv, v in lengths.items()) + ". Rule: >= 0.5."))
        real_len = div.get("real", {}).get(length_key)
        if task == "story" and lengths and real_len is not None:
            longer = sum(v > real_len for v in lengths.values())
            out.append(Finding("Generated stories are shifted: longer completions than real", task,
                               "reproduced" if longer == len(lengths) else "not reproduced",
                               f"mean completion words: real {real_len:.1f}; " +
                               ", ".join(f"D{lv} {v:.1f}" for lv, v in lengths.items()) + "."))
        fixed = sorted((r, d) for d in summary[summary.task == task].dataset
                       if (r := results.fixed_ratio_of(d)) is not None)
        if len(fixed) >= 2 and fixed[0][0] == 0.0:
            out.append(loss_finding(
                "Fixed-size mixing: any share of generated data raises test loss", task,
                [(f"rho {r:g} − rho 0", d, fixed[0][1]) for r, d in fixed[1:]], +1,
                "Losses: " + ", ".join(f"rho {r:g} {_fmt(_loss(summary, task, d)[0])}" for r, d in fixed) +
                f". Rule: every rho > 0 above rho = 0 by {rule}"))
        exp = sorted((e, d) for d in summary[summary.task == task].dataset if (e := results.expansion_of(d)))
        if _loss(summary, task, "expand_real") and exp:
            claim, sign = (("Adding generated data to scarce real data helps (QA)", -1) if task == "qa" else
                           ("Adding generated data to scarce real stories hurts (distribution shift)", +1))
            out.append(loss_finding(
                claim, task, [(f"+D{lv} rho {r:g} − real alone", d, "expand_real") for (lv, r), d in exp], sign,
                f"Small real set alone: {_fmt(_loss(summary, task, 'expand_real')[0])}. Rule: every expansion "
                f"{'below' if sign < 0 else 'above'} the small real set by {rule}"))
    out.append(Finding("Model size: the 124M model gains from diversity, the 8B model loses", "both",
                       "not run at this scale",
                       "needs GPT-2 124M / Llama 3.2 1B / Llama 3.1 8B: run the paper profile per model "
                       "(dvc exp run -S models.base.hub_id=...)."))
    return out


# ---------------------------------------------------------------- provenance

def params_vs_paper(root: Path) -> list[tuple[str, object, object]]:
    path = root / PAPER_PROFILE
    if not path.is_file():
        return []
    ours = results.flatten(yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8")))
    paper = results.flatten(yaml.safe_load(path.read_text(encoding="utf-8")))
    return [(k, ours.get(k), paper.get(k)) for k in sorted(set(ours) | set(paper)) if ours.get(k) != paper.get(k)]


def _git_commit(root: Path) -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True).stdout.strip()
        return sha + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def provenance(root: Path) -> dict:
    lock = root / "dvc.lock"
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    try:
        import torch

        accel = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU)"
        threads = torch.get_num_threads()
    except ImportError:
        accel, threads = "unknown", 0
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30 if hasattr(os, "sysconf") else 0
    timings = []
    for path in sorted((root / TIMINGS_DIR).glob("*.json")):
        rec = read_json(path)
        timings.append((rec["stage"], rec["seconds"]))
    return {
        "git_commit": _git_commit(root),
        "dvc_lock_sha256": hashlib.sha256(lock.read_bytes()).hexdigest() if lock.is_file() else "no dvc.lock",
        "packages": versions,
        "hardware": f"{platform.machine()} {platform.processor() or ''}".strip()
                    + f", {os.cpu_count()} CPU cores ({threads} torch threads), {mem:.0f} GiB RAM, accelerator: {accel}",
        "python": platform.python_version(),
        "timings": timings,
    }


# ---------------------------------------------------------------- markdown

def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _rel(path: Path, root: Path) -> str:
    """A figure's link as written in REPORT.md (relative to the report's folder)."""
    return os.path.relpath(root / path, root / REPORT.parent).replace(os.sep, "/")


def render(p: Params, root: Path, summary: pd.DataFrame) -> str:
    """REPORT.md's text; `summary` is results.loss_summary of the params' runs."""
    scores: Scores = {(t, d): results.example_scores(root, t, d, p.train.seeds)
                      for t, d in summary[["task", "dataset"]].itertuples(index=False)}
    summary = with_test_se(summary, scores)
    div = {t: results.diversity_metrics(root, t) for t in TASKS}
    levels = p.levels
    figs = {
        "levels": figure_levels(summary, div, levels, root / FIGURES / "loss_vs_diversity.png", scores),
        "fixed": figure_fixed_mixing(summary, root / FIGURES / "fixed_mixing.png", scores),
        "expansion": figure_expansion(summary, root / FIGURES / "expansion.png"),
    }
    md = ["# gendiv report: diversity of LLM-generated data and fine-tuning quality", "",
          "Written by the `report` stage from the metrics files alone (`metrics/`); every number "
          "below comes from a pipeline run with the params in `params.yaml`. Scale: "
          f"{p.data.story.n_train} real training stories, {p.n_real_train('qa')} real training QA pairs "
          f"({p.data.qa.n_train_docs} contexts), base model `{p.models.base.dir}` "
          f"({p.models.base.source}), generator `{p.generator.model}` ({p.generator.backend}), "
          f"{len(p.train.seeds)} seed(s), {p.train.epochs:g} epoch(s).", ""]

    md += ["## Findings of the paper at this scale", "",
           "Each claim of the paper (SPEC section 7) is judged by the stated rule on the recorded "
           "numbers. Every run is scored on the same real test examples, so loss claims are judged on "
           "paired per-example differences: an effect is shown as estimate ± standard error over test "
           f"examples and counts only beyond {SIGNIFICANT:g} s.e. (*inconclusive* = the test set cannot "
           "tell at this scale). This measures test-set noise, not training noise: with one seed the "
           "seed-to-seed spread is not measured, so a verdict here is weaker evidence than the s.e. "
           "alone suggests.", ""]
    md.append(_table(["claim", "task", "verdict", "numbers that decide it"],
                     [[f.claim, f.task, f"**{f.verdict}**", f.evidence]
                      for f in findings(summary, div, levels, scores)]))
    md.append("")

    md += ["## Test loss per training set", ""]
    if summary.empty:
        md += ["No fine-tuning run has recorded metrics yet.", ""]
    else:
        rows = [[r.task, r.dataset, _fmt(r["mean"]), _fmt(r["se"]), _fmt(r["std"]), int(r.n)]
                for _, r in summary.iterrows()]
        md += [_table(["task", "training set", "test loss (mean)", "s.e. over test examples", "std over seeds",
                       "runs"], rows), ""]
    if figs["levels"]:
        md += ["### Test loss and normalized diversity per Gen-D level (paper fig. 2)", "",
               f"![loss vs diversity]({_rel(figs['levels'], root)})", ""]
    if figs["fixed"]:
        md += ["### Fixed-size mixing (paper fig. 5)", "", f"![fixed-size mixing]({_rel(figs['fixed'], root)})", ""]
    if figs["expansion"]:
        md += ["### Variable-size expansion (paper figs. 6-7)", "", f"![expansion]({_rel(figs['expansion'], root)})", ""]

    from gendiv import report_size   # imports this module's helpers

    md += report_size.section(p, root, summary, scores)

    md += ["## Diversity: Distinct-5 beside the paper's values", "",
           "The paper's numbers use an aggregation it does not define (their scale differs from "
           "ours); compare the trend across levels, not the absolute values.", ""]
    for task in TASKS:
        rows = []
        for lv in levels:
            ours = div[task].get(f"d{lv}", {}).get("distinct_5")
            paper = PAPER_DISTINCT5[task][lv] if lv < len(PAPER_DISTINCT5[task]) else None
            rows.append([f"Gen-D{lv}", _fmt(ours) if ours is not None else "not measured",
                         paper if paper is not None else "-"])
        real = div[task].get("real", {}).get("distinct_5")
        rows.append(["real", _fmt(real) if real is not None else "not measured", "-"])
        md += [f"**{task}**", "", _table(["set", "Distinct-5 (ours)", "Distinct-5 (paper)"], rows), ""]

    md += ["## Distribution shift (paper table 2)", "",
           "Distances between each set's sentence embeddings and the real training set's: MMD with "
           "an RBF kernel (median-heuristic bandwidth) and the Frechet distance between Gaussians "
           "fitted to the embeddings; `real_test` (real held-out data) is the reference for how far "
           "two samples of the same real distribution are.", ""]
    for task in TASKS:
        names = sorted(div[task])
        cols = sorted({m for n in names for m in div[task][n]
                       if any(s in m for s in ("mmd", "frechet", "dcscore", "vendi"))})
        if cols:
            rows = [[n] + [_fmt(div[task][n][c]) if c in div[task][n] else "-" for c in cols] for n in names]
            md += [f"**{task}**", "", _table(["set"] + cols, rows), ""]
    measure_figs = sorted(f for f in (root / ALL_FIGURES).rglob("*.png")
                          if (root / FIGURES) not in f.parents)
    if measure_figs:
        md += ["### Length distributions and 2-D embedding maps (paper fig. 4)", ""]
        md += [f"![{f.stem}]({_rel(f, root)})" for f in measure_figs] + [""]

    from gendiv.report_sources import section   # imports this module's helpers

    md += section(p, root)

    prov = provenance(root)
    md += ["## Provenance", "",
           f"- git commit: `{prov['git_commit']}`",
           f"- dvc.lock sha256 (as the report stage started): `{prov['dvc_lock_sha256']}`",
           f"- hardware: {prov['hardware']}; Python {prov['python']}",
           "- packages: " + ", ".join(f"{k} {v}" for k, v in prov["packages"].items()), ""]
    diffs = params_vs_paper(root)
    if diffs:
        md += ["### Params that differ from the paper profile (`profiles/paper.yaml`)", "",
               _table(["key", "this run", "paper"], [[f"`{k}`", a, b] for k, a, b in diffs]), ""]
    if prov["timings"]:
        md += ["### Wall time per stage (as run on this machine)", "",
               "The last run of each stage; a stage whose work came from a cache (LLM calls, "
               "embeddings) shows that run's time, not the first one's.", "",
               _table(["stage", "seconds"], [[s, f"{t:.1f}"] for s, t in prov["timings"]]), ""]
    return "\n".join(md) + "\n"


def summary_metrics(summary: pd.DataFrame) -> dict:
    """Mean test loss per task and training set: short column names for `dvc exp show`."""
    out: dict[str, dict[str, float]] = {}
    for _, row in summary.iterrows():
        out.setdefault(f"loss_{row.task}", {})[row.dataset] = round(float(row["mean"]), 6)
    return out


def run(p: Params, root: Path = Path(".")) -> Path:
    summary = results.loss_summary(results.run_metrics(root, p))
    write_json(root / SUMMARY, summary_metrics(summary))
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
