"""Seed-to-seed noise of the test loss under candidate training settings (a design measurement).

The verdicts' standard error adds test-example variance and the seed-to-seed variance of a
set's test loss; this script measures the second one for training settings given on the
command line, so a setting can be chosen on noise and learning alone, never on a verdict:
it trains every (setting, set, seed) with gendiv's own trainer (train.finetune.build_trainer)
and scores it with gendiv's own loss (train.evaluate.score_rows) on the real test split and,
optionally, on a larger held-out test set, then prints per setting the mean real loss (how
much the runs learn), the pooled seed standard deviation over the sets and the test-example
standard error of a paired difference between two sets.

  python scripts/seed_noise.py --task story --sets real=data/real/story/train.jsonl \\
      d0=data/generated/story/d0/train.jsonl --seeds 0 1 2 3 \\
      --setting base: --setting lr5e-4:learning_rate=5e-4 --setting steps48:max_steps=48

A setting is name:key=value,key=value over train.* keys. Results go to --out as JSON.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import time
from pathlib import Path

import numpy as np

from gendiv.config import load_params
from gendiv.config.schema import PerTaskTrain
from gendiv.io import read_jsonl, write_json
from gendiv.train.evaluate import score_rows
from gendiv.train.finetune import build_trainer


def _setting(text: str) -> tuple[str, dict]:
    """name:key=value,... -> (name, {key: value}); values are JSON (numbers, null, lists) or text."""
    name, _, pairs = text.partition(":")
    overrides = {}
    for pair in filter(None, pairs.split(",")):
        key, _, value = pair.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return name, overrides


def _loss(scores: dict) -> float:
    return math.fsum(scores["nll"]) / sum(scores["tokens"])


def _paired_se(a: dict, b: dict) -> float:
    """Test-example s.e. of loss(a) - loss(b) (ratio estimator, examples independent)."""
    tokens = np.array(a["tokens"], float)
    diff = np.array(a["nll"]) - np.array(b["nll"])
    resid = diff - tokens * diff.sum() / tokens.sum()
    return float(math.sqrt(len(diff) * (resid**2).sum() / (len(diff) - 1)) / tokens.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", required=True, choices=["story", "qa"])
    parser.add_argument("--sets", nargs="+", required=True, help="name=path of each training set")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--setting", action="append", required=True, help="name:key=value,... over train.*")
    parser.add_argument("--test", type=Path, help="test rows (default: the params' real test split)")
    parser.add_argument("--big-test", type=Path, help="a larger held-out test set, scored as well")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    torch.set_num_threads(2)
    p = load_params(args.params)
    test_rows = read_jsonl(args.test or Path(f"data/real/{args.task}/test.jsonl"))
    big_rows = read_jsonl(args.big_test) if args.big_test else None
    sets = dict(s.split("=", 1) for s in args.sets)
    tokenizer = AutoTokenizer.from_pretrained(p.models.base.dir)
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    for (name, overrides), set_name, seed in itertools.product(map(_setting, args.setting), sets, args.seeds):
        key = f"{name}|{set_name}|{seed}"
        if key in results:
            continue
        # the task's own settings, then the overrides
        train = p.task_train(args.task).model_copy(update={**overrides, "per_task": PerTaskTrain.none()})
        q = p.model_copy(update={"train": train})
        set_seed(seed)
        model = AutoModelForCausalLM.from_pretrained(p.models.base.dir, dtype=torch.float32)
        start = time.perf_counter()
        rows = read_jsonl(sets[set_name])
        trainer = build_trainer(q, args.task, rows, seed, model, tokenizer, Path("/tmp/noise_ckpt"))
        trainer.args.save_strategy = "no"
        trainer.train()
        seconds = time.perf_counter() - start
        _, scores = score_rows(trainer.model, tokenizer, args.task, test_rows, q.train.max_length, 16)
        entry = {"scores": scores, "train_seconds": round(seconds, 1), "steps": trainer.state.global_step}
        if big_rows:
            entry["big"] = score_rows(trainer.model, tokenizer, args.task, big_rows, q.train.max_length, 16)[1]
        results[key] = entry
        write_json(args.out, results)
        print(f"{key}: loss {_loss(scores):.4f} in {seconds:.0f} s, {entry['steps']} steps", flush=True)

    _summarise(results, [name for name, _ in map(_setting, args.setting)], list(sets), args.seeds, bool(big_rows))


def _summarise(results: dict, settings: list[str], names: list[str], seeds: list[int], big: bool) -> None:
    """Per setting and test set: each set's mean loss and seed SD, the pooled seed SD and the
    test-example s.e. of the last set minus the first (seed-averaged per example)."""
    for name, test in itertools.product(settings, ("scores", "big") if big else ("scores",)):
        runs = {s: [results[f"{name}|{s}|{k}"][test] for k in seeds] for s in names}
        per_set = {s: [_loss(r) for r in rs] for s, rs in runs.items()}
        pooled = math.sqrt(statistics.fmean(statistics.variance(v) for v in per_set.values()))
        mean_scores = {
            s: {"nll": np.mean([r["nll"] for r in rs], axis=0), "tokens": rs[0]["tokens"]} for s, rs in runs.items()
        }
        pair_se = _paired_se(mean_scores[names[-1]], mean_scores[names[0]])
        means = ", ".join(f"{s} {statistics.fmean(v):.4f} (sd {statistics.stdev(v):.4f})" for s, v in per_set.items())
        n_examples = len(runs[names[0]][0]["nll"])
        print(
            f"{name} [{test}, {n_examples} ex]: {means}; pooled seed sd {pooled:.4f}; "
            f"test-example s.e. of {names[-1]}-{names[0]} {pair_se:.4f}"
        )


if __name__ == "__main__":
    main()
