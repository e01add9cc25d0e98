"""Story answers: parsing into 4 + 1 sentences, honest rejects, nested topic subsets."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gendiv.generate.story import numbered_lines, parse_story, story_prompt, topic_subset
from gendiv.llm import Reject

FIVE = "Ann baked a cake. She burned it badly. Her dog ate the rest. Ann laughed at him. They went out for pie."


def test_five_sentences_split_into_context_and_completion():
    row = parse_story(FIVE, truncate=True)
    assert row == {
        "context": "Ann baked a cake. She burned it badly. Her dog ate the rest. Ann laughed at him.",
        "completion": "They went out for pie.",
    }


def test_preamble_lines_and_markdown_are_removed():
    assert parse_story("Title: The Cake\nHere is your story:\n**" + FIVE + "**", truncate=True)["context"].startswith(
        "Ann"
    )


def test_story_labels_are_removed_and_copies_of_the_seeds_rejected():
    assert parse_story("Story 3: " + FIVE, truncate=True)["context"].startswith("Ann baked")
    with pytest.raises(Reject, match="copied_seed"):
        parse_story(FIVE, truncate=True, seeds=["Ann baked a cake. She burned it badly. It rained."])
    assert parse_story(FIVE, truncate=True, seeds=["Ann baked a cake. Then it rained a lot."])


def test_longer_answers_keep_five_only_when_allowed():
    longer = FIVE + " It was a good day."
    assert parse_story(longer, truncate=True)["completion"] == "They went out for pie."
    with pytest.raises(Reject, match="too_many_sentences"):
        parse_story(longer, truncate=False)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "empty"),
        ("I'm sorry, I can't write that.", "refusal"),
        ("Ann baked a cake. She burned it. Her dog ate it. Ann laughed", "too_few_sentences"),
        (
            "Ann baked a cake. She burned it badly. Her dog ate the rest. Ann laughed at him. They went",
            "too_few_sentences",
        ),
        (
            "Ann baked a cake. Oh no. Her dog ate the rest. Ann laughed at him. They went out for pie.",
            "sentence_too_short",
        ),
        (
            "1. Ann baked a cake.\n2. Her dog ate it.\n3. Her dog ate it.\n4. Ann cried a lot.\n5. They went out.",
            "repeated_sentence",
        ),
        (
            "1. Ann baked a cake.\n2. Her dog ate it.\n3. Ann cried a lot.",
            "too_few_sentences",
        ),  # not "1." as a sentence
    ],
)
def test_rejects_name_their_reason(text, reason):
    with pytest.raises(Reject) as err:
        parse_story(text, truncate=True)
    assert err.value.reason == reason


def test_topic_subsets_are_nested_and_seeded():
    pool = [f"Topic {i}" for i in range(50)]
    themes = [f"theme {i % 10}" for i in range(50)]
    small, big = topic_subset(pool, themes, 5, seed=0), topic_subset(pool, themes, 20, seed=0)
    assert big[:5] == small and len(set(big)) == 20
    assert topic_subset(pool, themes, 20, seed=1) != big


def test_topic_subsets_spread_over_themes_and_words_before_repeating_either():
    pool = ["A Lost Cat", "A Lost Dog", "A Lost Ring", "Baking Bread", "Rainy Day", "Trains", "Snow", "Kites"]
    themes = ["pets", "pets", "money", "cooking", "weather", "travel", "weather", "hobbies"]
    theme_of = dict(zip(pool, themes))
    for seed in range(20):
        first = topic_subset(pool, themes, 5, seed)
        assert len({theme_of[t] for t in first}) == 5  # five themes, one topic each
        assert sum("Lost" in t for t in first) == 1  # one "A Lost ..." until every fresh word is used


def test_topics_are_assigned_round_robin_so_a_level_uses_its_whole_subset():
    topics = ["Cats", "Rain", "Trains", "Snow", "Kites"]
    prompt = story_prompt(REAL, topics, _story_gen("per_topic"), seed=0, level=2, style="completion")
    used = [prompt(i)[1]["topic_name"] for i in range(10)]
    assert sorted(used) == sorted(topics * 2)


def test_numbered_answers_keep_the_list_and_drop_the_chatter_after_it():
    numbered = "\n".join(f"{k + 1}. {x}." for k, x in enumerate(FIVE[:-1].split(". ")))
    row = parse_story("Here you go:\n" + numbered + "\n\nThis story shows that cake is fun.", truncate=False)
    assert row == parse_story(FIVE, truncate=False)


def test_prompt_shows_seed_stories_as_numbered_example_turns():
    real = [
        {
            "context": "Ann baked a cake. She burned it badly. Her dog ate the rest. Ann laughed at him.",
            "completion": "They went out for pie.",
        },
        {
            "context": "Bo ran fast. He won the race. His mom cheered loudly. They ate ice cream.",
            "completion": "It was the best day.",
        },
    ]
    template, fields = story_prompt(real, ["space travel"], _story_gen("per_sample"), seed=0, level=0, style="chat")(0)
    messages = template.messages(**fields)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert messages[1]["content"].splitlines()[4] in {"5. They went out for pie.", "5. It was the best day."}
    assert '"space travel"' in messages[-1]["content"] and "numbered 1 to 5" in messages[-1]["content"]
    assert fields["words"] == 21  # mean of 22 and 20 words


def _story_gen(seed_stories: str):
    return SimpleNamespace(n_seed_stories=2, seed_stories=seed_stories)


REAL = [
    {
        "context": f"Person {i} woke up. They ate food. They went out. They met a friend.",
        "completion": f"It was day {i}.",
    }
    for i in range(12)
]


def test_completion_prompt_is_a_document_ending_in_the_next_story_header():
    template, fields = story_prompt(
        REAL, ["Space Travel"], _story_gen("per_sample"), seed=0, level=0, style="completion"
    )(0)
    [message] = template.messages(**fields)
    text = message["content"]
    assert text.startswith("Five-sentence stories.") and text.endswith("Story 3 (about space travel):")
    assert all(f"Story {k}:\n{numbered_lines(s)}\n\n" in text for k, s in enumerate(fields["seeds"], 1))
    assert "\n5. " in text  # one numbered line per sentence
    assert fields["topic_name"] == "Space Travel"


def test_per_topic_seed_stories_make_the_topic_count_the_prompt_count():
    topics = ["Cats", "Rain", "Trains"]
    per_topic = story_prompt(REAL, topics, _story_gen("per_topic"), seed=0, level=3, style="completion")
    per_sample = story_prompt(REAL, topics, _story_gen("per_sample"), seed=0, level=3, style="completion")
    distinct = {per_topic(i)[1]["examples"] + per_topic(i)[1]["topic"] for i in range(30)}
    assert len(distinct) == len({per_topic(i)[1]["topic"] for i in range(30)}) <= 3
    assert len({per_sample(i)[1]["examples"] for i in range(30)}) > 3


@pytest.mark.parametrize("truncate", [True, False])
def test_a_story_cut_by_the_token_cap_keeps_its_five_whole_sentences_only_when_allowed(truncate):
    """finish_reason "length" after five whole sentences: the cut sixth goes, the story stays
    (truncate_long_stories); without truncation the cut answer is re-asked as truncated."""
    from gendiv.generate.story import story_group
    from gendiv.llm.base import Completion
    from gendiv.llm.collect import answer_text

    p = SimpleNamespace(
        seed=0,
        story_gen=SimpleNamespace(
            topic_subset_sizes=[1], truncate_long_stories=truncate, seed_stories="per_topic", n_seed_stories=1
        ),
    )
    pool = {"topics": ["Cats"], "themes": ["pets"]}
    group = story_group(p, 0, "chat", 1, pool, [{"context": "A b c. D e f. G h i. J k l.", "completion": "M n o."}])
    cut = Completion(FIVE + " Then the dog ran aw", 10, 96, "length")
    if truncate:
        assert group.parse(answer_text(cut, parses_cut=group.parses_cut), 0)["completion"] == "They went out for pie."
    else:
        with pytest.raises(Reject, match="truncated"):
            answer_text(cut, parses_cut=group.parses_cut)
