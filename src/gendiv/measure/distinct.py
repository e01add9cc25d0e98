"""Distinct-n (Li et al., 2016): unique n-grams / total n-grams, computed in linear time.

Tokens become dense integer ids (pyarrow's dictionary encoding; `whitespace_token_ids`
tokenizes all texts in one vectorised pass). The n-gram start positions are sorted by their
next max_n tokens (`np.lexsort`: stable radix sorts on 16-bit keys), so for every n at once
a distinct n-gram starts where a position's first n tokens differ from its predecessor's.
Exact: n-grams are compared token by token, never hashed. Equal n-grams share their first
token, so the positions are sorted in buckets of about 65k by first token: each sort stays
in the CPU cache, which keeps the time close to linear in the corpus size.

Tokens carry a group id (one group per QA context; a single group for the story task):
n-grams never cross a group boundary and are counted per group.

Conventions (tested): a text or group with fewer than n tokens has no n-grams; a
distinct value over zero n-grams is 0.0. Story samples are concatenated in file order,
so n-grams span sample boundaries, as in "the concatenation of all samples" (and as in
the `diversity` package's joined document).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

# Lower-cased runs of word characters, and every other non-space character on its own.
_WORD_OR_PUNCT = re.compile(r"\w+|[^\w\s]")
_SPACE, _WORD, _PUNCT = 0, 1, 2


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


class TokenIds(NamedTuple):
    """Tokenized texts: every text's token ids end to end, and the number of tokens per text."""

    ids: np.ndarray
    lengths: np.ndarray


def _char_class(char: str) -> int:
    """Space, word or punctuation character, as `_WORD_OR_PUNCT` sees it."""
    return _SPACE if re.fullmatch(r"\s", char) else _WORD if re.fullmatch(r"\w", char) else _PUNCT


_ASCII_CLASSES = bytes(_char_class(chr(c)) for c in range(128)) + bytes(128)  # a bytes.translate table


def _char_classes(codes: np.ndarray) -> np.ndarray:
    """The class of each code point (any Unicode)."""
    classes = np.frombuffer(_ASCII_CLASSES, np.uint8)[np.minimum(codes, 127)]
    high = np.flatnonzero(codes > 127)
    index, chars = pd.factorize(codes[high])
    classes[high] = np.array([_char_class(chr(c)) for c in chars], np.uint8)[index]
    return classes


def _split_tokens(texts: list[str], is_ascii: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower-cased texts -> (their tokens' characters end to end, tokens' lengths, tokens per text)."""
    text_chars = np.fromiter(map(len, texts), np.int64, count=len(texts)) + 1
    joined = " ".join(texts) + " "  # a space ends every text: no token spans two texts
    if is_ascii:
        raw = joined.encode("ascii")
        codes, classes = np.frombuffer(raw, np.uint8), np.frombuffer(raw.translate(_ASCII_CLASSES), np.uint8)
    else:
        codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), np.uint32)
        classes = _char_classes(codes)
    word, in_token = classes == _WORD, classes != _SPACE
    word_goes_on = word[1:] & word[:-1]  # the next character belongs to the same word
    first, last = in_token.copy(), in_token.copy()  # a token's first and last characters
    first[1:] &= ~word_goes_on
    last[:-1] &= ~word_goes_on
    start_at = np.flatnonzero(first)
    first_token = np.searchsorted(start_at, np.cumsum(text_chars) - text_chars)
    return (
        np.compress(in_token, codes),
        np.flatnonzero(last) + 1 - start_at,
        np.diff(first_token, append=len(start_at)),
    )


_CHUNK_CHARS = 1 << 18  # characters tokenized at a time: the arrays stay in cache


def whitespace_token_ids(texts: Sequence[str]) -> TokenIds:
    """`whitespace_tokens` of every text as ids (in order of first sight), vectorised over all texts."""
    lowered = [t.lower() for t in texts]
    is_ascii = all(map(str.isascii, lowered))
    text_end = np.cumsum(np.fromiter(map(len, lowered), np.int64, count=len(lowered)) + 1)
    cuts = np.searchsorted(text_end, np.arange(_CHUNK_CHARS, text_end[-1] if len(texts) else 0, _CHUNK_CHARS))
    chunks = [_split_tokens(lowered[a:b], is_ascii) for a, b in zip([0, *cuts], [*cuts, len(texts)])]
    chars, token_len, lengths = (np.concatenate(parts) for parts in zip(*chunks))
    offsets = np.concatenate(([0], np.cumsum(token_len))) * chars.itemsize
    tokens = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(token_len), [None, pa.py_buffer(offsets), pa.py_buffer(chars)]
    )
    return TokenIds(tokens.dictionary_encode().indices.to_numpy(), lengths)


def _encode(token_lists: Sequence[Sequence[Hashable]]) -> TokenIds:
    """Token lists as ids, numbered in order of first sight (pyarrow's dictionary encoding)."""
    if not len(token_lists):
        return TokenIds(np.zeros(0, np.int64), np.zeros(0, np.int64))
    lists = pa.array(token_lists)  # list<string> or list<int64>
    lengths = lists.value_lengths().to_numpy(zero_copy_only=False).astype(np.int64)
    if not lengths.sum():
        return TokenIds(np.zeros(0, np.int64), lengths)
    return TokenIds(lists.flatten().dictionary_encode().indices.to_numpy(), lengths)


def _group_tokens(ids: np.ndarray, text_len: np.ndarray, group_of_text: np.ndarray) -> np.ndarray:
    """The tokens reordered so that each group's texts follow each other (in their order)."""
    order = np.argsort(group_of_text, kind="stable")
    first = np.cumsum(text_len) - text_len
    lengths = text_len[order]
    shift = np.repeat(first[order] - (np.cumsum(lengths) - lengths), lengths)
    return ids[shift + np.arange(len(shift))]


_BUCKET_SIZE = 1 << 16  # n-gram starts sorted at a time: the sort stays in cache


def _digits(values: np.ndarray, bits: int) -> list[np.ndarray]:
    """Ints in [0, 2**bits) as 16-bit digits, least significant first: numpy sorts those by radix."""
    if bits <= 16:
        return [values]
    return [(values >> shift).astype(np.uint16) for shift in range(0, bits, 16)]


def _unique_counts(ids: np.ndarray, group_len: np.ndarray, max_n: int) -> np.ndarray:
    """Unique n-grams per group ([n, group], n = 1..max_n); `ids`: the groups' tokens end to end."""
    n_tokens, n_groups = len(ids), len(group_len)
    sentinel = int(ids.max()) + 1  # ends every group: an n-gram holding it crosses an end
    starts = n_tokens + n_groups  # n-gram start positions, sentinels included
    stream = np.full(starts + max_n - 1, sentinel, np.min_scalar_type(sentinel))
    stream[np.arange(n_tokens) + np.repeat(np.arange(n_groups), group_len)] = ids
    group_at = np.repeat(np.arange(n_groups, dtype=np.min_scalar_type(n_groups - 1)), group_len + 1)
    group_end = np.cumsum(group_len + 1) - 1  # where each group's sentinel is
    # Equal n-grams share their first token, so buckets by first token are counted apart.
    n_buckets = -(-starts // _BUCKET_SIZE)
    bucket = (stream[:starts] % n_buckets).astype(np.min_scalar_type(n_buckets - 1))
    bucket_end = np.cumsum(np.bincount(bucket, minlength=n_buckets))
    unique = np.zeros((max_n + 1, n_groups), np.int64)
    for at in np.split(np.argsort(bucket, kind="stable"), bucket_end[:-1]):
        if not len(at):
            continue
        tokens = [stream[k:][at] for k in range(max_n)]
        keys = [digit for t in reversed(tokens) for digit in _digits(t, sentinel.bit_length())]
        if n_groups > 1:
            keys += _digits(group_at[at], (n_groups - 1).bit_length())
        order = np.lexsort(keys)  # by group, then by the next max_n tokens
        start = at[order]
        if n_groups > 1:
            group = group_at[start]
            same = group[1:] == group[:-1]
            room = group_end[group] - start  # tokens before the group's end
        else:
            same = np.ones(len(start) - 1, bool)
            room = n_tokens - start
        for n in range(1, max_n + 1):
            token = tokens[n - 1][order]
            same &= token[1:] == token[:-1]  # first n tokens equal to the predecessor's
            new = room >= n  # an n-gram starts here, the first of its kind
            new[1:] &= ~same
            unique[n] += np.bincount(group[new], minlength=n_groups) if n_groups > 1 else new.sum()
    return unique


def ngram_counts(
    tokens: Sequence[Sequence[Hashable]] | TokenIds, groups: Sequence[int] | None, max_n: int
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per n (1..max_n): (unique n-grams, total n-grams) per group, as int arrays.

    `tokens`: token lists (all str or all int) or `whitespace_token_ids`. `groups[i]` is the
    group of text i (dense ids 0..G-1); texts of one group are joined in their order.
    None = all texts in one group.
    """
    if max_n < 1:
        raise ValueError(f"max_n = {max_n}: must be at least 1")
    ids, text_len = tokens if isinstance(tokens, TokenIds) else _encode(tokens)
    n_texts = len(text_len)
    group_of_text = np.zeros(n_texts, np.int64) if groups is None else np.asarray(groups, np.int64)
    if len(group_of_text) != n_texts:
        raise ValueError(f"{len(group_of_text)} group ids for {n_texts} texts")
    n_groups = int(group_of_text.max()) + 1 if n_texts else 0
    group_len = np.bincount(group_of_text, weights=text_len, minlength=n_groups).astype(np.int64)
    if not len(ids):
        return {n: (np.zeros(n_groups, np.int64), np.zeros(n_groups, np.int64)) for n in range(1, max_n + 1)}
    if np.any(group_of_text[1:] < group_of_text[:-1]):
        ids = _group_tokens(ids, text_len, group_of_text)
    unique = _unique_counts(ids, group_len, max_n)
    return {n: (unique[n], np.maximum(group_len - n + 1, 0)) for n in range(1, max_n + 1)}


def _ratio(unique: int | np.ndarray, total: int | np.ndarray):
    unique, total = np.asarray(unique, float), np.asarray(total, float)
    return np.divide(unique, total, out=np.zeros_like(unique), where=total > 0)


def distinct_corpus(tokens: Sequence[Sequence[Hashable]] | TokenIds, max_n: int) -> dict[int, float]:
    """Story aggregation: Distinct-n over the concatenation of all texts."""
    counts = ngram_counts(tokens, None, max_n)
    return {n: float(_ratio(u.sum(), t.sum())) for n, (u, t) in counts.items()}


def distinct_per_group(
    tokens: Sequence[Sequence[Hashable]] | TokenIds, group_keys: Sequence[Hashable], max_n: int
) -> dict[int, np.ndarray]:
    """QA aggregation: Distinct-n of each group's concatenated texts (groups in order of first sight)."""
    groups = pd.factorize(np.asarray(group_keys, dtype=object), sort=False)[0]
    return {n: _ratio(u, t) for n, (u, t) in ngram_counts(tokens, groups, max_n).items()}
