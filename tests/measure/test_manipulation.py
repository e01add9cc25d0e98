"""The manipulation check on tiny constructed sets: equal counts, jackknife s.e., topics, QA."""

import numpy as np
import pytest

from gendiv.errors import UserError
from gendiv.measure import manipulation
from gendiv.measure.distinct import distinct_per_group, whitespace_tokens
from gendiv.measure.manipulation import (
    SUBSAMPLES,
    Topics,
    compute,
    draws,
    jackknife_se,
    near_duplicate_share,
    repetition_shares,
)


def _seed_of(name):
    return len(name)


def _unit(x):
    x = np.asarray(x, float)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _stories(n, words="a b c d e f g h"):
    pool = words.split()
    return [
        {
            "id": str(i),
            "context": " ".join(pool[(i + k) % len(pool)] for k in range(4)),
            "completion": pool[i % len(pool)],
        }
        for i in range(n)
    ]


def _vectors(n, dim=6, seed=0):
    return _unit(np.random.default_rng(seed).normal(size=(n, dim)))


def test_every_set_is_measured_at_the_smallest_count_averaging_seeded_draws():
    rows = {"real": _stories(5), "d0": _stories(12), "real_test": _stories(9)}
    vectors = {name: _vectors(len(r), seed=len(r)) for name, r in rows.items()}
    got = compute("story", rows, vectors, whitespace_tokens, cap=100, seed_of=_seed_of)
    assert got["n_per_set"] == 5 and got["subsamples"] == SUBSAMPLES
    assert {m["n"] for s in got["sets"].values() for m in s.values()} == {5}
    # the larger set's value is the mean over its seeded draws of 5 rows
    picks = draws(12, 5, _seed_of("d0"))
    assert len(picks) == SUBSAMPLES and all(list(p) == sorted(set(p)) and len(p) == 5 for p in picks)
    expected = np.mean([manipulation.distances.vendi_score(vectors["d0"][p]) for p in picks])
    assert got["sets"]["d0"]["vendi"]["value"] == pytest.approx(expected, rel=1e-12)
    assert len(draws(5, 5, 0)) == 1 and draws(5, 5, 0)[0].tolist() == [0, 1, 2, 3, 4]
    assert compute("story", rows, vectors, whitespace_tokens, cap=100, seed_of=_seed_of) == got  # seeded
    assert compute("story", rows, vectors, whitespace_tokens, cap=4, seed_of=_seed_of)["n_per_set"] == 4
    with pytest.raises(UserError, match="real: 2 rows"):
        compute(
            "story", {**rows, "real": _stories(2)}, {**vectors, "real": _vectors(2)}, whitespace_tokens, 100, _seed_of
        )


def test_jackknife_se_of_a_mean_is_the_textbook_standard_error():
    x = np.array([1.0, 4.0, 2.0, 8.0, 5.0])
    leave_one_out = [np.delete(x, i).mean() for i in range(len(x))]
    assert jackknife_se(leave_one_out) == pytest.approx(x.std(ddof=1) / np.sqrt(len(x)), rel=1e-12)
    assert jackknife_se([0.5]) is None and jackknife_se([0.5, float("nan")]) is None


def test_topic_adherence_on_constructed_embeddings():
    topics = Topics(["cats", "rain", "ships", "cats"], np.eye(4, 6))  # a duplicate topic is dropped, not a tie
    # six stories: 0-2 lean on their own topic's axis; 3-5 lean on another topic (their own comes second)
    own = ["cats", "rain", "ships", "cats", "rain", "ships"]
    lean = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.2, 1, 0], [0.5, 0.2, 1], [0.1, 1, 0.5]]
    x = _unit([[*v, 0.0, 0.3, 0.0] for v in lean])
    rows = [{**r, "topic": t} for r, t in zip(_stories(6), own)]
    got = compute("story", {"d1": rows}, {"d1": x}, whitespace_tokens, 100, _seed_of, topics)["sets"]["d1"]
    assert got["topic_adherence"]["value"] == pytest.approx(0.5)
    # story 3: rain > cats; story 4: ships > cats > rain (rank 3); story 5: rain > ships
    assert got["topic_rank_mrr"]["value"] == pytest.approx((3 + 1 / 2 + 1 / 3 + 1 / 2) / 6)
    # a share of 3 in 6: the delete-one jackknife gives sqrt(p (1 - p) / (n - 1))
    assert got["topic_adherence"]["se"] == pytest.approx(np.sqrt(0.25 / 5), rel=1e-12)
    assert got["topics_used"] == {"value": 3, "se": 0.0, "n": 6}
    with pytest.raises(UserError, match="'boats' is not in the topic pool"):
        compute(
            "story",
            {"d1": [*rows[:5], {**rows[5], "topic": "boats"}]},
            {"d1": x},
            whitespace_tokens,
            100,
            _seed_of,
            topics,
        )


def _qa(doc, question, answer, kind="real"):
    row = {"id": f"{doc}-{question}", "document_id": doc, "context": "c", "question": question, "answer": answer}
    return {**row, "kind": kind, "generator": "" if kind == "real" else "g"}


def test_qa_standard_errors_are_clustered_by_document():
    # doc A: all paraphrases (real answers), doc B: none, doc C: one of two
    rows = [
        _qa("A", "who is he", "tom", "paraphrase"),
        _qa("A", "who was he", "tom", "paraphrase"),
        _qa("B", "where is it", "rome", "generated"),
        _qa("B", "when did it", "may", "generated"),
        _qa("C", "what is it", "a cup", "paraphrase"),
        _qa("C", "why now", "rain", "generated"),
    ]
    x = _vectors(6)
    got = compute("qa", {"d3": rows}, {"d3": x}, whitespace_tokens, 100, _seed_of)["sets"]["d3"]
    share = got["real_answer_share"]
    assert share["value"] == pytest.approx(0.5)
    leave_doc_out = [0.25, 0.75, 0.5]  # without A, B, C
    assert share["se"] == pytest.approx(jackknife_se(leave_doc_out), rel=1e-12)
    assert share["se"] != pytest.approx(np.std([1, 1, 0, 0, 1, 0], ddof=1) / np.sqrt(6))  # not per row
    # Distinct-n: per document, averaged over documents (the document count does not scale it)
    per_doc = distinct_per_group(
        [whitespace_tokens(f"{r['question']} {r['answer']}") for r in rows], [r["document_id"] for r in rows], 5
    )
    assert got["distinct_2"]["value"] == pytest.approx(per_doc[2].mean(), rel=1e-12)
    real = compute(
        "qa",
        {"real": [_qa("A", "q", "a"), _qa("A", "r", "b"), _qa("B", "s", "c")]},
        {"real": _vectors(3)},
        whitespace_tokens,
        100,
        _seed_of,
    )["sets"]["real"]
    assert real["real_answer_share"]["value"] == 1.0
    assert real["real_answer_share"]["se"] == 0.0


def test_near_duplicates_count_only_within_a_document():
    x = _unit([[1, 0, 0], [0.95, 0.31, 0], [1, 0, 0], [0, 0, 1]])
    docs = np.array(["A", "A", "B", "B"], dtype=object)
    # rows 0 and 1 (cosine 0.95) are near duplicates; row 2 equals row 0 but in another document
    assert near_duplicate_share(x, docs) == pytest.approx(0.5)
    assert near_duplicate_share(_unit([[1, 0], [0.8, 0.6]]), np.array(["A", "A"], dtype=object)) == 0.0


def test_repetition_is_the_share_of_repeated_bigrams_inside_one_sample():
    shares = repetition_shares([["a", "b", "a", "b"], ["a", "b", "c"], ["a"]])
    np.testing.assert_allclose(shares, [1 / 3, 0.0, 0.0])  # ab ba ab: one repeat; a sample's own n-grams only
