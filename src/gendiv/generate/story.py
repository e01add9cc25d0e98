"""Stage `generate_story`: topic-guided story generation for one diversity level.

Level i gives its samples the topics of T_i in turn (round robin, so a level uses every
topic of its subset equally often); T_i is the first |T_i| topics of the pool in
`topic_order`, spread over themes and words (so the subsets are nested, only their size
changes between levels, and a larger subset always reaches new ground). Each prompt
shows `story_gen.n_seed_stories` real training stories as earlier chat turns (the model's
"own" numbered five-sentence answers, each with its word count), and asks for a new
numbered five-sentence story about the topic of about the seeds' length. Answers are split
into sentences: fewer than five complete sentences, refusals, a sentence under 3 words, a
repeated sentence or two sentences copied from a seed are rejected and re-asked; more than
five keep the first five when `story_gen.truncate_long_stories` is true (else rejected).

Template 2 described the format in one user message; SmolLM2-135M followed it in ~30% of
answers. Template 3's example turns raise that to ~90% (measured on 64 prompts).

`generator.prompt_style = completion` is for pretrained (not instruction-tuned) models such
as Gemma 3 270M: the prompt is a document of numbered stories that ends with the header of
the next one, which names its topic; the model writes the story as the document's
continuation. Template 2 shows each seed story as five numbered lines, one sentence each:
Gemma 3 270M then writes five sentences in 81% of answers (26 of 32 measured), against
39% for template 1's one-paragraph stories (it stopped after 3-4 sentences), which halves
the calls per story. `story_gen.seed_stories = per_topic` draws the seed stories once per topic
(not per sample), so the only thing that changes between levels is how many distinct
prompts there are: at a few dozen samples, per-sample seed draws give every level about the
same prompt variety and the topic subset stops mattering.
"""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import typer

from gendiv.cards import params_section, write_set
from gendiv.config import load_params, require_level
from gendiv.errors import UserError
from gendiv.generate.topics import topic_stems
from gendiv.io import read_json, read_jsonl, write_json
from gendiv.layout import GENERATED_DIR, TOPICS_FILE, dataset_path, report_beside
from gendiv.llm import GenerationStats, Group, Reject, Template, check_answer, collect, open_llm
from gendiv.llm.cache import DEFAULT_DIR
from gendiv.prepare.real import split_sentences

OUT_DIR = GENERATED_DIR / "story"
REAL_TRAIN = dataset_path("story", "real")
TEMPLATE = Template(
    id="story_topic_guided",
    version="3",
    user='Write a five-sentence story about "{topic}" of about {words} words, numbered 1 to 5.',
)
SHOT_REQUEST = "Write a five-sentence story of about {words} words, numbered 1 to 5."
COMPLETION_TEMPLATE = Template(
    id="story_topic_guided_completion",
    version="2",
    user="Five-sentence stories.\n\n{examples}Story {next} (about {topic}):",
)
_NUMBERED = re.compile(r"^\s*[1-9][.)]\s*(.+)$")
_PREAMBLE = re.compile(r"^(?:title|topic)\b|:\s*$", re.IGNORECASE)
_LABEL = re.compile(r"^(?:story\s*\d*|new story)\s*:\s*", re.IGNORECASE)


def topic_order(topics: list[str], themes: list[str], seed: int) -> list[str]:
    """The pool in the order the levels take their topics: T_i is its first |T_i| topics.

    A seeded shuffle, then greedily the next topic whose theme and content words no earlier
    pick shares; when none is left, a new round starts. So the subsets are nested, and each
    larger one adds topics about something new ("A Lost Dog" does not follow "A Lost Cat"):
    topic count, not chance, sets how far a level's prompts spread.
    """
    order = list(range(len(topics)))
    random.Random(f"{seed}-topic-order").shuffle(order)
    picked: list[int] = []
    used_themes: set[str] = set()
    used_stems: set[str] = set()
    stems = [topic_stems(t) or frozenset() for t in topics]
    while order:
        pick = next((i for i in order if themes[i] not in used_themes and not stems[i] & used_stems), None)
        if pick is None:
            used_themes, used_stems = set(), set()
            pick = order[0]
        order.remove(pick)
        picked.append(pick)
        used_themes.add(themes[pick])
        used_stems |= stems[pick]
    return [topics[i] for i in picked]


def topic_subset(topics: list[str], themes: list[str], size: int, seed: int) -> list[str]:
    """T_i: the first `size` topics of topic_order, so T_0 is inside T_1 is inside ..."""
    return topic_order(topics, themes, seed)[:size]


def parse_story(text: str, truncate: bool, seeds: list[str] = ()) -> dict:
    """An answer as {"context": 4 sentences, "completion": sentence 5}, or raise Reject.

    Two or more sentences copied verbatim from the seed stories are a copy, not a new story.
    """
    text = check_answer(text)
    numbered = [m.group(1) for m in map(_NUMBERED.match, text.splitlines()) if m]
    if len(numbered) >= 5:
        text = "\n".join(numbered)  # the asked-for format: whatever follows the list is chatter
    lines = [_LABEL.sub("", _NUMBERED.sub(r"\1", ln.strip())) for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not _PREAMBLE.search(ln)]
    sentences = split_sentences(" ".join(lines).replace("**", ""))
    if sentences and not sentences[-1].endswith((".", "!", "?", '"', "'")):
        sentences = sentences[:-1]  # cut off mid-sentence (token cap)
    if len(sentences) < 5:
        raise Reject("too_few_sentences")
    if len(sentences) > 5 and not truncate:
        raise Reject("too_many_sentences")
    sentences = sentences[:5]
    if any(len(s.split()) < 3 for s in sentences):
        raise Reject("sentence_too_short")
    if len({x.lower() for x in sentences}) < 5:
        raise Reject("repeated_sentence")
    seen = {x for seed in seeds for x in split_sentences(seed)}
    if sum(s in seen for s in sentences) >= 2:
        raise Reject("copied_seed")
    return {"context": " ".join(sentences[:4]), "completion": sentences[4]}


def numbered_lines(story: str) -> str:
    """A story as one numbered line per sentence, the shape the completion prompt shows."""
    return "\n".join(f"{k + 1}. {x}" for k, x in enumerate(split_sentences(story)))


def story_prompt(real: list[dict], subset: list[str], story_gen, seed: int, level: int, style: str):
    """Prompt of sample `index` at `level`: its topic, seed stories and rendered fields."""

    def prompt(index: int) -> tuple[Template, dict]:
        rng = random.Random(f"{seed}-story-{level}-{index}")
        topic = subset[index % len(subset)]  # round robin: every topic of T_i is used, equally often
        if story_gen.seed_stories == "per_topic":
            rng = random.Random(f"{seed}-story-seeds-{topic}")
        seeds = [f"{r['context']} {r['completion']}" for r in rng.sample(real, story_gen.n_seed_stories)]
        if style == "completion":
            examples = "".join(f"Story {k + 1}:\n{numbered_lines(s)}\n\n" for k, s in enumerate(seeds))
            return COMPLETION_TEMPLATE, {
                "examples": examples,
                "next": len(seeds) + 1,
                "topic": topic.lower(),
                "topic_name": topic,
                "seeds": seeds,
            }
        words = round(sum(len(s.split()) for s in seeds) / len(seeds))
        shots = tuple(
            (
                SHOT_REQUEST.format(words=len(s.split())),
                numbered_lines(s),
            )
            for s in seeds
        )
        return TEMPLATE, {"shots": shots, "topic": topic, "topic_name": topic, "words": words, "seeds": seeds}

    return prompt


def story_group(p, level: int, style: str, n: int, pool: dict, real: list[dict]) -> Group:
    """The `n` samples of `level` asked with `style` prompts from topic pool `pool` (topics.json)."""
    subset = topic_subset(pool["topics"], pool["themes"], p.story_gen.topic_subset_sizes[level], p.seed)
    prompt = story_prompt(real, subset, p.story_gen, p.seed, level, style)
    truncate = p.story_gen.truncate_long_stories
    return Group(
        f"story/d{level}",
        n,
        prompt,
        lambda text, index: parse_story(text, truncate, prompt(index)[1]["seeds"]),
        parses_cut=truncate,  # five whole sentences before the token cap are a story; the cut sixth goes
    )


def write_story_set(
    p,
    level: int,
    generator,
    n: int,
    name: str,
    folder: Path,
    command: str,
    card_params: dict,
    cache_dir: Path = DEFAULT_DIR,
    topics_file: Path = TOPICS_FILE,
) -> list[dict]:
    """Generate `n` stories with level `level`'s prompts using `generator`; write the set `name`
    (rows and card) into `folder` and the generation report beside it.

    Sample i always gets the same prompt at a level, whichever generator answers it, so
    the source-diversity sets differ only in their generator.
    """
    if not topics_file.is_file():
        raise UserError(f"{topics_file} is missing: run `gendiv generate-topics` first")
    size = p.story_gen.topic_subset_sizes[level]
    pool = read_json(topics_file)
    if len(pool["topics"]) < size:
        raise UserError(
            f"{topics_file} holds {len(pool['topics'])} topics; level {level} needs {size}: rerun generate-topics"
        )
    real = read_jsonl(REAL_TRAIN)
    report_file, id_prefix = report_beside(folder), f"story-{name}"
    start, stats = time.perf_counter(), GenerationStats()
    llm = open_llm(generator, p.seed, stats, cache_dir)
    group = story_group(p, level, generator.prompt_style, n, pool, real)
    prompt = group.prompt
    try:
        accepted = collect(llm, [group], generator.max_rejects, desc=f"{id_prefix}")[group.id]
    finally:
        write_json(
            report_file,
            {
                **stats.as_dict(generator),
                "level": level,
                "topic_subset_size": size,
                "n_samples": n,
                "template": f"{TEMPLATE.id}@{TEMPLATE.version}",
                "elapsed_s": round(time.perf_counter() - start, 1),
            },
        )
    rows = [
        {
            "id": f"{id_prefix}-{a.index:06d}",
            **a.value,
            "source": name,
            "level": level,
            "topic": prompt(a.index)[1]["topic_name"],
            "generator": llm.label,
            "template_version": f"{a.template.id}@{a.template.version}",
        }
        for a in accepted
    ]
    rows = write_set("story", name, rows, command, card_params, folder=folder)
    print(
        f"{id_prefix}: {len(rows)} stories, {stats.calls} calls, {stats.cache_hits} cached, "
        f"{sum(stats.rejects.values())} rejected, {stats.unused} unused, {stats.dropped} dropped"
    )
    return rows


def main(
    level: int = typer.Option(..., help="Gen-D level index"),
    params: Path = typer.Option(Path("params.yaml"), help="params file"),
    cache_dir: Path = typer.Option(DEFAULT_DIR, help="LLM call cache (kept across runs)"),
    out_dir: Path = typer.Option(OUT_DIR, help="output folder (the set goes to its subfolder d<level>/)"),
) -> None:
    """Generate the story Gen-D set of one level (data/generated/story/d{level}/)."""
    p = load_params(params)
    require_level(p, level)
    write_story_set(
        p,
        level,
        p.generator,
        p.n_generated("story"),
        f"d{level}",
        out_dir / f"d{level}",
        f"gendiv generate-story --level {level}",
        params_section(p, "seed", "data.story.n_train", "generator", "story_gen"),
        cache_dir,
        out_dir / TOPICS_FILE.name,
    )


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(main)
