"""The numbers `gendiv measure` records for each set, one function per kind of metric.

Distinct-n with the paper's aggregation for the task, its normalisation within a comparison
group, the embedding diversity scores (DCScore, Vendi), the distances to the real training
set (MMD^2 with its permutation p-value, Frechet) with the notes that explain them, and the
rounding and per-set seeds they share. stage.py reads the inputs, calls these for every set
and writes the outputs; verify recomputes through stage.compute, so both get the same numbers.
"""

from __future__ import annotations

import zlib

import numpy as np

from gendiv.config import Params
from gendiv.measure import distances, distinct
from gendiv.measure.embeddings import sample_text
from gendiv.measure.sets import REAL_HELDOUT, comparison_group, reference_set

PERMUTATIONS = 200  # relabelings in the MMD permutation test


def _num(x: float) -> float | int:
    """Counts stay ints; other values keep six significant digits (readable, platform-stable)."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    return float(f"{float(x):.6g}")


def _rounded(obj):
    """`_num` on every number of a nested structure; text and None stay as they are."""
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    return obj if obj is None or isinstance(obj, str) else _num(obj)


def _seed(p: Params, name: str) -> int:
    return p.seed + zlib.crc32(name.encode())


def distinct_metrics(task: str, rows: list[dict], tokenize, max_n: int) -> dict[str, float]:
    """Distinct-1..max_n with the paper's aggregation for the task."""
    texts = [sample_text(task, row) for row in rows]
    tokens = (
        distinct.whitespace_token_ids(texts)
        if tokenize is distinct.whitespace_tokens  # vectorised, same ids
        else [tokenize(t) for t in texts]
    )
    out: dict[str, float] = {}
    if task == "story":
        values = distinct.distinct_corpus(tokens, max_n)
        out.update({f"distinct_{n}": v for n, v in values.items()})
    else:
        per_context = distinct.distinct_per_group(tokens, [r["document_id"] for r in rows], max_n)
        for n, v in per_context.items():
            out[f"distinct_{n}"] = float(v.sum())
            out[f"distinct_{n}_context_mean"] = float(v.mean()) if len(v) else 0.0
        out["n_contexts"] = len({r["document_id"] for r in rows})
    out["ngram_diversity"] = sum(out[f"distinct_{n}"] for n in range(1, max_n + 1))
    return out


def normalize_in_groups(metrics: dict[str, dict[str, float]], max_n: int) -> None:
    """Add distinct_<n>_norm: the value over the largest value of its comparison group."""
    for n in range(1, max_n + 1):
        key = f"distinct_{n}"
        best: dict[str, float] = {}
        for name, m in metrics.items():
            group = comparison_group(name)
            best[group] = max(best.get(group, 0.0), m[key])
        for name, m in metrics.items():
            top = best[comparison_group(name)]
            m[f"{key}_norm"] = m[key] / top if top > 0 else 0.0


def embedding_metrics(p: Params, name: str, x: np.ndarray) -> dict[str, float]:
    """Diversity scores of one set on up to measure.score_samples samples."""
    if len(x) < 2:
        return {}
    sample = x[distances.subsample(len(x), p.measure.score_samples, _seed(p, name))]
    return {"dcscore": distances.dcscore(sample, p.measure.dcscore_temperature), "vendi": distances.vendi_score(sample)}


def distance_count(p: Params, sizes: dict[str, int]) -> int:
    """The one sample count every distance uses: the smallest of real train, the reference and
    the Gen-D levels, at most measure.score_samples. Smaller (mixed) sets get no distance."""
    compared = ["real", reference_set(list(sizes)), *[f"d{level}" for level in p.levels]]
    return min(p.measure.score_samples, *(sizes[name] for name in compared if name in sizes))


def distance_metrics(p: Params, name: str, x: np.ndarray, real: np.ndarray, n: int) -> dict[str, float]:
    """MMD^2 (median-heuristic bandwidth) and Frechet distance to real train, on one seeded draw
    of n rows from each side; mmd2_rbf_p is the permutation p-value of that MMD^2 (PERMUTATIONS
    relabelings of the pooled rows): small when the set differs from real train."""
    if name == "real" or n < 2 or len(x) < n:
        return {}
    ours = x[distances.subsample(len(x), n, _seed(p, name))]
    theirs = real[distances.subsample(len(real), n, _seed(p, "real"))]
    mmd2, bandwidth = distances.mmd2_rbf(ours, theirs)
    null = distances.mmd2_null(
        ours, theirs, bandwidth, PERMUTATIONS, np.random.default_rng(_seed(p, f"permutation:{name}"))
    )
    return {
        "mmd2_rbf": mmd2,
        "mmd2_rbf_p": (1 + int((null >= mmd2).sum())) / (1 + PERMUTATIONS),
        "mmd_bandwidth": bandwidth,
        "frechet": distances.frechet_distance(ours, theirs),
        "distance_n": n,
    }


MMD2_NOTE = (
    "mmd2_rbf is the unbiased estimate of squared MMD: its expected value is 0 when a set and "
    "real train come from one distribution, so estimates scatter around 0 and can be negative; "
    "a value at or below 0 means no difference is detectable at distance_n samples. mmd2_rbf_p is "
    f"the permutation p-value ({PERMUTATIONS} relabelings) of 'same distribution as real train'."
)


def reference_note(task: str, reference: str) -> str:
    """Why the distance reference is (or is not quite) the same distribution as real train."""
    if task == "story":
        return (
            "real_test: real stories drawn from the same source as real train, sharing no row with it; "
            "its distances are what sampling alone gives."
        )
    if reference == REAL_HELDOUT:
        return (
            "real_heldout: real questions of the training documents that real train does not hold; "
            "its distances are what sampling alone gives."
        )
    return (
        "real_test: real questions about other documents than real train's (QA splits are by "
        "document), so its distances add a change of documents to sampling noise and overstate "
        "the same-distribution baseline; prepare_real keeps data.qa.qa_per_doc questions of each "
        "training document and writes no held-out ones (data/real/qa/heldout.jsonl), which would "
        "be the same-distribution reference."
    )
