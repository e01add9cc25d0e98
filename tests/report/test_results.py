"""Paired loss comparisons: estimates equal the plain losses, standard errors match a bootstrap
over test examples, and widen with seed-to-seed noise and with QA documents as clusters."""

import math
import shutil

import numpy as np
import pandas as pd
import pytest

from gendiv.config import validate
from gendiv.io import read_jsonl, write_json
from gendiv.prepare import real as prepare_real
from gendiv.report import results
from gendiv.report.stats import Estimate, Verdict, judge
from gendiv.train.runs import examples_path


def _scores(nll, tokens, ids=None, clusters=None):
    ids = ids or tuple(f"t{i}" for i in range(len(tokens)))
    nll = np.atleast_2d(np.asarray(nll, float))
    return results.ExampleScores(tuple(ids), nll, np.asarray(tokens, float), tuple(clusters or ids))


@pytest.fixture
def runs():
    rng = np.random.default_rng(1)
    tokens = rng.integers(3, 20, 400).astype(float)
    hard = rng.gamma(2.0, 1.0, 400)  # per-token difficulty shared by every run
    return tokens, [
        _scores(tokens * (hard + shift + rng.normal(0, 0.3, 400)), tokens) for shift in (0.0, 0.05, 0.1, 0.2)
    ]


def test_difference_is_the_difference_of_losses_and_its_se_matches_a_bootstrap(runs):
    tokens, (a, b, *_) = runs
    diff = results.loss_difference(b, a)
    assert diff.value == pytest.approx(b.loss - a.loss, abs=1e-12) and diff.seeds == 1
    rng = np.random.default_rng(2)
    boot = []
    for _ in range(2000):
        i = rng.integers(0, len(tokens), len(tokens))
        boot.append(b.nll[i].sum() / tokens[i].sum() - a.nll[i].sum() / tokens[i].sum())
    assert diff.se == pytest.approx(np.std(boot), rel=0.1)
    unpaired = np.hypot(results.loss_contrast([a], [1.0]).se, results.loss_contrast([b], [1.0]).se)
    assert diff.se < unpaired / 3  # pairing removes the shared difficulty of the examples


def test_slope_equals_least_squares_fit_of_the_losses(runs):
    _, scores = runs
    xs = [0, 1, 2, 4]
    slope = results.loss_slope(xs, scores)
    assert slope.value == pytest.approx(np.polyfit(xs, [s.loss for s in scores], 1)[0], abs=1e-12)
    assert 0 < slope.se < slope.value / 2


def test_seed_noise_enters_the_standard_error_and_can_undo_a_verdict():
    """Two sets, three seeds each, on 400 examples: the test examples alone make +0.05 nats clear,
    but each run's loss moves by ~0.05 around its set's mean; counted, the contrast is inconclusive."""
    rng = np.random.default_rng(3)
    tokens = np.full(400, 10.0)
    hard = rng.gamma(2.0, 1.0, 400)
    shifts = {"a": [0.0, 0.06, -0.06], "b": [0.05 + 0.07, 0.05 - 0.01, 0.05 - 0.06]}
    sets = {k: _scores([tokens * (hard + s + rng.normal(0, 0.05, 400)) for s in v], tokens) for k, v in shifts.items()}
    est = results.loss_difference(sets["b"], sets["a"])
    test_only = results.loss_difference(*(_scores(s.nll, tokens) for s in (sets["b"], sets["a"])))
    assert est.value == pytest.approx(test_only.value) and est.seeds == 3
    pooled = sum(((s.seed_losses - s.seed_losses.mean()) ** 2).sum() for s in sets.values()) / 4
    assert est.se == pytest.approx(math.sqrt(test_only.se**2 + pooled * (1 / 3 + 1 / 3)))
    assert est.seed_se == pytest.approx(math.sqrt(pooled * 2 / 3)) and est.test_se**2 + est.seed_se**2 == pytest.approx(
        est.se**2
    )
    assert "from seeds" in est.text("nats") and test_only.seed_se is None  # one seed: unmeasured, not zero
    assert "from seeds" not in test_only.text("nats")
    assert judge(Estimate(test_only.value, test_only.se, seeds=3), +1) is Verdict.REPRODUCED
    assert judge(est, +1) is Verdict.INCONCLUSIVE


def test_qa_standard_errors_are_clustered_by_document(tmp_path):
    """4 documents x 8 questions whose difference moves with the document: the clustered s.e. is
    far wider than one that treats the 32 questions as independent."""
    rng = np.random.default_rng(4)
    doc_effect = np.repeat(rng.normal(0, 0.3, 4), 8)
    ids = [f"doc{d}-{k}" for d in range(4) for k in range(8)]
    for name, nll in (("real", 2.0 + rng.normal(0, 0.02, 32)), ("d0", 2.1 + doc_effect + rng.normal(0, 0.02, 32))):
        for task in ("qa", "story"):
            write_json(tmp_path / examples_path(task, name, 0), {"id": ids, "nll": list(nll), "tokens": [1] * 32})
    qa = results.loss_difference(*(results.example_scores(tmp_path, "qa", n, [0]) for n in ("d0", "real")))
    flat = results.loss_difference(*(results.example_scores(tmp_path, "story", n, [0]) for n in ("d0", "real")))
    assert qa.value == pytest.approx(flat.value)
    assert qa.se > 2.5 * flat.se
    docs = np.array([np.mean(doc_effect[8 * d : 8 * d + 8]) for d in range(4)])  # the per-document means
    assert qa.se == pytest.approx(np.std(docs, ddof=1) / 2, rel=0.1)


def test_qa_example_ids_name_their_document(raw_params, repo, tmp_path):
    """document_of relies on prepare_real's id scheme '{document_id}-{k}'."""
    shutil.copytree(repo / "data/bundled", tmp_path / "data/bundled")
    prepare_real.run(validate(raw_params, root=repo), "qa", tmp_path)
    rows = read_jsonl(tmp_path / "data/real/qa/test.jsonl")
    assert rows and all(results.document_of("qa", r["id"]) == r["document_id"] for r in rows)
    assert results.document_of("story", "a-b-c") == "a-b-c"


def test_runs_on_different_examples_cannot_be_paired():
    a = _scores([1.0, 2.0], [1, 2])
    with pytest.raises(ValueError, match="different test examples"):
        results.loss_difference(a, _scores([1.0, 2.0], [1, 3]))
    with pytest.raises(ValueError, match="different test examples"):
        results.loss_difference(a, _scores([1.0, 2.0], [1, 2], ids=("x", "y")))


def test_example_scores_keep_every_seed_of_a_set(tmp_path):
    for seed, nll in ((0, [2.0, 4.0]), (1, [4.0, 8.0])):
        write_json(tmp_path / examples_path("qa", "d1", seed), {"id": ["a", "b"], "nll": nll, "tokens": [1, 2]})
    got = results.example_scores(tmp_path, "qa", "d1", [0, 1])
    assert list(got.nll) == [3.0, 6.0] and got.loss == pytest.approx(9.0 / 3) and got.seeds == 2
    assert list(got.seed_losses) == pytest.approx([2.0, 4.0])
    assert results.example_scores(tmp_path, "qa", "d2", [0, 1]) is None
    assert list(results.example_scores(tmp_path, "qa", "d1", [1]).nll) == [4.0, 8.0]  # only the asked seeds
    write_json(tmp_path / examples_path("qa", "d1", 2), {"id": ["a", "b"], "nll": [1, 1], "tokens": [2, 2]})
    with pytest.raises(ValueError, match="different test examples"):
        results.example_scores(tmp_path, "qa", "d1", [0, 2])


def test_loss_summary_leaves_seed_std_unmeasured_for_one_run_and_keeps_steps():
    runs = pd.DataFrame(
        [
            {"task": "qa", "dataset": "d0", "seed": 0, "test_loss": 2.0, "steps": 24},
            {"task": "qa", "dataset": "d0", "seed": 1, "test_loss": 2.2, "steps": 26},
            {"task": "qa", "dataset": "real", "seed": 0, "test_loss": 1.9, "steps": 24},
        ]
    )
    out = results.loss_summary(runs).set_index("dataset")
    assert out.loc["d0", "std"] == pytest.approx(np.std([2.0, 2.2], ddof=1))
    assert math.isnan(out.loc["real", "std"])
    assert (out.loc["d0", "steps_min"], out.loc["d0", "steps_max"], out.loc["real", "steps_max"]) == (24, 26, 24)
