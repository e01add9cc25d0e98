"""The one significance rule: verdicts, the stated smallest detectable effect, and data-measure errors."""

import math

import numpy as np
import pytest

from gendiv.report.stats import (
    MIN_CLUSTERS,
    Estimate,
    Verdict,
    centred_weights,
    cluster_mean,
    finding,
    independent_sum,
    judge,
)


@pytest.mark.parametrize(
    "value, se, seeds, verdict",
    [
        (0.10, 0.04, 3, Verdict.REPRODUCED),
        (-0.10, 0.04, 3, Verdict.NOT_REPRODUCED),
        (0.05, 0.04, 3, Verdict.INCONCLUSIVE),
        (0.10, 0.04, 1, Verdict.INDICATION),  # one seed: training noise unmeasured
        (0.10, 0.04, None, Verdict.REPRODUCED),  # a data measure: no training seed involved
        (0.10, math.nan, 3, Verdict.NOT_JUDGED),
    ],
)
def test_judge(value, se, seeds, verdict):
    assert judge(Estimate(value, se, seeds), +1) is verdict


def test_every_verdict_states_the_smallest_detectable_effect():
    f = finding("c", "story", Estimate(0.01, 0.01, 3), -1, "nats", "note.")
    assert f.verdict is Verdict.INCONCLUSIVE
    assert (
        f.label == "inconclusive: no effect larger than 0.0296 nats at 95% confidence; 80% power at 0.0280"
    )  # 0.01 + 1.96 s.e.
    assert "smallest detectable 0.0280" in f.evidence
    one = finding("c", "story", Estimate(-0.1, 0.01, 1), -1, "nats", "note.")
    assert one.label == "indication (1 seed): for the claim" and "Seed-to-seed variance unmeasured" in one.evidence
    assert finding("c", "qa", Estimate(0.1, 0.01, 1), -1, "nats", "").label == "indication (1 seed): against the claim"


def test_a_jackknife_over_few_clusters_is_an_indication():
    clear = Estimate(1.0, 0.1, clusters=MIN_CLUSTERS)
    assert judge(clear, +1) is Verdict.REPRODUCED
    few = finding("c", "qa", Estimate(1.0, 0.1, clusters=MIN_CLUSTERS - 1), +1, "words", "")
    assert few.verdict is Verdict.INDICATION and few.label == f"indication ({MIN_CLUSTERS - 1} clusters): for the claim"
    pooled = independent_sum([Estimate(1.0, 0.1, clusters=3), Estimate(0.0, 0.1, clusters=8)], [1.0, -1.0])
    assert pooled.clusters == 3 and judge(pooled, +1) is Verdict.INDICATION
    assert cluster_mean([1.0, 2.0, 3.0, 4.0], ["a", "a", "b", "c"]).clusters == 3


def test_cluster_mean_is_the_usual_error_for_single_samples_and_wider_for_clusters():
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 1.0, 40)
    flat = cluster_mean(list(x), [str(i) for i in range(40)])
    assert flat.value == pytest.approx(x.mean()) and flat.se == pytest.approx(x.std(ddof=1) / math.sqrt(40))
    y = x + np.repeat(rng.normal(0, 2.0, 5), 8)  # 5 documents of 8 answers, each document its own length
    clustered = cluster_mean(list(y), [f"doc{i // 8}" for i in range(40)])
    assert clustered.se > 2 * cluster_mean(list(y), [str(i) for i in range(40)]).se
    assert math.isnan(cluster_mean([1.0, 2.0], ["a", "a"]).se)


def test_independent_sum_and_span_weights():
    est = independent_sum([Estimate(2.0, 0.3), Estimate(1.0, 0.4)], [1.0, -1.0])
    assert (est.value, est.se, est.seeds) == (1.0, pytest.approx(0.5), None)
    w = centred_weights([0, 2, 4, 6])
    assert np.dot(w, [1.0, 1.5, 2.0, 2.5]) == pytest.approx(1.5)  # the fitted change from level 0 to 6
    assert np.dot(centred_weights([0, 2, 4, 6], span=False), [1.0, 1.5, 2.0, 2.5]) == pytest.approx(0.25)
