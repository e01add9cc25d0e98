"""Topic pool: normalization, deduplication, and a clear error when the pool is too small."""

from __future__ import annotations

import pytest

from gen_helpers import make_workspace
from gendiv.errors import UserError
from gendiv.generate.topics import main, normalize_topic, parse_topics
from gendiv.io import read_json
from openai_server import FakeOpenAI


@pytest.mark.parametrize(
    "line, topic",
    [
        ("1. Friendship", "Friendship"),
        ("- lost DOG", "Lost Dog"),
        ("* **Time travel**", "Time Travel"),
        ("3) A rainy day: when plans fail", "A Rainy Day"),
        ('"Betrayal."', "Betrayal"),
        ("Adventure - a trip to the sea", "Adventure"),
    ],
)
def test_normalize_topic(line, topic):
    assert normalize_topic(line) == topic


@pytest.mark.parametrize(
    "line", ["", "Here are 10 topics about food that you could write about", "42", "Topic #5!", "a b c d e", "A"]
)
def test_lines_that_are_not_topics_are_dropped(line):
    assert normalize_topic(line) is None


def test_parse_topics_counts_unusable_lines():
    topics, bad = parse_topics("Sure, here are some ideas for your stories today:\n1. Love\n2. love\n\n3. First Job")
    assert topics == ["Love", "Love", "First Job"] and bad == 1


def test_pool_is_deduplicated_and_its_real_size_reported(tmp_path, monkeypatch, raw_params):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAI(malformed_every=5) as srv:
        ws = make_workspace(tmp_path, raw_params, srv.base_url)
        main(params=ws / "params.yaml", cache_dir=ws / "cache", out_dir=ws / "out")
    pool, report = read_json(ws / "out/topics.json"), read_json(ws / "out/topics.report.json")
    assert pool["size"] == report["size"] == len(pool["topics"]) == 40
    assert len({t.lower() for t in pool["topics"]}) == 40
    assert report["unique_found"] >= 40 and report["rejects_total"] > 0
    assert all(t == normalize_topic(t) for t in pool["topics"])


def test_too_small_a_pool_is_a_user_error(tmp_path, monkeypatch, raw_params):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAI(malformed_every=1) as srv:  # every answer malformed: no topics at all
        ws = make_workspace(tmp_path, raw_params, srv.base_url)
        with pytest.raises(UserError, match="topic pool holds 0 distinct topics"):
            main(params=ws / "params.yaml", cache_dir=ws / "cache", out_dir=ws / "out")
    assert not (ws / "out/topics.json").exists() and (ws / "out/topics.report.json").exists()


def test_rounds_are_whole_batches_sized_to_the_pool():
    from types import SimpleNamespace

    from gendiv.generate.topics import round_size

    hf = SimpleNamespace(backend="hf", batch_size=12, concurrency=4)
    assert round_size(hf, 8) == 12  # a tiny pool: one batch
    assert round_size(hf, 200) == 36  # ~32 requests, in whole batches
    api = SimpleNamespace(backend="openai", batch_size=12, concurrency=4)
    assert round_size(api, 10_000) == 32


def test_junk_and_near_duplicate_topics_are_kept_out_of_the_pool():
    from gendiv.generate.topics import topic_stems

    assert topic_stems("Some Examples Would Be") is None and topic_stems("The Big") is None
    assert topic_stems("Note") is None
    school, house = topic_stems("School"), topic_stems("Schoolhouse")
    assert school <= house  # the pool treats either as a near-duplicate of the other
    assert topic_stems("A New Recipe") != topic_stems("A New Menu")
