"""The report's self-preference and adversarial-robustness lines (second study), after the
source-diversity (collapse) section, from metrics/self_preference.json and metrics/adversarial.json.

A model's self-preference on one prompt is its net preference for its own continuation:
win rate minus loss rate (ties count as neither), averaged over the two kinds of alternative
(the other models' continuations, the human one). Each sub-claim of "fine-tuning reduces
self-preference bias, human data most, then multi-source synthetic data" is ONE paired
per-prompt difference (the same held-out prompts for every model) judged by gendiv.report.stats'
rule, its smallest detectable effect stated; its standard error counts prompts and training
seeds, as the loss verdicts' do (gendiv.report.results.loss_contrast on per-seed, per-prompt values):

  fine-tuning reduces it    base - mean of the fine-tuned models (real, each src_<name>, src_multi) > 0
  human data most           src_multi - real > 0
  then multi-source         mean of the single-source models - src_multi > 0

With one seed the seed spread is unmeasured and a verdict is an indication.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gendiv.config import Params
from gendiv.io import read_json
from gendiv.measure.adversarial import METRICS as ADVERSARIAL
from gendiv.measure.self_preference import METRICS, OUTCOMES
from gendiv.report.cells import fmt, table
from gendiv.report.results import ExampleScores, loss_contrast, per_example_values
from gendiv.report.stats import Finding, Verdict, finding

UNIT = "net preference"
SCOPES = {"vs_models": "vs other models", "vs_human": "vs human"}


def net(per_prompt: dict) -> np.ndarray:
    """Per prompt: (win - loss) averaged over the two alternatives."""
    return np.mean([np.asarray(per_prompt[s]["win"]) - np.asarray(per_prompt[s]["loss"]) for s in SCOPES], axis=0)


def net_scores(model: dict, seeds: list[int]) -> ExampleScores:
    """A model's net self-preference per seed (rows) and prompt."""
    return per_example_values(np.array([net(model["per_seed"][f"s{s}"]) for s in seeds]))


def findings(p: Params, metrics: dict) -> list[Finding]:
    """The three sub-claims, each one paired contrast of per-seed, per-prompt net self-preference."""
    score = {n: net_scores(m, metrics["seeds"]) for n, m in metrics["judges"].items()}
    singles = [f"src_{g.name}" for g in p.source_diversity.generators]
    tuned = ["real", *singles, "src_multi"]
    tests = [
        (
            "Fine-tuning reduces self-preference bias (base model minus the mean of the fine-tuned models)",
            {"base": 1.0, **{n: -1.0 / len(tuned) for n in tuned}},
            "base",
        ),
        (
            "Human data reduces it most (multi-source model minus real-data model)",
            {"src_multi": 1.0, "real": -1.0},
            "src_multi vs real",
        ),
        (
            "Then multi-source synthetic data (mean of single-source models minus multi-source model)",
            {**{n: 1.0 / len(singles) for n in singles}, "src_multi": -1.0},
            "single sources vs src_multi",
        ),
    ]
    return [
        finding(
            claim,
            "story",
            loss_contrast([score[n] for n in weights], list(weights.values())),
            1,
            UNIT,
            f"{metrics['n_prompts']} prompts x {len(metrics['seeds'])} seeds, {metrics['mode']} judging ({what}).",
        )
        for claim, weights, what in tests
    ]


def _seeds_part(metrics: dict) -> str:
    n = len(metrics["seeds"])
    return " and seeds" if n > 1 else f" ({n} training seed: seed-to-seed noise not counted)"


def self_preference_lines(p: Params, root: Path) -> list[str]:
    md = ["### Self-preference bias (second study, third claim)", ""]
    if not (root / METRICS).is_file():
        return md + ["The `self_preference` stage has not run; no numbers yet.", ""]
    metrics = read_json(root / METRICS)
    how = {
        "likelihood": "the judge is the model itself (base + its adapter) and prefers the candidate with the "
        "higher mean log-probability per token",
        "prompted": "the judge is the model itself, asked which of two continuations is better, in both "
        "orders (a choice that flips with the order is a tie)",
    }[metrics["mode"]]
    md += [
        f"Each model judged its own continuation of {metrics['n_prompts']} held-out test stories against each "
        f"other model's and against the human one; {how}. Rates are over comparisons (win = own preferred); "
        "net = win − loss per prompt, averaged over both kinds of alternative "
        f"(mean ± s.e. over prompts{_seeds_part(metrics)}).",
        "",
    ]
    rows = []
    for name, m in metrics["judges"].items():
        est = loss_contrast([net_scores(m, metrics["seeds"])], [1.0])
        rows.append(
            [name]
            + ["/".join(f"{m[s][o]:.2f}" for o in OUTCOMES) for s in SCOPES]
            + [f"{fmt(est.value)} ± {fmt(est.se)}"]
        )
    md.append(
        table(["model"] + [f"{label} (win/tie/loss)" for label in SCOPES.values()] + ["net self-preference"], rows)
    )
    if judging := metrics.get("judging"):
        unparsed = sum(j["unparsed"] for j in judging.values())
        answers = sum(j["answers"] for j in judging.values())
        md += ["", f"Judge answers: {answers}, of which {unparsed} named neither A, B nor tie (counted as no choice)."]
    md += [
        "",
        f"**Claims** (one paired test each, s.e. over prompts{_seeds_part(metrics)}; the rule of the other verdicts)",
        "",
    ]
    md.append(
        table(["claim", "verdict", "evidence"], [[f.claim, f"**{f.label}**", f.evidence] for f in findings(p, metrics)])
    )
    return md + [""]


def adversarial_lines(root: Path) -> list[str]:
    md = ["### Adversarial robustness (second study, second claim)", ""]
    if not (root / ADVERSARIAL).is_file():
        return md + ["The `adversarial` stage has not run; no numbers yet.", ""]
    metrics = read_json(root / ADVERSARIAL)
    if not metrics["ran"]:
        return md + [
            f"Verdict: **{Verdict.NOT_RUN.value}**: {metrics['reason']}. It runs where params name a prompt file "
            "and a judge (the paper profile).",
            "",
        ]
    md += [
        f"Run at this scale: {metrics['scale']}. Each model answered greedily; the judge rated refusal (yes/no) "
        "and harm (0-10). Mean ± s.e. over prompts; unparsed judge answers are left out. Numbers only: "
        "the claim is not judged here.",
        "",
    ]
    rows = [
        [
            k,
            f"{fmt(m['refusal_rate'])} ± {fmt(m['refusal_se'])}",
            f"{fmt(m['harm_mean'])} ± {fmt(m['harm_se'])}",
            m["n_judged"],
            m["unparsed"],
        ]
        for k, m in metrics["per_model"].items()
    ]
    md.append(table(["model", "refusal rate", "harm (0-10)", "judged", "unparsed"], rows))
    return md + [""]


def section(p: Params, root: Path) -> list[str]:
    return self_preference_lines(p, root) + adversarial_lines(root)
