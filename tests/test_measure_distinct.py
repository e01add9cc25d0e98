"""Distinct-n: hand-computed cases, edge cases, a naive reference and the `diversity` package."""

import importlib.util
import random
from pathlib import Path

import numpy as np
import pytest

from gendiv.measure.distinct import (
    distinct_corpus,
    distinct_per_group,
    make_tokenizer,
    ngram_counts,
    whitespace_tokens,
)


def naive_distinct(token_lists, n):
    """Textbook definition over the concatenation: set of n-gram tuples / number of n-grams."""
    flat = [t for tokens in token_lists for t in tokens]
    grams = [tuple(flat[i:i + n]) for i in range(len(flat) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def test_hand_computed_story_case():
    # "the cat sat . the cat ran ." -> 8 tokens
    tokens = [whitespace_tokens("The cat sat."), whitespace_tokens("The cat ran.")]
    assert tokens[0] == ["the", "cat", "sat", "."]
    d = distinct_corpus(tokens, 5)
    assert d[1] == pytest.approx(5 / 8)   # the, cat, sat, ., ran
    assert d[2] == pytest.approx(6 / 7)   # "the cat" twice, the rest once (". the" spans samples)
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
