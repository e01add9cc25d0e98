"""Length distributions of the generated part of each sample (paper fig. 4, left).

The target is what the model learns to produce: the story's fifth sentence or the QA
answer. Words are whitespace-separated; tokens are the base model's tokens (what
`train.max_length` counts).
"""

from __future__ import annotations

import numpy as np


def target_text(task: str, row: dict) -> str:
    return row["completion"] if task == "story" else row["answer"]


def word_lengths(texts: list[str]) -> np.ndarray:
    return np.array([len(t.split()) for t in texts], np.int64)


def token_lengths(tokenizer, texts: list[str]) -> np.ndarray:
    if not texts:
        return np.zeros(0, np.int64)
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return np.array([len(x) for x in ids], np.int64)


def summary(lengths: np.ndarray, unit: str) -> dict[str, float]:
    """Mean, median, standard deviation and 90th percentile (0 for an empty set)."""
    if len(lengths) == 0:
        return {f"{unit}_{k}": 0.0 for k in ("mean", "median", "std", "p90")}
    return {
        f"{unit}_mean": float(lengths.mean()),
        f"{unit}_median": float(np.median(lengths)),
        f"{unit}_std": float(lengths.std()),
        f"{unit}_p90": float(np.percentile(lengths, 90)),
    }


def histogram(
    lengths_by_set: dict[str, np.ndarray], top: int | None = None
) -> tuple[list[int], dict[str, list[float]]]:
    """Share of samples of each length 0..top (default: the longest), per set."""
    if top is None:
        top = max((int(v.max()) for v in lengths_by_set.values() if len(v)), default=0)
    shares = {}
    for name, values in lengths_by_set.items():
        counts = np.bincount(np.minimum(values, top), minlength=top + 1).astype(float)
        shares[name] = list(counts / counts.sum()) if len(values) else [0.0] * (top + 1)
    return list(range(top + 1)), shares
