"""Paired loss comparisons: estimates equal the plain losses, standard errors match a bootstrap."""

import numpy as np
import pytest

from gendiv import results
from gendiv.io import write_json
from gendiv.runs import examples_path


def _scores(nll, tokens, ids=None):
    ids = ids or tuple(f"t{i}" for i in range(len(tokens)))
    return results.ExampleScores(tuple(ids), np.asarray(nll, float), np.asarray(tokens, float))


@pytest.fixture
def runs():
    rng = np.random.default_rng(1)
    tokens = rng.integers(3, 20, 400).astype(float)
    hard = rng.gamma(2.0, 1.0, 400)  # per-token difficulty shared by every run
    return tokens, [_scores(tokens * (hard + shift + rng.normal(0, 0.3, 400)), tokens)
                    for shift in (0.0, 0.05, 0.1, 0.2)]


def test_difference_is_the_difference_of_losses_and_its_se_matches_a_bootstrap(runs):
    tokens, (a, b, *_) = runs
    diff, se = results.loss_difference(b, a)
    assert diff == pytest.approx(b.loss - a.loss, abs=1e-12)
    rng = np.random.default_rng(2)
    boot = []
    for _ in range(2000):
        i = rng.integers(0, len(tokens), len(tokens))
        boot.append(b.nll[i].sum() / tokens[i].sum() - a.nll[i].sum() / tokens[i].sum())
    assert se == pytest.approx(np.std(boot), rel=0.1)
    unpaired = np.hypot(results.loss_contrast([a], [1.0])[1], results.loss_contrast([b], [1.0])[1])
    assert se < unpaired / 3  # pairing removes the shared difficulty of the examples


def test_slope_equals_least_squares_fit_of_the_losses(runs):
    _, scores = runs
    xs = [0, 1, 2, 4]
    slope, se = results.loss_slope(xs, scores)
    assert slope == pytest.approx(np.polyfit(xs, [s.loss for s in scores], 1)[0], abs=1e-12)
    assert 0 < se < slope / 2


def test_runs_on_different_examples_cannot_be_paired():
    a = _scores([1.0, 2.0], [1, 2])
    with pytest.raises(ValueError, match="different test examples"):
        results.loss_difference(a, _scores([1.0, 2.0], [1, 3]))
    with pytest.raises(ValueError, match="different test examples"):
        results.loss_difference(a, _scores([1.0, 2.0], [1, 2], ids=("x", "y")))


def test_example_scores_average_the_seeds_of_a_set(tmp_path):
    for seed, nll in ((0, [2.0, 4.0]), (1, [4.0, 8.0])):
        write_json(tmp_path / examples_path("qa", "d1", seed), {"id": ["a", "b"], "nll": nll, "tokens": [1, 2]})
    got = results.example_scores(tmp_path, "qa", "d1", [0, 1])
    assert list(got.nll) == [3.0, 6.0] and got.loss == pytest.approx(9.0 / 3)
    assert results.example_scores(tmp_path, "qa", "d2", [0, 1]) is None
    assert list(results.example_scores(tmp_path, "qa", "d1", [1]).nll) == [4.0, 8.0]  # only the asked seeds
    write_json(tmp_path / examples_path("qa", "d1", 2), {"id": ["a", "b"], "nll": [1, 1], "tokens": [2, 2]})
    with pytest.raises(ValueError, match="different test examples"):
        results.example_scores(tmp_path, "qa", "d1", [0, 2])
