"""The manipulation check: does diversity actually rise with the Gen-D level? (issue 12)

Real train, every Gen-D level and the real test set are measured at one sample count n
(`n_per_set`: the smallest of these sets, at most `measure.score_samples`), because
Distinct-n, Vendi and the rest all move with how many samples they see. A set with more
than n rows is measured on SUBSAMPLES seeded draws of n rows and the values averaged.

Measures (each {"value", "se", "n"}):
  distinct_2/3/5          Distinct-n of the samples' text (story: one concatenation; QA: per
                          document, averaged over documents, so the document count does not
                          scale it as the summed paper aggregate does)
  vendi                   Vendi score of the sample embeddings (cosine kernel)
  mean_pairwise_distance  mean 1 - cosine over pairs of samples
  repetition              mean over samples of the share of repeated 2-grams inside one sample
  story, generated sets:  topics_used (distinct topics among all rows, se 0), topic_adherence
                          (share of stories whose embedding is nearer their own topic's than
                          any other topic of the pool; chance = 1 / pool size), topic_rank_mrr
                          (mean reciprocal rank of the own topic among the pool)
  qa:                     real_answer_share (rows whose answer is a real one: real rows and
                          paraphrase rows), near_duplicate_share (rows whose nearest other row
                          of the same document has cosine >= NEAR_DUPLICATE_COSINE; a QA row's
                          embedding is of question + answer, as for every embedding measure)
"se" is a delete-one-group jackknife standard error of the measure at n samples, taken on
the first draw: groups are samples (story) or documents (QA: clustered), merged into at most
MAX_GROUPS groups; None where fewer than two groups leave a defined value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gendiv.errors import UserError
from gendiv.measure import distances, distinct
from gendiv.measure.embeddings import sample_text
from gendiv.measure.sets import REAL_TEST, carries_real_answer

SUBSAMPLES = 20
MAX_GROUPS = 50
NEAR_DUPLICATE_COSINE = 0.9
DISTINCT_NS = (2, 3, 5)


def set_names(levels: list[int]) -> list[str]:
    """The compared sets: real train, every Gen-D level, and real test (a real reference)."""
    return ["real", *[f"d{level}" for level in levels], REAL_TEST]


def draws(n_rows: int, n: int, seed: int) -> list[np.ndarray]:
    """Row indices (sorted: file order kept) of SUBSAMPLES seeded draws of n rows; all rows once
    when there are no more than n."""
    if n_rows <= n:
        return [np.arange(n_rows)]
    rng = np.random.default_rng(seed)
    return [np.sort(rng.choice(n_rows, n, replace=False)) for _ in range(SUBSAMPLES)]


def jackknife_se(estimates: list[float]) -> float | None:
    """Delete-one-group jackknife s.e. from the estimates that each leave one group out."""
    values = np.asarray(estimates, float)
    if len(values) < 2 or not np.isfinite(values).all():
        return None
    g = len(values)
    return float(np.sqrt((g - 1) / g * ((values - values.mean()) ** 2).sum()))


def jackknife_groups(units) -> np.ndarray:
    """Dense group ids (at most MAX_GROUPS) of the rows' jackknife units, in order of first sight."""
    return pd.factorize(np.asarray(units, dtype=object), sort=False)[0] % MAX_GROUPS


def topic_ranks(x: np.ndarray, topic_vectors: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Rank of each row's own topic among the pool by cosine (1 = strictly nearest; ties count against)."""
    sims = distances.unit_rows(x) @ distances.unit_rows(topic_vectors).T
    own_sim = sims[np.arange(len(x)), own]
    return (sims >= own_sim[:, None]).sum(1)


def near_duplicate_share(x: np.ndarray, docs: np.ndarray) -> float:
    """Share of rows whose nearest other row of the same document has cosine >= NEAR_DUPLICATE_COSINE."""
    x = distances.unit_rows(x)
    sims = np.where(docs[:, None] == docs[None, :], x @ x.T, -np.inf)
    np.fill_diagonal(sims, -np.inf)
    return float((sims.max(1) >= NEAR_DUPLICATE_COSINE).mean()) if len(x) else float("nan")


def repetition_shares(tokens: list[list]) -> np.ndarray:
    """Per sample: the share of its 2-grams that repeat an earlier 2-gram of the same sample."""
    unique, total = distinct.ngram_counts(tokens, np.arange(len(tokens)), 2)[2]
    return np.divide(total - unique, total, out=np.zeros(len(tokens)), where=total > 0)


@dataclass
class Topics:
    """The story topic pool and its embeddings (same sentence-transformers model as the samples)."""

    names: list[str]
    vectors: np.ndarray

    def unique(self) -> Topics:
        """Duplicates dropped (first kept): a repeated topic would tie with itself."""
        first = {name: i for i, name in reversed(list(enumerate(self.names)))}
        keep = sorted(first.values())
        return Topics([self.names[i] for i in keep], self.vectors[keep])


@dataclass
class _Set:
    task: str
    tokens: list
    x: np.ndarray
    units: np.ndarray  # jackknife unit per row: the row (story) or its document (QA)
    per_row: dict[str, np.ndarray]  # measures that are the mean of a per-row value


def _prepare(task: str, name: str, rows: list[dict], x: np.ndarray, tokenize, topics: Topics | None) -> _Set:
    tokens = [tokenize(sample_text(task, row)) for row in rows]
    per_row = {"repetition": repetition_shares(tokens)}
    if task == "qa":
        per_row["real_answer_share"] = np.array([carries_real_answer(r) for r in rows], float)
        units = np.array([r["document_id"] for r in rows], dtype=object)
    else:
        units = np.arange(len(rows))
        if topics is not None and rows and all(r.get("topic") for r in rows):
            index = {t: i for i, t in enumerate(topics.names)}
            unknown = sorted({r["topic"] for r in rows} - set(index))
            if unknown:
                raise UserError(
                    f"{name}: topic {unknown[0]!r} is not in the topic pool (data/generated/story/topics.json)"
                )
            ranks = topic_ranks(x, topics.vectors, np.array([index[r["topic"]] for r in rows]))
            per_row["topic_adherence"] = (ranks == 1).astype(float)
            per_row["topic_rank_mrr"] = 1.0 / ranks
    return _Set(task, tokens, x, units, per_row)


def _measures(s: _Set, idx: np.ndarray) -> dict[str, float]:
    """Every measure of the rows idx (NaN where too few rows leave it undefined)."""
    nan = float("nan")
    tokens = [s.tokens[i] for i in idx]
    if s.task == "story":
        lexical = distinct.distinct_corpus(tokens, max(DISTINCT_NS))
    else:
        per_doc = distinct.distinct_per_group(tokens, s.units[idx], max(DISTINCT_NS))
        lexical = {n: float(v.mean()) if len(v) else nan for n, v in per_doc.items()}
    out = {f"distinct_{n}": lexical[n] for n in DISTINCT_NS}
    x = s.x[idx]
    out["vendi"] = distances.vendi_score(x) if len(x) else nan
    out["mean_pairwise_distance"] = distances.mean_pairwise_distance(x) if len(x) >= 2 else nan
    out.update({key: float(v[idx].mean()) if len(idx) else nan for key, v in s.per_row.items()})
    if s.task == "qa":
        out["near_duplicate_share"] = near_duplicate_share(x, s.units[idx])
    return out


def measure_set(s: _Set, picks: list[np.ndarray]) -> dict[str, dict]:
    """Values averaged over the draws; jackknife s.e. over the first draw's groups."""
    values = [_measures(s, idx) for idx in picks]
    first = picks[0]
    groups = jackknife_groups(s.units[first])
    left_out = [_measures(s, first[groups != g]) for g in range(groups.max() + 1)] if len(first) else []
    return {
        key: {
            "value": float(np.mean([v[key] for v in values])),
            "se": jackknife_se([v[key] for v in left_out]),
            "n": len(first),
        }
        for key in values[0]
    }


def compute(
    task: str,
    rows: dict[str, list[dict]],
    vectors: dict[str, np.ndarray],
    tokenize,
    cap: int,
    seed_of,
    topics: Topics | None = None,
) -> dict:
    """The manipulation check of every set in `rows` (no side effects).

    seed_of(name) seeds a set's draws; topics (story) is the pool with its embeddings.
    """
    n = min(cap, *(len(r) for r in rows.values()))
    if n < 3:
        smallest = min(rows, key=lambda name: len(rows[name]))
        raise UserError(
            f"{smallest}: {len(rows[smallest])} rows; the manipulation check needs at least 3 "
            "samples in every compared set"
        )
    topics = topics.unique() if topics is not None else None
    sets = {}
    for name, data in rows.items():
        s = _prepare(task, name, data, vectors[name], tokenize, topics)
        sets[name] = measure_set(s, draws(len(data), n, seed_of(name)))
        if task == "story" and data and all(r.get("topic") for r in data):
            sets[name]["topics_used"] = {"value": len({r["topic"] for r in data}), "se": 0.0, "n": len(data)}
    return {"task": task, "n_per_set": n, "subsamples": SUBSAMPLES, "sets": sets}
