"""`collect`: re-asks until every group has its samples; spare attempts fill hf batches."""

from __future__ import annotations

import pytest

from gendiv.llm import LLM, GenerationStats, Group, Reject, Template, collect
from gendiv.llm.cache import CallCache

TEMPLATE = Template(id="t", version="1", user="say {word}")


class ScriptedBackend:
    """Answers "good" for the attempts listed in `good` (sample name -> attempts), else "bad"."""

    name, model = "scripted", "scripted"

    def __init__(
        self,
        unit: int,
        fills_batches: bool,
        good: dict[str, set[int]],
        finish: dict[tuple[str, int], str] | None = None,
    ):
        self.unit, self.fills_batches, self.good = unit, fills_batches, good
        self.finish = finish or {}  # (sample, attempt) -> finish_reason other than "stop"
        self.batches: list[list[tuple[str, int]]] = []

    def settings(self) -> dict:
        return {"backend": self.name}

    def run(self, units, store, stats) -> None:
        from gendiv.llm import Completion

        for unit in units:
            self.batches.append([(r.sample, r.attempt) for _, r in unit])
            stats.calls += len(unit)
            store(
                [
                    (
                        k,
                        r,
                        Completion(
                            "good" if r.attempt in self.good.get(r.sample, ()) else "bad",
                            1,
                            1,
                            self.finish.get((r.sample, r.attempt), "stop"),
                        ),
                    )
                    for k, r in unit
                ]
            )


def parse(text: str, index: int) -> str:
    if text != "good":
        raise Reject("bad_format")
    return f"sample {index}"


def run(tmp_path, backend, need: int, max_rejects: int = 4):
    stats = GenerationStats()
    llm = LLM(backend, CallCache(tmp_path / "cache"), stats)
    group = Group("g", need, lambda i: (TEMPLATE, {"word": str(i)}), parse)
    return collect(llm, [group], max_rejects)["g"], stats


def test_spare_attempts_fill_the_last_batch_and_the_first_parse_wins(tmp_path):
    good = {"g/0": {1}, "g/1": {0, 1}, "g/2": {2}}
    backend = ScriptedBackend(unit=4, fills_batches=True, good=good)
    accepted, stats = run(tmp_path, backend, need=3)
    # round 1: 3 samples + 1 spare (sample 0's attempt 1) fill one batch of 4
    assert backend.batches[0] == [("g/0", 0), ("g/0", 1), ("g/1", 0), ("g/2", 0)]
    # round 2: only sample 2 is left; its next attempts fill the batch
    assert backend.batches[1] == [("g/2", 1), ("g/2", 2), ("g/2", 3), ("g/2", 4)]
    assert [(a.index, a.attempt, a.value) for a in accepted] == [
        (0, 1, "sample 0"),
        (1, 0, "sample 1"),
        (2, 2, "sample 2"),
    ]
    assert stats.rejects["bad_format"] == 3 and stats.unused == 2 and stats.calls == 8


def test_backends_without_free_slots_ask_one_attempt_at_a_time(tmp_path):
    good = {"g/0": {1}, "g/1": {0}, "g/2": {2}}
    backend = ScriptedBackend(unit=1, fills_batches=False, good=good)
    accepted, stats = run(tmp_path, backend, need=3)
    asked = [call for batch in backend.batches for call in batch]
    assert asked == [("g/0", 0), ("g/1", 0), ("g/2", 0), ("g/0", 1), ("g/2", 1), ("g/2", 2)]
    assert [a.attempt for a in accepted] == [1, 0, 2] and stats.unused == 0


def test_a_sample_out_of_attempts_is_dropped_and_replaced(tmp_path):
    good = {"g/1": {0}, "g/2": {0}}  # sample 0 never parses; index 2 takes its place
    backend = ScriptedBackend(unit=4, fills_batches=True, good=good)
    accepted, stats = run(tmp_path, backend, need=2, max_rejects=2)
    assert [a.index for a in accepted] == [1, 2]
    assert stats.dropped == stats.filled == 1 and stats.rejects["bad_format"] == 3


def test_rerun_from_the_cache_makes_no_calls_and_gives_the_same_samples(tmp_path):
    good = {"g/0": {3}, "g/1": {1}, "g/2": {0}}
    first, _ = run(tmp_path, ScriptedBackend(unit=4, fills_batches=True, good=good), need=3)
    again_backend = ScriptedBackend(unit=4, fills_batches=True, good={})
    again, stats = run(tmp_path, again_backend, need=3)
    assert again == first and again_backend.batches == [] and stats.cache_hits > 0


@pytest.mark.parametrize("unit, fills", [(4, True), (1, False)])
def test_every_sample_arrives_whatever_the_batching(tmp_path, unit, fills):
    good = {f"g/{i}": {i % 5} for i in range(7)}
    accepted, _ = run(tmp_path, ScriptedBackend(unit=unit, fills_batches=fills, good=good), need=7)
    assert [(a.index, a.attempt) for a in accepted] == [(i, i % 5) for i in range(7)]


def test_a_truncated_answer_is_rejected_and_asked_again_even_if_it_parses(tmp_path):
    backend = ScriptedBackend(
        unit=1,
        fills_batches=False,
        good={"g/0": {0, 1}, "g/1": {0, 1}},
        finish={("g/0", 0): "length", ("g/1", 0): "content_filter"},
    )
    accepted, stats = run(tmp_path, backend, need=2)
    assert [(a.index, a.attempt) for a in accepted] == [(0, 1), (1, 1)]
    assert stats.rejects == {"truncated": 1, "content_filter": 1} and stats.dropped == 0


def test_a_refused_request_drops_its_sample_at_once(tmp_path):
    """finish_reason http_<status>: asking again cannot help, so no re-ask; the next index fills in."""
    backend = ScriptedBackend(
        unit=1, fills_batches=False, good={"g/1": {0}, "g/2": {0}}, finish={("g/0", 0): "http_400"}
    )
    accepted, stats = run(tmp_path, backend, need=2)
    asked = [call for batch in backend.batches for call in batch]
    assert asked == [("g/0", 0), ("g/1", 0), ("g/2", 0)] and [a.index for a in accepted] == [1, 2]
    assert stats.rejects == {"http_400": 1} and stats.dropped == stats.filled == 1
