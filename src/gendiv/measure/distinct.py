"""Distinct-n (Li et al., 2016): unique n-grams / total n-grams, computed in linear time.

Tokens become dense integer ids (pyarrow's dictionary encoding); an n-gram's key extends
its (n-1)-gram's key by the next token and is re-numbered with a hash table
(`pandas.factorize`), so keys never outgrow int64. An n-gram whose (n-1)-gram prefix
occurs once is itself unique, so only positions with a repeated prefix stay in play
for the next n: the work shrinks with n instead of repeating a full pass.

Tokens carry a group id (one group per QA context; a single group for the story task):
n-grams never cross a group boundary and are counted per group.

Conventions (tested): a text or group with fewer than n tokens has no n-grams; a
distinct value over zero n-grams is 0.0. Story samples are concatenated in file order,
so n-grams span sample boundaries, as in "the concatenation of all samples" (and as in
the `diversity` package's joined document).
"""

from __future__ import annotations

import re
from itertools import chain
from typing import Hashable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

# Lower-cased runs of word characters, and every other non-space character on its own.
_WORD_OR_PUNCT = re.compile(r"\w+|[^\w\s]")


def whitespace_tokens(text: str) -> list[str]:
    """The `whitespace` tokenizer: lower-cased words and single punctuation marks."""
    return _WORD_OR_PUNCT.findall(text.lower())


def make_tokenizer(kind: str, model_dir: str | None = None):
    """A function text -> tokens for `measure.tokenizer` (whitespace | model)."""
    if kind == "whitespace":
        return whitespace_tokens
    if kind == "model":
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(model_dir)
        return lambda text: tok(text, add_special_tokens=False)["input_ids"]
    raise ValueError(f"measure.tokenizer = {kind!r}: expected whitespace or model")


def _codes(values: np.ndarray) -> np.ndarray:
    """Dense ids 0..k-1, numbered in order of first sight."""
    return pd.factorize(values, sort=False, size_hint=len(values))[0].astype(np.int64, copy=False)


def _token_ids(flat: list) -> np.ndarray:
    if isinstance(flat[0], (int, np.integer)):
        return _codes(np.asarray(flat, np.int64))
    encoded = pa.array(flat, type=pa.large_string()).dictionary_encode()
    return encoded.indices.to_numpy().astype(np.int64)


def _first_sight(codes: np.ndarray) -> np.ndarray:
    """Mask of each code's first occurrence (codes numbered in order of first sight)."""
    first = np.zeros(len(codes), bool)
    if len(codes):
        running_max = np.maximum.accumulate(codes)
        first[0] = True
        first[1:] = running_max[1:] > running_max[:-1]
    return first


def ngram_counts(token_lists: Sequence[Sequence[Hashable]], groups: Sequence[int] | None,
                 max_n: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per n (1..max_n): (unique n-grams, total n-grams) per group, as int arrays.

    `groups[i]` is the group of text i (dense ids 0..G-1); texts of one group are joined
    in their order. None = all texts in one group. Tokens are all str or all int.
    """
    if max_n < 1:
        raise ValueError(f"max_n = {max_n}: must be at least 1")
    n_texts = len(token_lists)
    group_of_text = np.zeros(n_texts, np.int64) if groups is None else np.asarray(groups, np.int64)
    if len(group_of_text) != n_texts:
        raise ValueError(f"{len(group_of_text)} group ids for {n_texts} texts")
    n_groups = int(group_of_text.max()) + 1 if n_texts else 0
    order = np.argsort(group_of_text, kind="stable")  # texts of a group become contiguous
    text_len = np.fromiter((len(t) for t in token_lists), np.int64, count=n_texts)
    group_len = np.bincount(group_of_text, weights=text_len, minlength=n_groups).astype(np.int64)
    group = np.repeat(group_of_text[order], text_len[order]) if n_groups > 1 else None  # token -> group
    flat = list(chain.from_iterable(token_lists[i] for i in order))
    if not flat:
        empty = np.zeros(n_groups, np.int64)
        return {n: (empty, empty.copy()) for n in range(1, max_n + 1)}
    ids = _token_ids(flat)
    size = int(ids.max()) + 1
    pos = np.arange(len(ids))  # start positions whose n-gram may repeat ("active")
    codes = ids if group is None else _codes(group * size + ids)  # a 1-gram's key includes its group
    out = {}
    for n in range(1, max_n + 1):
        if n > 1:
            end = np.minimum(pos + n - 1, len(ids) - 1)
            keep = np.bincount(codes)[codes] >= 2  # a unique prefix makes a unique n-gram
            keep &= pos + n - 1 < len(ids)
            if group is not None:
                keep &= group[end] == group[pos]  # the n-gram starts and ends in one group
            pos, end = pos[keep], end[keep]
            codes = _codes(codes[keep] * size + ids[end])
        total = np.maximum(group_len - n + 1, 0)
        if group is None:  # one group: the codes are dense, so their count is max + 1
            active = np.array([len(pos)])
            distinct_active = np.array([codes.max() + 1 if len(codes) else 0])
        else:
            active_group = group[pos]
            active = np.bincount(active_group, minlength=n_groups)
            distinct_active = np.bincount(active_group[_first_sight(codes)], minlength=n_groups)
        out[n] = (total - active + distinct_active, total)
    return out


def _ratio(unique: int | np.ndarray, total: int | np.ndarray):
    unique, total = np.asarray(unique, float), np.asarray(total, float)
    return np.divide(unique, total, out=np.zeros_like(unique), where=total > 0)


def distinct_corpus(token_lists: Sequence[Sequence[Hashable]], max_n: int) -> dict[int, float]:
    """Story aggregation: Distinct-n over the concatenation of all texts."""
    counts = ngram_counts(token_lists, None, max_n)
    return {n: float(_ratio(u.sum(), t.sum())) for n, (u, t) in counts.items()}


def distinct_per_group(token_lists: Sequence[Sequence[Hashable]], group_keys: Sequence[Hashable],
                       max_n: int) -> dict[int, np.ndarray]:
    """QA aggregation: Distinct-n of each group's concatenated texts (groups in order of first sight)."""
    groups = pd.factorize(np.asarray(group_keys, dtype=object), sort=False)[0]
    return {n: _ratio(u, t) for n, (u, t) in ngram_counts(token_lists, groups, max_n).items()}
