"""The one significance rule behind every verdict of the report, and the estimators it is fed.

A claim is reduced to ONE estimate in its own units (a loss contrast in nats, a change of a
diversity measure, of a length in words) with a standard error that carries every source of
noise the estimate has: test examples (clustered by document for QA) and training seeds for
losses (see gendiv.report.results.loss_contrast), samples (clustered by document for QA) for
properties of a data set. `judge` then applies a two-sided z-test at alpha 0.05; the smallest
effect the test could detect with 80% power, (1.96 + 0.84) x s.e., is stated with every
verdict. An inconclusive verdict reads "no effect larger than X" with X the far end of the 95%
confidence interval (|estimate| + 1.96 s.e.: what the data rule out), beside that detectable
size (what the design could find). A standard error needs replicates to measure its noise: a
loss claim whose runs have a single seed, or a data claim whose jackknife has fewer than
MIN_CLUSTERS clusters (QA documents), is an indication, never a reproduction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np
from scipy.stats import spearmanr

Z_ALPHA = 1.96  # two-sided test at alpha = 0.05
Z_POWER = 0.84  # power 0.80
MDE_FACTOR = Z_ALPHA + Z_POWER
# A delete-one-cluster jackknife over G clusters has G - 1 degrees of freedom: at 3 clusters the
# 1.96 threshold is crossed by chance ~19% of the time (t with 2 df), not 5%; from 5 on, <= 12%.
MIN_CLUSTERS = 5


# which way an indication's data lean (by `direction`); neither way is worded by the caller
LEAN = {1: "for the claim", -1: "against the claim"}


class Verdict(str, Enum):
    REPRODUCED = "reproduced"
    NOT_REPRODUCED = "not reproduced"
    INCONCLUSIVE = "inconclusive"
    INDICATION = "indication"
    MANIPULATION_FAILED = "manipulation failed"
    NOT_RUN = "not run at this scale"
    NOT_JUDGED = "not judged"


@dataclass(frozen=True)
class Estimate:
    """A claim's effect, its standard error and the fewest training seeds behind it.

    seeds is None for properties of data sets (no training run involved). A loss contrast also
    keeps the two parts of its error, se^2 = test_se^2 + seed_se^2 (test examples, training
    seeds), so each verdict says which noise limits it.
    """

    value: float
    se: float
    seeds: int | None = None
    test_se: float | None = None
    seed_se: float | None = None
    clusters: int | None = None  # independent units of a data claim's jackknife (None: many)

    @property
    def mde(self) -> float:
        """Smallest true effect the test detects with 80% power (alpha 0.05, two-sided)."""
        return MDE_FACTOR * self.se

    @property
    def ruled_out(self) -> float:
        """Effects larger than this (either sign) lie outside the 95% confidence interval."""
        return abs(self.value) + Z_ALPHA * self.se

    @property
    def too_few_replicates(self) -> str | None:
        """What the s.e. rests on ("1 seed", "3 clusters") when that is too few to measure its own
        noise; None when it is enough."""
        if self.seeds is not None and self.seeds < 2:
            return f"{self.seeds} seed"
        if self.clusters is not None and self.clusters < MIN_CLUSTERS:
            return f"{self.clusters} clusters"
        return None

    def scaled(self, factor: float) -> Estimate:
        parts = [None if x is None else x * abs(factor) for x in (self.test_se, self.seed_se)]
        return Estimate(self.value * factor, self.se * abs(factor), self.seeds, *parts, self.clusters)

    def text(self, unit: str, digits: int = 4) -> str:
        parts = ""
        if self.test_se is not None and self.seed_se is not None:
            parts = f" (s.e. from test examples {self.test_se:.{digits}f}, from seeds {self.seed_se:.{digits}f})"
        return (
            f"{self.value:+.{digits}f} ± {self.se:.{digits}f} {unit}{parts}; smallest detectable {self.mde:.{digits}f}"
        )


def direction(est: Estimate, sign: int) -> int:
    """+1: beyond the threshold in the claimed direction `sign`; -1: beyond it the other way; 0: neither."""
    if sign * est.value > Z_ALPHA * est.se:
        return 1
    if -sign * est.value > Z_ALPHA * est.se:
        return -1
    return 0


def judge(est: Estimate, sign: int) -> Verdict:
    """THE rule: a claim that the effect has sign `sign` against its estimate."""
    if not math.isfinite(est.se):
        return Verdict.NOT_JUDGED
    if est.too_few_replicates:
        return Verdict.INDICATION
    return {1: Verdict.REPRODUCED, -1: Verdict.NOT_REPRODUCED, 0: Verdict.INCONCLUSIVE}[direction(est, sign)]


@dataclass
class Finding:
    """One claim of the paper and what the numbers say about it."""

    claim: str
    task: str
    verdict: Verdict
    evidence: str
    estimate: Estimate | None = None
    unit: str = ""
    sign: int = 0

    @property
    def label(self) -> str:
        if self.verdict is Verdict.INCONCLUSIVE:
            est = self.estimate
            return (
                f"inconclusive: no effect larger than {est.ruled_out:.4f} {self.unit} at 95% confidence;"
                f" 80% power at {est.mde:.4f}"
            )
        if self.verdict is Verdict.INDICATION:
            return f"indication ({self.estimate.too_few_replicates}): " + LEAN.get(
                direction(self.estimate, self.sign), "within test noise"
            )
        return self.verdict.value


def finding(claim: str, task: str, est: Estimate, sign: int, unit: str, evidence: str) -> Finding:
    """A claim judged by the rule; the evidence is prefixed with the estimate and its detectable size."""
    note = ""
    if est.seeds == 1:
        note = " Seed-to-seed variance unmeasured (1 seed): the s.e. counts test examples only."
    elif est.too_few_replicates:
        note = f" The s.e. is a jackknife over {est.clusters} clusters only (fewer than {MIN_CLUSTERS})."
    return Finding(claim, task, judge(est, sign), f"{est.text(unit)}. {evidence}{note}", est, unit, sign)


def independent_sum(estimates: list[Estimate], weights: list[float]) -> Estimate:
    """sum_k w_k * estimate_k of estimates from disjoint samples (their errors add in quadrature)."""
    value = sum(w * e.value for w, e in zip(weights, estimates))
    se = math.sqrt(sum((w * e.se) ** 2 for w, e in zip(weights, estimates)))
    seeds = [e.seeds for e in estimates if e.seeds is not None]
    clusters = [e.clusters for e in estimates if e.clusters is not None]
    return Estimate(value, se, min(seeds) if seeds else None, clusters=min(clusters) if clusters else None)


def centred_weights(xs: list[float], span: bool = True) -> list[float]:
    """Weights that turn values at xs into their least-squares slope (times max(xs) - min(xs) when
    `span`: the fitted change across the range, in the values' own units)."""
    x = np.asarray(xs, dtype=np.float64)
    c = x - x.mean()
    scale = float(x.max() - x.min()) if span else 1.0
    return list(c / float(c @ c) * scale)


def cluster_mean(values: list[float], clusters: list[str]) -> Estimate:
    """Mean of per-sample values and its delete-one-cluster jackknife s.e. (clusters: e.g. the QA
    document of each sample; a sample per cluster gives the usual s.d./sqrt(n))."""
    v = np.asarray(values, dtype=np.float64)
    keys = sorted(set(clusters))
    if len(keys) < 2:
        return Estimate(float(v.mean()) if len(v) else math.nan, math.nan)
    index = {k: i for i, k in enumerate(keys)}
    g = np.array([index[c] for c in clusters])
    sums, counts = np.bincount(g, v, len(keys)), np.bincount(g, minlength=len(keys)).astype(np.float64)
    loo = (sums.sum() - sums) / (counts.sum() - counts)
    n = len(keys)
    se = math.sqrt((n - 1) / n * ((loo - loo.mean()) ** 2).sum())
    return Estimate(float(v.mean()), float(se), clusters=n)


def spearman(xs: list[float], ys: list[float]) -> float:
    """Spearman correlation (nan when fewer than three points or a constant series)."""
    if len(xs) < 3 or len(set(ys)) < 2 or len(set(xs)) < 2:
        return math.nan
    return float(spearmanr(xs, ys).statistic)
