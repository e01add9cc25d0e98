"""Distinct-n and its tokenizers: hand-computed and edge cases, naive references, the `diversity` package."""

import importlib.util
import random
from pathlib import Path

import numpy as np
import pytest

from gendiv.measure import distinct
from gendiv.measure.distinct import (
    distinct_corpus,
    distinct_per_group,
    make_tokenizer,
    ngram_counts,
    whitespace_token_ids,
    whitespace_tokens,
)


def naive_distinct(token_lists, n):
    """Textbook definition over the concatenation: set of n-gram tuples / number of n-grams."""
    flat = [t for tokens in token_lists for t in tokens]
    grams = [tuple(flat[i : i + n]) for i in range(len(flat) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def test_hand_computed_story_case():
    # "the cat sat . the cat ran ." -> 8 tokens
    tokens = [whitespace_tokens("The cat sat."), whitespace_tokens("The cat ran.")]
    assert tokens[0] == ["the", "cat", "sat", "."]
    d = distinct_corpus(tokens, 5)
    assert d[1] == pytest.approx(5 / 8)  # the, cat, sat, ., ran
    assert d[2] == pytest.approx(6 / 7)  # "the cat" twice, the rest once (". the" spans samples)
    assert d[3] == pytest.approx(6 / 6)
    assert d[4] == pytest.approx(5 / 5)
    assert d[5] == pytest.approx(4 / 4)


def test_repetition_lowers_distinct():
    d = distinct_corpus([["a", "b"] * 10], 3)
    assert d == {1: pytest.approx(2 / 20), 2: pytest.approx(2 / 19), 3: pytest.approx(2 / 18)}


def test_short_documents_and_empty_sets_are_defined():
    assert distinct_corpus([], 5) == {n: 0.0 for n in range(1, 6)}
    assert distinct_corpus([[], []], 2) == {1: 0.0, 2: 0.0}
    # two tokens: one bigram, no trigram at all -> 0.0, not an error or NaN
    assert distinct_corpus([["x", "y"]], 3) == {1: 1.0, 2: 1.0, 3: 0.0}
    with pytest.raises(ValueError, match="max_n"):
        distinct_corpus([["x"]], 0)


def test_qa_groups_do_not_share_ngrams_and_short_groups_count_zero():
    texts = [["a", "b"], ["z"], ["c", "c", "c"], ["a", "b"]]
    per = distinct_per_group(texts, ["doc1", "doc2", "doc1", "doc3"], 3)
    # doc1 = a b c c c ; doc2 = z ; doc3 = a b   (groups in order of first sight)
    np.testing.assert_allclose(per[1], [3 / 5, 1.0, 1.0])
    np.testing.assert_allclose(per[2], [3 / 4, 0.0, 1.0])
    np.testing.assert_allclose(per[3], [3 / 3, 0.0, 0.0])
    counts = ngram_counts(texts, [0, 1, 0, 2], 2)
    np.testing.assert_array_equal(counts[2][1], [4, 0, 1])  # no bigram crosses a group boundary


@pytest.mark.parametrize("seed", range(6))
def test_matches_naive_implementation_on_random_text(seed):
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(rng.choice([2, 5, 40]))]
    texts = [[rng.choice(vocab) for _ in range(rng.randint(0, 12))] for _ in range(rng.randint(1, 40))]
    got = distinct_corpus(texts, 6)
    for n in range(1, 7):
        assert got[n] == pytest.approx(naive_distinct(texts, n), abs=1e-12)
    groups = [rng.randint(0, 4) for _ in texts]
    ids = sorted(set(groups), key=groups.index)
    per = distinct_per_group(texts, groups, 4)
    for g_index, g in enumerate(ids):
        members = [t for t, gg in zip(texts, groups) if gg == g]
        for n in range(1, 5):
            assert per[n][g_index] == pytest.approx(naive_distinct(members, n), abs=1e-12)


def first_sight_ids(token_lists):
    """Token ids numbered in order of first sight, end to end, and tokens per text."""
    vocab = {}
    ids = [vocab.setdefault(t, len(vocab)) for tokens in token_lists for t in tokens]
    return ids, [len(tokens) for tokens in token_lists]


TRICKY_TEXTS = [
    "The cat sat.",
    "",
    "   ",
    "don't stop__ now: 3.14, ok?!",
    "tab\tnew\nline\x1cfile\x0bsep",
    "Ünïcödé café — «quoted» naïve",
    "ΣΊΣΥΦΟΣ ΟΔΟΣ.",
    "İstanbul",
    "e\u0301 combining",
    "中文，标点。",
    "emoji 😀👍🏽 ok",
    "nbsp\xa0here\u2003em",
    "lone \ud800 surrogate",
    "x",
    "²³ ½ Ⅻ ٣",
]


@pytest.mark.parametrize("texts", [TRICKY_TEXTS, [t for t in TRICKY_TEXTS if t.isascii()]], ids=["unicode", "ascii"])
def test_vectorised_tokenizer_matches_whitespace_tokens(texts):
    got = whitespace_token_ids(texts)
    ids, lengths = first_sight_ids([whitespace_tokens(t) for t in texts])
    np.testing.assert_array_equal(got.ids, ids)
    np.testing.assert_array_equal(got.lengths, lengths)


@pytest.mark.parametrize("seed", range(4))
def test_vectorised_tokenizer_on_random_text(seed, monkeypatch):
    monkeypatch.setattr(distinct, "_CHUNK_CHARS", [1 << 18, 40, 7, 1][seed])  # texts split in chunks
    rng = random.Random(seed)
    alphabet = "aAbB_9 .,'\n\té€Σς中😀\xa0"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(50)]
    got = whitespace_token_ids(texts)
    token_lists = [whitespace_tokens(t) for t in texts]
    ids, lengths = first_sight_ids(token_lists)
    np.testing.assert_array_equal(got.ids, ids)
    np.testing.assert_array_equal(got.lengths, lengths)
    groups = [rng.randint(0, 5) for _ in texts]
    for n, (unique, total) in ngram_counts(got, groups, 4).items():
        expected = ngram_counts(token_lists, groups, 4)[n]
        np.testing.assert_array_equal(unique, expected[0])
        np.testing.assert_array_equal(total, expected[1])


def test_large_corpora_wide_vocabularies_and_many_groups():
    rng = np.random.default_rng(0)
    # n-gram starts over several sort buckets; ids beyond 16 bits (two radix keys a token)
    wide = [rng.integers(0, 100_000, size=rng.integers(0, 60)).tolist() for _ in range(4000)]
    # two tokens: most n-grams repeat, and some buckets stay empty
    narrow = [rng.integers(0, 2, size=50).tolist() for _ in range(4000)]
    for texts in (wide, narrow):
        got = distinct_corpus(texts, 5)
        for n in range(1, 6):
            assert got[n] == pytest.approx(naive_distinct(texts, n), abs=1e-12)
    # more than 2**16 groups (two radix keys a group), in no particular order
    texts = [rng.integers(0, 30, size=rng.integers(0, 4)).tolist() for _ in range(90_000)]
    groups = rng.integers(0, 70_000, size=len(texts))
    members = {}
    for tokens, g in zip(texts, groups):
        members.setdefault(g, []).append(tokens)
    counts = ngram_counts(texts, groups, 3)
    for n in range(1, 4):
        unique = np.zeros(groups.max() + 1, np.int64)
        for g, texts_of_g in members.items():
            flat = [t for tokens in texts_of_g for t in tokens]
            unique[g] = len({tuple(flat[i : i + n]) for i in range(len(flat) - n + 1)})
        np.testing.assert_array_equal(counts[n][0], unique)


def test_integer_tokens_from_a_model_tokenizer_work_like_strings():
    words = [["a", "b", "a", "c", "a", "b"]]
    as_ints = [[{"a": 7, "b": 900, "c": 3}[w] for w in words[0]]]
    assert distinct_corpus(words, 4) == distinct_corpus(as_ints, 4)


def test_model_tokenizer_gives_token_ids(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1, "world": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(tmp_path)
    tokenize = make_tokenizer("model", str(tmp_path))
    assert tokenize("hello world hello") == [1, 2, 1]
    with pytest.raises(ValueError, match="measure.tokenizer"):
        make_tokenizer("bpe")


def _diversity_ngram_module():
    """The `diversity` package's n-gram module alone: its __init__ imports spacy."""
    spec = importlib.util.find_spec("diversity")
    if spec is None:
        pytest.skip("the `diversity` package is not installed (pip install --no-deps diversity==0.2.2 nltk)")
    path = Path(next(iter(spec.submodule_search_locations))) / "ngram_diversity.py"
    module_spec = importlib.util.spec_from_file_location("diversity_ngram_check", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    module.round = lambda x, ndigits=None: x  # its score is rounded to 3 digits; compare exactly
    return module


def test_cross_check_against_the_diversity_package():
    reference = _diversity_ngram_module()
    rng = random.Random(1)
    vocab = ["tom", "went", "to", "the", "store", ".", "he", "bought", "milk", "she", "was", "happy"]
    stories = [" ".join(rng.choice(vocab) for _ in range(rng.randint(3, 15))) for _ in range(60)]
    tokens = [s.split(" ") for s in stories]  # the package splits the joined text on spaces
    ours = distinct_corpus(tokens, 5)
    previous = 0.0
    for n in range(1, 6):
        cumulative = reference.ngram_diversity_score(stories, n)  # sum of distinct-1..n
        assert ours[n] == pytest.approx(cumulative - previous, abs=1e-12)
        previous = cumulative
