"""Stage `self_preference`: does a model, as a judge, prefer what it wrote itself?

Second study, third claim: fine-tuning reduces self-preference bias, human data most, then
multi-source synthetic data. For the first `self_preference.prompts` held-out real test
stories, each model of the source-diversity grid (base, real, src_<name>, src_multi; every
seed of train.secondary_seeds) judges its OWN continuation (the first sample the
output_diversity stage drew for that prompt) against (a) each other model's continuation of
the same prompt (same seed) and (b) the human reference sentence. Each comparison ends in a
win (own preferred), a tie, or a loss.

  likelihood  the judge is the base model plus the judged model's adapter; a candidate's score
              is its mean log-probability per token given the prompt (the tokens the test loss
              scores: " " + sentence + EOS). Equal texts score equally and tie.
  prompted    an A/B question through the LLM layer, asked in both orders; own wins when it is
              chosen more often than the other candidate over the two orders, so a judge that
              always answers "A" ties every pair (position bias removed, not counted as bias).
              An answer that is not A, B or tie counts as no choice (a tie) and is reported.

metrics/self_preference.json holds per model (key `judges`, not `models`: DVC merges the
metrics files' keys) the win/tie/loss rates, the per-prompt values (averaged over seeds,
prompt by prompt) and the per-seed, per-prompt values (`per_seed`, keyed s<seed>) that the report
pairs across models with a standard error counting both prompts and seeds.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import typer
from tqdm import tqdm

from gendiv.config import Generator, Params, load_params
from gendiv.errors import UserError
from gendiv.io import read_jsonl, write_json
from gendiv.layout import SELF_PREFERENCE_METRICS, real_test_path, to_prompt_completion
from gendiv.llm import GenerationStats, Request, Template, open_llm
from gendiv.llm.cache import DEFAULT_DIR
from gendiv.measure.output_diversity import model_names, outputs_file
from gendiv.train.evaluate import BaseWithAdapters, completion_nll
from gendiv.train.runs import trained_adapter

METRICS = SELF_PREFERENCE_METRICS
OUTCOMES = ("win", "tie", "loss")
HUMAN = "human"
TIE_NATS = 1e-6  # scores closer than this (nats per token) tie: only equal texts in practice
TEMPLATE = Template(
    "self_preference_ab",
    "1",
    user=(
        "Here is the beginning of a short story:\n\n{prompt}\n\nTwo candidate next sentences:\n\n"
        "A: {a}\nB: {b}\n\nWhich next sentence continues the story better? "
        "Answer with one word: A, B, or tie."
    ),
)
_ANSWER = re.compile(r"^\W*(?:answer\W*)?(a|b|tie)\b", re.IGNORECASE)


def own_outputs(name: str, seed: int, test: list[dict]) -> list[str]:
    """The first sampled continuation of each prompt, checked to be for the same prompts."""
    path = outputs_file(name, seed)
    if not path.is_file():
        raise UserError(f"{path} is missing: run `gendiv output-diversity` first")
    rows = read_jsonl(path)
    ids = [r.get("prompt_id") for r in rows[: len(test)]]
    if ids != [r["id"] for r in test]:
        raise UserError(
            f"{path}: its prompts are not the first {len(test)} real test stories; rerun `gendiv output-diversity`"
        )
    return [r["outputs"][0] for r in rows[: len(test)]]


def compare_scores(own: float, other: float) -> str:
    """Likelihood outcome of own vs other (mean log-probabilities per token)."""
    if abs(own - other) <= TIE_NATS:
        return "tie"
    return "win" if own > other else "loss"


def parse_choice(text: str) -> str | None:
    """'A', 'B' or 'tie' from a judge's answer; None when it names none of them."""
    m = _ANSWER.match(text.strip())
    return None if m is None else (m.group(1).upper() if m.group(1).lower() != "tie" else "tie")


def both_orders(own_first: str | None, own_second: str | None) -> str:
    """Outcome from the answers with own shown as A, then as B (votes for own minus votes against)."""
    votes = {"A": 1, "B": -1}.get(own_first, 0) + {"A": -1, "B": 1}.get(own_second, 0)
    return "win" if votes > 0 else "loss" if votes < 0 else "tie"


def likelihood_outcomes(
    p: Params,
    shared: BaseWithAdapters,
    adapter: Path | None,
    prompts: list[str],
    own: list[str],
    alternatives: dict[str, list[str]],
) -> dict[str, list[str]]:
    """alternative -> outcome per prompt, scored by the base model with `adapter`."""
    texts = [list(dict.fromkeys([own[i], *(alt[i] for alt in alternatives.values())])) for i in range(len(prompts))]
    pairs = [{"prompt": prompts[i], "completion": " " + t.strip()} for i, ts in enumerate(texts) for t in ts]
    nll, tokens = completion_nll(shared.with_adapter(adapter), shared.tokenizer, pairs, p.train.eval_batch_size)
    scores = iter(-n / k for n, k in zip(nll, tokens))
    score = [{t: next(scores) for t in ts} for ts in texts]
    return {
        name: [compare_scores(score[i][own[i]], score[i][alt[i]]) for i in range(len(prompts))]
        for name, alt in alternatives.items()
    }


def merged_judge(p: Params, name: str, seed: int) -> Path:
    """A plain model folder of base + adapter (what the LLM layer's hf backend loads), kept in the
    state folder under the adapter's fingerprint so a retrained adapter never reuses it."""
    from gendiv.llm.hf_backend import fingerprint
    from gendiv.state import state_dir
    from gendiv.train.evaluate import load_model

    adapter = trained_adapter("story", name, seed)
    target = state_dir() / "judges" / f"{name}_s{seed}_{fingerprint(adapter)[:16]}"
    if not (target / "config.json").is_file():
        model, tokenizer = load_model(p.models.base.dir, adapter, merged=True)
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)
    return target


def judge_config(p: Params, name: str, seed: int) -> Generator:
    """The prompted judge of model `name`: itself, greedy, a one-word answer."""
    judge = p.self_preference.judge
    if (judge.backend or p.generator.backend) == "hf":
        model = p.models.base.dir if name == "base" else str(merged_judge(p, name, seed))
    else:
        model = judge.model.format(model=name, seed=seed)
    return judge.config(p.generator, model=model, temperature=0.0, max_new_tokens=8)


def prompted_outcomes(
    p: Params,
    name: str,
    seed: int,
    test: list[dict],
    prompts: list[str],
    own: list[str],
    alternatives: dict[str, list[str]],
    cache_dir,
) -> tuple[dict[str, list[str]], dict]:
    """alternative -> outcome per prompt from A/B questions in both orders, and answer counts."""
    cfg = judge_config(p, name, seed)
    llm = open_llm(cfg, p.seed, GenerationStats(), cache_dir)
    requests = []
    for alt, texts in alternatives.items():
        for i, row in enumerate(test):
            for order, (a, b) in enumerate(((own[i], texts[i]), (texts[i], own[i]))):
                requests.append(
                    Request(
                        TEMPLATE.id,
                        TEMPLATE.version,
                        TEMPLATE.messages(prompt=prompts[i], a=a, b=b),
                        f"self_preference/{name}/s{seed}/{row['id']}/{alt}/{order}",
                    )
                )
    answers = [parse_choice(c.text) for c in llm.complete(requests, desc=f"judging ({name} s{seed})")]
    choices = iter(answers)
    outcomes = {alt: [both_orders(next(choices), next(choices)) for _ in test] for alt in alternatives}
    picked = [c == "A" for c in answers if c in ("A", "B")]
    return outcomes, {
        "judge": llm.label,
        "answers": len(answers),
        "unparsed": answers.count(None),
        "ties_answered": answers.count("tie"),
        "first_shown_rate": float(np.mean(picked)) if picked else None,
    }  # position bias, for the record


def rates(outcomes: list[list[str]]) -> dict[str, list[float]]:
    """Per prompt, the share of wins, ties and losses over `outcomes` (one list per comparison)."""
    grid = np.array(outcomes)
    return {o: (grid == o).mean(axis=0).tolist() for o in OUTCOMES}


def scope_rates(jobs: list[dict[str, list[str]]]) -> dict[str, dict[str, list[float]]]:
    """Per prompt, the win/tie/loss shares vs the other models and vs the human reference over `jobs`."""
    return {
        "vs_models": rates([o for v in jobs for alt, o in v.items() if alt != HUMAN]),
        "vs_human": rates([v[HUMAN] for v in jobs]),
    }


def summarize(per_job: dict[tuple[str, int], dict[str, list[str]]], names: list[str]) -> dict:
    """Per model: win/tie/loss rates vs the other models and vs the human reference, per prompt
    (over all seeds) and per seed and prompt (the report's standard errors need the seed spread)."""
    models = {}
    for name in names:
        seeds = sorted(s for n, s in per_job if n == name)
        per_prompt = scope_rates([per_job[(name, s)] for s in seeds])
        models[name] = {
            **{scope: {o: float(np.mean(r[o])) for o in OUTCOMES} for scope, r in per_prompt.items()},
            "per_prompt": per_prompt,
            "per_seed": {f"s{s}": scope_rates([per_job[(name, s)]]) for s in seeds},
        }
    return models


def run(p: Params, cache_dir=DEFAULT_DIR) -> dict:
    sp = p.self_preference
    test = read_jsonl(real_test_path("story"))[: sp.prompts]
    pairs = [to_prompt_completion("story", row) for row in test]
    prompts, human = [x["prompt"] for x in pairs], [x["completion"].strip() for x in pairs]
    names = model_names(p)
    shared = BaseWithAdapters(p.models.base.dir) if sp.mode == "likelihood" else None
    per_job, judging, seconds = {}, {}, {}
    for seed in p.train.secondary_seeds:
        outputs = {n: own_outputs(n, seed, test) for n in names}
        for name in tqdm(names, desc=f"self-preference (seed {seed})", unit="judge"):
            start = time.perf_counter()
            alternatives = {**{n: outputs[n] for n in names if n != name}, HUMAN: human}
            if sp.mode == "likelihood":
                adapter = None if name == "base" else trained_adapter("story", name, seed)
                per_job[(name, seed)] = likelihood_outcomes(p, shared, adapter, prompts, outputs[name], alternatives)
            else:
                per_job[(name, seed)], judging[f"{name}/s{seed}"] = prompted_outcomes(
                    p, name, seed, test, prompts, outputs[name], alternatives, cache_dir
                )
            seconds[f"{name}/s{seed}"] = round(time.perf_counter() - start, 2)
    metrics = {
        "mode": sp.mode,
        "n_prompts": len(test),
        "seeds": list(p.train.secondary_seeds),
        "judges": summarize(per_job, names),
        "seconds": seconds,
    }
    if judging:
        metrics["judging"] = judging
    return metrics


def main(
    params: Path = typer.Option(Path("params.yaml"), help="params file"),
    cache_dir: Path = typer.Option(DEFAULT_DIR, help="LLM call cache (prompted mode; kept across runs)"),
) -> None:
    """How often each source-diversity model, as a judge, prefers its own outputs."""
    p = load_params(params)
    metrics = run(p, cache_dir)
    write_json(METRICS, metrics)
    for name, m in metrics["judges"].items():
        a, h = m["vs_models"], m["vs_human"]
        print(
            f"{name:>14}: vs models win {a['win']:.2f} tie {a['tie']:.2f} loss {a['loss']:.2f} | "
            f"vs human win {h['win']:.2f} tie {h['tie']:.2f} loss {h['loss']:.2f}"
        )
    print(f"judging took {sum(metrics['seconds'].values()):.1f} s ({metrics['mode']})")


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(main)
