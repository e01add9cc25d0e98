"""QA pool: the parsing of generated pairs and paraphrases, and answers cut by the token cap."""

from __future__ import annotations

import pytest

from gendiv.generate import qa_pool
from gendiv.llm import Reject


def test_parse_pair_takes_the_first_pair():
    text = "Sure!\nQ: Who visited the park?\nA: Tom.\nQ: Where?\nA: Park."
    assert qa_pool.parse_pair(text, []) == {"question": "Who visited the park?", "answer": "Tom."}
    assert qa_pool.parse_pair("Question 1: Who is Abby?\nAnswer 1: A producer.", [])["answer"] == "A producer."


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "empty"),
        ("I cannot do that.", "refusal"),
        ("Who is Abby?", "no_qa_pair"),
        ("Q: Abby\nA: a producer", "not_a_question"),
        ("Q: Who is Abby here?\nA: " + "word " * 40, "answer_length"),
    ],
)
def test_parse_pair_rejects(text, reason):
    with pytest.raises(Reject) as err:
        qa_pool.parse_pair(text, [])
    assert err.value.reason == reason


def test_copied_example_question_is_rejected():
    with pytest.raises(Reject, match="copied_example"):
        qa_pool.parse_pair("Q: Who is Abby?\nA: A producer.", ["who is abby?"])


def test_parse_paraphrase():
    assert (
        qa_pool.parse_paraphrase("Rewritten question: Who exactly is Abby?\nExtra", "Who is Abby?")
        == "Who exactly is Abby?"
    )
    assert (
        qa_pool.parse_paraphrase("Cancel-a-Romantic-Evening: Who must cancel the evening?", "Who is Abby?")
        == "Who must cancel the evening?"
    )
    for text, reason in (
        ("Who is Abby?", "unchanged"),
        ("who is ABBY ?", "unchanged"),
        ("Abby.", "not_a_question"),
        ("Label: Who is Abby?", "unchanged"),
        ("Why is Mary angry with her brother?", "copied_example"),
    ):
        with pytest.raises(Reject, match=reason):
            qa_pool.parse_paraphrase(text, "Who is Abby?")


def test_an_answer_cut_after_its_first_whole_pair_or_line_is_kept():
    """The model often goes on past the first pair until the token cap: the pair is still whole;
    a pair whose answer line the cap cut is re-asked as truncated."""
    from gendiv.llm.base import Completion
    from gendiv.llm.collect import Group, answer_text

    group = Group("g", 1, None, lambda text, _i: qa_pool.parse_pair(text, []), whole_lines=True)
    whole = Completion("Q: Who found the dog?\nA: Ann did.\nQ: Where was the", 10, 96, "length")
    assert group.parse(answer_text(whole, group.whole_lines, group.parses_cut), 0)["answer"] == "Ann did."
    cut = Completion("Q: Who found the dog?\nA: Ann and her bro", 10, 96, "length")
    with pytest.raises(Reject):
        group.parse(answer_text(cut, group.whole_lines, group.parses_cut), 0)


def _outcome(parse, text: str):
    try:
        return parse(text)
    except Reject as rej:
        return rej.reason


PAIR_ANSWERS = (
    "Sure!\nQ: Who visited the park?\nA: Tom.\nQ: Where?\nA: Park.",
    " Q: Who is Abby?\nA:\n A producer of films.\nQ: What",
    "**Q:** Who runs the mill?\n**A:** The miller.\n\nQ: Why",
    "q: what is it?\nand more\nQ: Who came home late?\nA: Ann did.\nQ:",
    "Question 1: Who is Abby?\nAnswer 1: A producer.\nQuestion 2: Wh",
    "Who is Abby?\nShe is\nA: nobody\nQ: x",
    "Q: Abby\nA: a producer\nQ: Who is she really?\nA: Nobody.\n",
    "Q: Who is Abby?\nA: \nA producer.\nQ:",  # a blank answer line is not the answer yet
    "Q: Who is Abby?\r\nA:\r\nA producer.\r\nQ:",
    "Q: \nA: Who is Abby?\nA: a producer\nQ:",
)
PARAPHRASES = (
    " Who exactly is Abby?\nQuestion: Who is",
    "\n\nRewritten question: What made Mary cross?\nmore",
    "**\nWho exactly is Abby?\nmore",  # no line left once "**" goes: not a question, either way
    "Abby",
)


@pytest.mark.parametrize(
    "complete, parse, texts, unfinished",  # one text of each list never completes
    [
        (qa_pool.pair_complete, lambda t: qa_pool.parse_pair(t, []), PAIR_ANSWERS, "Q: Who is Abby?\nA: A produc"),
        (
            qa_pool.first_line_complete,
            lambda t: qa_pool.parse_paraphrase(t, "Who is Abby?"),
            PARAPHRASES,
            "\n Who is Ab",
        ),
    ],
)
def test_generation_stopped_where_an_answer_is_complete_parses_as_the_whole_answer(complete, parse, texts, unfinished):
    """The hf backend stops a row once `complete` holds: from then on, longer text (up to the cap,
    which drops its cut last line) must parse to the same value or the same reject. (One case
    differs, on the safe side: a capped answer whose pair is followed by whitespace only lost
    its answer line to the cut and was re-asked; stopped, it is accepted.)"""
    from gendiv.llm.base import Completion
    from gendiv.llm.collect import answer_text

    stopped_early = 0
    for text in texts:
        capped = _outcome(lambda t: parse(answer_text(Completion(t, 1, 96, "length"), whole_lines=True)), text)
        first = next((k for k in range(len(text) + 1) if complete(text[:k])), None)
        if first is None:
            continue
        stopped_early += first < len(text)
        for k in range(first, len(text) + 1):
            assert complete(text[:k]), (text, k)  # once complete, it stays complete
            assert _outcome(parse, text[:k]) == capped, (text, k)
    assert stopped_early == len(texts) - 1
    assert not complete(unfinished)
