"""Multi-source set: equal shares of the single-source sets, over the same prompts."""

from __future__ import annotations

import pytest

from gendiv.errors import UserError
from gendiv.mix.sources import multi_source


def _set(name: str, n: int) -> list[dict]:
    return [
        {"id": f"story-src_{name}-{i:06d}", "context": f"{name} {i}", "completion": ".", "source": f"src_{name}"}
        for i in range(n)
    ]


def test_equal_shares_in_params_order_and_same_prompt_positions():
    rows = multi_source({"a": _set("a", 6), "b": _set("b", 6), "c": _set("c", 6)}, 7)
    assert [r["source"] for r in rows] == ["src_a", "src_b", "src_c", "src_a", "src_b", "src_c", "src_a"]
    assert [r["context"] for r in rows[:4]] == ["a 0", "b 0", "c 0", "a 1"]
    assert len({r["id"] for r in rows}) == 7


def test_two_sources_split_evenly():
    rows = multi_source({"a": _set("a", 4), "b": _set("b", 4)}, 4)
    assert sum(r["source"] == "src_a" for r in rows) == sum(r["source"] == "src_b" for r in rows) == 2


def test_a_set_too_small_for_its_share_is_an_error():
    with pytest.raises(UserError, match=r"\['b'\]"):
        multi_source({"a": _set("a", 4), "b": _set("b", 1)}, 4)
