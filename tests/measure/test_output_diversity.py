"""Output diversity measures: hand-checkable cases and the intra/inter aggregation."""

from __future__ import annotations

import numpy as np
import pytest

from gendiv.measure.output_diversity import (
    OUT_DIR,
    embedding_spread,
    first_sentence,
    output_metrics,
    outputs_file,
    self_bleu,
)


def test_self_bleu_is_one_for_copies_and_low_for_unrelated_texts():
    same = ["the cat sat on the mat today", "the cat sat on the mat today", "the cat sat on the mat today"]
    assert self_bleu(same) == pytest.approx(1.0)
    different = ["the cat sat on the mat today", "a storm hit our small town hard", "she won every race last year"]
    assert self_bleu(different) < 0.1
    with pytest.raises(ValueError):
        self_bleu(["alone"])


def test_embedding_spread_is_mean_pairwise_cosine_distance():
    assert embedding_spread(np.array([[1.0, 0.0], [2.0, 0.0]])) == pytest.approx(0.0)
    # pairs: (x, y) orthogonal = 1, (x, -x) opposite = 2, (y, -x) orthogonal = 1 -> mean 4/3
    assert embedding_spread(np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])) == pytest.approx(4 / 3)


def test_outputs_file_names_the_seed_of_fine_tuned_models_only():
    assert outputs_file("real", 2) == OUT_DIR / "real_s2.jsonl"
    assert outputs_file("base", 2) == outputs_file("base", 0) == OUT_DIR / "base.jsonl"  # the base model samples once


def test_first_sentence_of_a_continuation():
    assert first_sentence(" He went home. Then he slept.\nStory 2: ...") == "He went home."
    assert first_sentence("\n") == ""
    assert first_sentence("no end mark") == "no end mark"


def test_intra_averages_prompts_and_inter_uses_the_first_sample_of_each():
    outputs = [["a b c", "a b c"], ["d e f", "g h i"]]  # prompt 0 collapsed, prompt 1 diverse
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    m = output_metrics(outputs, vectors, max_n=2)
    assert m["per_prompt"]["distinct_1"] == [0.5, 1.0]
    assert m["intra"]["distinct_1"] == pytest.approx(0.75)
    assert m["intra"]["distinct_1_se"] == pytest.approx(np.std([0.5, 1.0], ddof=1) / np.sqrt(2))
    assert m["per_prompt"]["embedding_spread"] == pytest.approx([0.0, 1.0])
    assert m["inter"]["distinct_1"] == 1.0  # "a b c" and "d e f"
    assert m["inter"]["embedding_spread"] == pytest.approx(1.0)
    bleu = m["per_prompt"]["self_bleu"]
    assert bleu[0] == pytest.approx(1.0) and bleu[1] < 0.5
