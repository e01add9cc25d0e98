"""Stage `generate_topics`: the topic pool of topic-guided story generation.

The generator is asked for short lists of story topics, each request with a different
theme hint (a small model repeats itself without one). Lines are normalized (numbering,
bullets, quotes and trailing explanations removed, title case), filtered (1-4 words of
letters, 3-40 characters), and deduplicated in request order until the pool holds
`story_gen.topic_pool_size` topics (at most 3 x that many requests). A line is junk when it
is about the list rather than a topic ("Some Examples Would Be", "Note", "The Best"); a topic
is a near-duplicate when the stems of its content words (first five letters) equal, contain
or are contained in those of a topic already in the pool ("Schoolhouse" after "School");
generic words ("new", "big", "day") count for neither. At most three topics come from one
answer, so no single hint fills the pool. Each topic keeps the hint it was asked with as its
theme, so the story levels can spread their topics over themes (generate/story.py).
With `generator.prompt_style = completion` the request is a topic list to continue.
Output: data/generated/story/topics.json.
"""

from __future__ import annotations

import math
import re
import string
import time
from pathlib import Path

import typer

from gendiv.config import load_params
from gendiv.errors import UserError
from gendiv.io import write_json
from gendiv.layout import GENERATED_DIR
from gendiv.llm import GenerationStats, Reject, Request, Template, answer_text, check_answer, open_llm
from gendiv.llm.cache import DEFAULT_DIR
from gendiv.prepare.real import content_words

OUT_DIR = GENERATED_DIR / "story"
TEMPLATE = Template(
    id="story_topics",
    version="1",
    user=(
        "List 10 different topics for short everyday stories about {hint}. "
        "Write one topic per line, each only one to three words. No numbering, no explanations."
    ),
)
COMPLETION_TEMPLATE = Template(
    id="story_topics_completion",
    version="2",
    user=(
        "Story topics about everyday life, one to three words each:\nA Lost Wallet\nThe First Day at Work\n"
        "A Broken Window\nMoving to a New Town\n\nStory topics about {hint}, one to three words each:"
    ),
)
EXAMPLE_TOPICS = ("a lost wallet", "the first day at work", "a broken window", "moving to a new town")
_META_WORDS = frozenset(
    "example examples note notes topic topics story stories list etc idea ideas title "
    "titles answer question here some would following sure".split()
)
# Words that say nothing about what a story is about: a topic needs one more word ("The Big" is junk)
# and they never make two topics distinct ("A New Recipe" and "A New Menu" differ by recipe / menu).
_GENERIC_WORDS = frozenset(
    "new old big little small great good bad best first last one two my your our day time thing things way life".split()
)
MAX_TOPICS_PER_ANSWER = 3  # a small model lists near-relatives (every football team) once it starts
HINTS = (
    "family",
    "school",
    "friendship",
    "work",
    "sports",
    "food",
    "animals",
    "travel",
    "holidays",
    "music",
    "weather",
    "money",
    "health",
    "technology",
    "nature",
    "the city",
    "the sea",
    "love",
    "childhood",
    "old age",
    "neighbors",
    "shopping",
    "cars",
    "games",
    "art",
    "science",
    "history",
    "crime",
    "mystery",
    "adventure",
    "fear",
    "luck",
    "mistakes",
    "surprises",
    "celebrations",
    "the farm",
    "the kitchen",
    "the garden",
    "hobbies",
    "books",
    "movies",
    "cleaning",
    "moving house",
    "weddings",
    "pets",
    "jobs",
    "exams",
    "dreams",
    "the night",
    "winter",
    "summer",
    "rain",
    "the beach",
    "mountains",
    "camping",
    "fishing",
    "cooking",
    "baking",
    "birthdays",
    "gifts",
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


def topic_stems(topic: str) -> frozenset[str] | None:
    """Stems of a topic's content words, or None when it is junk (meta words, no content)."""
    words = [w for w in content_words(topic) if w not in _GENERIC_WORDS]
    if not words or any(w in _META_WORDS for w in words) or topic.lower() in EXAMPLE_TOPICS:
        return None
    return frozenset(w[:5] for w in words)


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


def build_pool(
    llm, pool_size: int, chunk: int, max_calls: int, template: Template = TEMPLATE
) -> tuple[list[str], list[str], dict]:
    """The pool, each topic's theme (the hint it was asked with) and the counts of what was dropped."""
    stats = llm.stats
    pool: list[str] = []
    themes: list[str] = []
    stems: list[frozenset[str]] = []
    duplicates = junk = over_cap = unusable_lines = truncated = index = 0
    while len(pool) < pool_size and index < max_calls:
        hints = [HINTS[i % len(HINTS)] for i in range(index, min(index + chunk, max_calls))]
        requests = [
            Request(template.id, template.version, template.messages(hint=hint), f"topics/{index + k}")
            for k, hint in enumerate(hints)
        ]
        index += len(requests)
        answers = llm.complete(requests, desc=f"topics ({len(pool)}/{pool_size})")
        for hint, answer in zip(hints, answers):
            try:
                text = check_answer(answer_text(answer, whole_lines=True))
            except Reject as reject:
                stats.rejects[reject.reason] += 1
                continue
            truncated += answer.finish_reason == "length"  # its last line, which the cap cut, was dropped
            topics, bad = parse_topics(text)
            unusable_lines += bad
            if not topics:
                stats.rejects["no_topics"] += 1
            kept = 0
            for topic in topics:
                if kept == MAX_TOPICS_PER_ANSWER:
                    over_cap += 1
                    continue
                key = topic_stems(topic)
                if key is None:
                    junk += 1
                elif any(key <= other or other <= key for other in stems):
                    duplicates += 1
                else:
                    stems.append(key)
                    pool.append(topic)
                    themes.append(hint)
                    kept += 1
    return (
        pool[:pool_size],
        themes[:pool_size],
        {
            "requests": index,
            "duplicates": duplicates,
            "junk": junk,
            "over_answer_cap": over_cap,
            "unusable_lines": unusable_lines,
            "truncated_answers": truncated,
            "unique_found": len(pool),
        },
    )


def pool_plan(p) -> tuple[int, int, int, Template]:
    """build_pool's arguments besides the LLM: pool size, requests per round, most requests, template."""
    g, wanted = p.generator, p.story_gen.topic_pool_size
    template = COMPLETION_TEMPLATE if g.prompt_style == "completion" else TEMPLATE
    return wanted, round_size(g, wanted), max(3 * wanted, 64), template


def main(
    params: Path = typer.Option(Path("params.yaml"), help="params file"),
    cache_dir: Path = typer.Option(DEFAULT_DIR, help="LLM call cache (kept across runs)"),
    out_dir: Path = typer.Option(OUT_DIR, help="output folder"),
) -> None:
    """Generate the deduplicated, normalized topic pool (data/generated/story/topics.json)."""
    p = load_params(params)
    g = p.generator
    start, stats = time.perf_counter(), GenerationStats()
    llm = open_llm(g, p.seed, stats, cache_dir)
    largest = p.story_gen.topic_subset_sizes[-1]
    wanted, chunk, max_calls, template = pool_plan(p)
    pool, themes, counts = build_pool(llm, wanted, chunk, max_calls, template)
    report = {
        **stats.as_dict(g),
        **counts,
        "requested_size": wanted,
        "size": len(pool),
        "template": f"{template.id}@{template.version}",
        "elapsed_s": round(time.perf_counter() - start, 1),
    }
    write_json(out_dir / "topics.report.json", report)
    if len(pool) < largest:
        raise UserError(
            f"the topic pool holds {len(pool)} distinct topics after {counts['requests']} requests, "
            f"fewer than the largest subset story_gen.topic_subset_sizes[-1] = {largest}; lower the "
            f"subset sizes or use a stronger generator (see {out_dir / 'topics.report.json'})"
        )
    write_json(
        out_dir / "topics.json",
        {
            "generator": llm.label,
            "template_version": template.version,
            "requested_size": wanted,
            "size": len(pool),
            "topics": pool,
            "themes": themes,
        },
    )
    print(
        f"topic pool: {len(pool)} topics from {counts['requests']} requests "
        f"({stats.calls} calls, {stats.cache_hits} cached)"
    )


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(main)
