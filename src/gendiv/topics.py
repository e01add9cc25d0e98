"""Stage `generate_topics`: the topic pool of topic-guided story generation.

The generator is asked for short lists of story topics, each request with a different
theme hint (a small model repeats itself without one). Lines are normalized (numbering,
bullets, quotes and trailing explanations removed, title case), filtered (1-4 words of
letters, 3-40 characters), and deduplicated case-insensitively in request order until the pool holds
`story_gen.topic_pool_size` topics (at most 3 x that many requests). Output:
data/generated/story/topics.json.
"""

from __future__ import annotations

import math
import re
import string
import time
from pathlib import Path

import typer

from gendiv.cli import UserError
from gendiv.io import write_json
from gendiv.llm import answer_text, check_answer, GenerationStats, open_llm, Reject, Request, Template
from gendiv.llm.cache import DEFAULT_DIR
from gendiv.params import load_params

OUT_DIR = Path("data/generated/story")
TEMPLATE = Template(
    id="story_topics", version="1",
    user=("List 10 different topics for short everyday stories about {hint}. "
          "Write one topic per line, each only one to three words. No numbering, no explanations."),
)
HINTS = (
    "family", "school", "friendship", "work", "sports", "food", "animals", "travel", "holidays",
    "music", "weather", "money", "health", "technology", "nature", "the city", "the sea", "love",
    "childhood", "old age", "neighbors", "shopping", "cars", "games", "art", "science", "history",
    "crime", "mystery", "adventure", "fear", "luck", "mistakes", "surprises", "celebrations",
    "the farm", "the kitchen", "the garden", "hobbies", "books", "movies", "cleaning", "moving house",
    "weddings", "pets", "jobs", "exams", "dreams", "the night", "winter", "summer", "rain",
    "the beach", "mountains", "camping", "fishing", "cooking", "baking", "birthdays", "gifts",
)
_BULLET = re.compile(r"^\s*(?:[-*\u2022]+|\d+\s*[.):-]|[a-zA-Z]\))\s*")
_ALLOWED = re.compile(r"^[A-Za-z][A-Za-z' -]*$")


def normalize_topic(line: str) -> str | None:
    """One answer line as a title-cased topic, or None if it is not a short topic."""
    text = _BULLET.sub("", line).strip().strip("\"'*`").strip()
    text = re.split(r"\s[-\u2013\u2014]\s|:|\(", text, maxsplit=1)[0]
    text = " ".join(text.strip(" .,;!\"'").split())
    if not _ALLOWED.match(text) or not 1 <= len(text.split()) <= 4 or not 3 <= len(text) <= 40:
        return None
    return string.capwords(text.lower())


def parse_topics(text: str) -> tuple[list[str], int]:
    """Topics in one answer and the number of lines that were not topics."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    topics = [t for t in map(normalize_topic, lines) if t]
    return topics, len(lines) - len(topics)


def round_size(cfg, pool_size: int) -> int:
    """Requests per round: whole hf batches (fixed batch composition) or a few per worker,
    about one request per 3 topics still wanted (answers hold 3+ new topics), at most ~32."""
    unit = cfg.batch_size if cfg.backend == "hf" else cfg.concurrency
    return unit * max(1, math.ceil(min(32, math.ceil(pool_size / 3)) / unit))


def build_pool(llm, pool_size: int, chunk: int, max_calls: int) -> tuple[list[str], dict]:
    stats = llm.stats
    pool: list[str] = []
    seen: set[str] = set()
    duplicates = unusable_lines = truncated = index = 0
    while len(pool) < pool_size and index < max_calls:
        requests = [Request(TEMPLATE.id, TEMPLATE.version,
                            TEMPLATE.messages(hint=HINTS[i % len(HINTS)]), f"topics/{i}")
                    for i in range(index, min(index + chunk, max_calls))]
        index += len(requests)
        for answer in llm.complete(requests, desc=f"topics ({len(pool)}/{pool_size})"):
            try:
                text = check_answer(answer_text(answer, whole_lines=True))
            except Reject as reject:
                stats.rejects[reject.reason] += 1
                continue
            truncated += answer.finish_reason == "length"   # its last line, which the cap cut, was dropped
            topics, bad = parse_topics(text)
            unusable_lines += bad
            if not topics:
                stats.rejects["no_topics"] += 1
            for topic in topics:
                if topic.lower() in seen:
                    duplicates += 1
                    continue
                seen.add(topic.lower())
                pool.append(topic)
    return pool[:pool_size], {"requests": index, "duplicates": duplicates, "unusable_lines": unusable_lines,
                              "truncated_answers": truncated, "unique_found": len(pool)}


def main(params: Path = typer.Option(Path("params.yaml"), help="params file"),
         cache_dir: Path = typer.Option(DEFAULT_DIR, help="LLM call cache (kept across runs)"),
         out_dir: Path = typer.Option(OUT_DIR, help="output folder")) -> None:
    """Generate the deduplicated, normalized topic pool (data/generated/story/topics.json)."""
    p = load_params(params)
    g = p.generator
    start, stats = time.perf_counter(), GenerationStats()
    llm = open_llm(g, p.seed, stats, cache_dir)
    wanted, largest = p.story_gen.topic_pool_size, p.story_gen.topic_subset_sizes[-1]
    pool, counts = build_pool(llm, wanted, round_size(g, wanted), max_calls=max(3 * wanted, 64))
    report = {**stats.as_dict(g), **counts, "requested_size": wanted, "size": len(pool),
              "template": f"{TEMPLATE.id}@{TEMPLATE.version}", "elapsed_s": round(time.perf_counter() - start, 1)}
    write_json(out_dir / "topics.report.json", report)
    if len(pool) < largest:
        raise UserError(f"the topic pool holds {len(pool)} distinct topics after {counts['requests']} requests, "
                        f"fewer than the largest subset story_gen.topic_subset_sizes[-1] = {largest}; lower the "
                        f"subset sizes or use a stronger generator (see {out_dir / 'topics.report.json'})")
    write_json(out_dir / "topics.json", {"generator": llm.label, "template_version": TEMPLATE.version,
                                         "requested_size": wanted, "size": len(pool), "topics": pool})
    print(f"topic pool: {len(pool)} topics from {counts['requests']} requests "
          f"({stats.calls} calls, {stats.cache_hits} cached)")


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(main)
