"""Benchmark: Distinct-1..5 of gendiv against the `diversity` package, in the same run.

Stories of paper scale (30,000) are sampled (seeded) from a word-bigram chain fitted
on the bundled ROCStories sample, so vocabulary and word statistics are real.
Both sides get the same texts; `diversity` splits the joined text on spaces, gendiv is
timed twice: on the same space-split tokens and end to end from the texts with its own
tokenizer (`whitespace_token_ids`). It also times 3,000 vs 30,000 samples to show linear growth.

    python bench/bench_distinct.py [--samples 30000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import random
import sys
import time
from pathlib import Path

from gendiv.measure.distinct import distinct_corpus, whitespace_token_ids, whitespace_tokens

REPO = Path(__file__).resolve().parents[1]
STORIES = REPO / "data" / "bundled" / "rocstories" / "stories.csv"


def load_diversity_ngram():
    """The `diversity` package's n-gram module, loaded alone (its __init__ needs spacy)."""
    spec = importlib.util.find_spec("diversity")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("the `diversity` package is not installed: pip install --no-deps diversity==0.2.2 nltk")
    path = Path(next(iter(spec.submodule_search_locations))) / "ngram_diversity.py"
    module_spec = importlib.util.spec_from_file_location("diversity_ngram_diversity", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def make_stories(n: int, seed: int = 0) -> list[str]:
    """n stories of five sentences from a word-bigram chain fitted on the bundled stories.

    Resampling whole sentences would repeat every long n-gram many times; a bigram walk
    keeps the real vocabulary and word statistics with a realistic share of new 5-grams.
    """
    with STORIES.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    follows: dict[str, list[str]] = {}
    starts = []
    for row in rows:
        for i in range(1, 6):
            words = row[f"sentence{i}"].split()
            starts.append(words[0])
            for a, b in zip(words, words[1:] + ["<end>"]):
                follows.setdefault(a, []).append(b)
    rng = random.Random(seed)

    def sentence() -> str:
        words = [rng.choice(starts)]
        while len(words) < 25 and (nxt := rng.choice(follows[words[-1]])) != "<end>":
            words.append(nxt)
        return " ".join(words)

    return [" ".join(sentence() for _ in range(5)) for _ in range(n)]


def best_time(fn, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    reference = load_diversity_ngram()
    reference.round = lambda x, ndigits=None: x  # compare unrounded sums

    texts = make_stories(args.samples)
    split = [t.split(" ") for t in texts]
    n_tokens = sum(map(len, split))
    print(f"{args.samples} stories, {n_tokens} space-split tokens, best of {args.repeats}")

    t_ref, ref_sum = best_time(lambda: reference.ngram_diversity_score(texts, 5), args.repeats)
    t_ours, ours = best_time(lambda: distinct_corpus(split, 5), args.repeats)
    t_e2e, e2e = best_time(lambda: distinct_corpus(whitespace_token_ids(texts), 5), args.repeats)
    ours_sum = sum(ours.values())
    if abs(ours_sum - ref_sum) > 1e-9:
        sys.exit(f"results differ: gendiv {ours_sum!r} vs diversity {ref_sum!r}")
    if e2e != distinct_corpus([whitespace_tokens(t) for t in texts], 5):
        sys.exit("whitespace_token_ids and whitespace_tokens give different results")
    print(f"diversity.ngram_diversity_score (n=1..5): {t_ref:8.3f} s   sum {ref_sum:.6f}")
    print(
        f"gendiv distinct_corpus, same tokens:      {t_ours:8.3f} s   sum {ours_sum:.6f}"
        f"   speed-up x{t_ref / t_ours:.1f}"
    )
    print(f"gendiv end to end (own tokenizer):        {t_e2e:8.3f} s   speed-up x{t_ref / t_e2e:.1f}")

    small_texts, small = texts[: args.samples // 10], split[: args.samples // 10]
    t_small, _ = best_time(lambda: distinct_corpus(small, 5), args.repeats)
    t_e2e_small, _ = best_time(lambda: distinct_corpus(whitespace_token_ids(small_texts), 5), args.repeats)
    t_ref_small, _ = best_time(lambda: reference.ngram_diversity_score(small_texts, 5), args.repeats)
    print(f"scaling {len(small)} -> {len(split)} samples (x{len(split) / len(small):.0f} data):")
    for name, before, after in [
        ("diversity", t_ref_small, t_ref),
        ("gendiv, same tokens", t_small, t_ours),
        ("gendiv end to end", t_e2e_small, t_e2e),
    ]:
        speed_up = "" if name == "diversity" else f"   speed-up at {len(small)}: x{t_ref_small / before:.1f}"
        print(f"  {name:20} x{after / before:4.1f}  ({before:.3f} -> {after:.3f} s){speed_up}")


if __name__ == "__main__":
    main()
