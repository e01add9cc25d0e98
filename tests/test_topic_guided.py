"""Story answers: parsing into 4 + 1 sentences, honest rejects, nested topic subsets."""

from __future__ import annotations

import pytest

from gendiv.llm import Reject
from gendiv.topic_guided import parse_story, topic_subset

FIVE = "Ann baked a cake. She burned it badly. Her dog ate the rest. Ann laughed at him. They went out for pie."


def test_five_sentences_split_into_context_and_completion():
    row = parse_story(FIVE, truncate=True)
    assert row == {"context": "Ann baked a cake. She burned it badly. Her dog ate the rest. Ann laughed at him.",
                   "completion": "They went out for pie."}


def test_preamble_lines_and_markdown_are_removed():
    assert parse_story("Title: The Cake\nHere is your story:\n**" + FIVE + "**", truncate=True)["context"].startswith("Ann")


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


@pytest.mark.parametrize("text, reason", [
    ("", "empty"), ("I'm sorry, I can't write that.", "refusal"),
    ("Ann baked a cake. She burned it. Her dog ate it. Ann laughed", "too_few_sentences"),
    ("Ann baked a cake. She burned it badly. Her dog ate the rest. Ann laughed at him. They went", "too_few_sentences"),
    ("Ann baked a cake. Oh no. Her dog ate the rest. Ann laughed at him. They went out for pie.", "sentence_too_short"),
])
def test_rejects_name_their_reason(text, reason):
    with pytest.raises(Reject) as err:
        parse_story(text, truncate=True)
    assert err.value.reason == reason


def test_topic_subsets_are_nested_and_seeded():
    pool = [f"Topic {i}" for i in range(50)]
    small, big = topic_subset(pool, 5, seed=0), topic_subset(pool, 20, seed=0)
    assert big[:5] == small and len(set(big)) == 20
    assert topic_subset(pool, 20, seed=1) != big
