"""The openai backend against a local OpenAI-compatible server: cache, resume, faults, limits."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gendiv.cli import UserError
from gendiv.io import read_json, read_jsonl
from gendiv.llm import GenerationStats, Request
from gendiv.llm.base import call_key
from gendiv.llm.engine import open_llm
from gendiv.llm.ratelimit import RateLimiter
from gendiv.params import load_params
from gen_helpers import make_workspace, set_params
from openai_server import FakeOpenAI

SECRET = "sk-test-do-not-leak-4242"


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)


def _topics(ws: Path) -> None:
    from gendiv import topics

    topics.main(params=ws / "params.yaml", cache_dir=ws / "cache", out_dir=ws / "out")


def _story(ws: Path, level: int = 0) -> dict:
    from gendiv import topic_guided

    topic_guided.main(level=level, params=ws / "params.yaml", cache_dir=ws / "cache", out_dir=ws / "out")
    return read_json(ws / "out" / f"d{level}.report.json")


def test_call_key_covers_everything_that_determines_the_answer():
    settings = {"backend": "openai", "model": "m", "temperature": 0.7}
    base = Request("t", "1", [{"role": "user", "content": "hi"}], "s/0", 0)
    variants = [Request("u", "1", base.messages, "s/0"), Request("t", "2", base.messages, "s/0"),
                Request("t", "1", [{"role": "user", "content": "ho"}], "s/0"),
                Request("t", "1", base.messages, "s/1"), Request("t", "1", base.messages, "s/0", 1)]
    keys = {call_key(settings, r) for r in variants} | {call_key({**settings, "temperature": 0.8}, base)}
    assert call_key(settings, base) not in keys and len(keys) == len(variants) + 1
    assert call_key(dict(reversed(settings.items())), base) == call_key(settings, base)


def test_rerun_makes_zero_calls_and_more_samples_make_only_new_calls(tmp_path, monkeypatch, raw_params):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI() as srv:
        ws = make_workspace(tmp_path, raw_params, srv.base_url)
        _topics(ws)
        first = _story(ws)
        data = (ws / "out/d0.jsonl").read_bytes()
        assert first["calls"] == 20 and first["cache_hits"] == 0
        before = srv.calls
        again = _story(ws)
        assert srv.calls == before and again["calls"] == 0 and again["cache_hits"] == 20
        assert (ws / "out/d0.jsonl").read_bytes() == data
        set_params(ws, "story_gen", n_samples=30)
        more = _story(ws)
        assert more["calls"] == 10 and more["cache_hits"] == 20 and srv.calls == before + 10
        rows = read_jsonl(ws / "out/d0.jsonl")
        assert len(rows) == 30 and (ws / "out/d0.jsonl").read_bytes().startswith(data)


def test_rows_carry_provenance_and_topics_come_from_the_level_subset(tmp_path, monkeypatch, raw_params):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI() as srv:
        ws = make_workspace(tmp_path, raw_params, srv.base_url)
        _topics(ws)
        _story(ws, 0)
        _story(ws, 6)
    pool = read_json(ws / "out/topics.json")
    assert pool["size"] == 40 and len({t.lower() for t in pool["topics"]}) == 40
    d0, d6 = read_jsonl(ws / "out/d0.jsonl"), read_jsonl(ws / "out/d6.jsonl")
    assert len(d0) == len(d6) == 20
    assert len({r["topic"] for r in d0}) <= 2 < len({r["topic"] for r in d6})
    assert {r["topic"] for r in d0} <= set(pool["topics"])
    for r in d0:
        assert set(r) == {"id", "context", "completion", "level", "topic", "generator", "template_version"}
        assert r["level"] == 0 and r["generator"] == "openai:fake-gpt"
        assert r["template_version"] == "story_topic_guided@3"


def test_faults_are_retried_and_bad_answers_rejected_never_written(tmp_path, monkeypatch, raw_params):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI(fault_every=3, malformed_every=4, timeout_every=11, timeout_sleep=1.2) as srv:
        ws = make_workspace(tmp_path, raw_params, srv.base_url, timeout_s=0.5)
        _topics(ws)
        arrivals, statuses = sum(srv.arrivals.values()), srv.status.copy()
        report = _story(ws)
        assert srv.status[429] > statuses[429] and srv.status[500] > statuses[500]
        assert any(n > 1 and h % 11 == 0 for h, n in srv.arrivals.items())      # a timed-out request came again
        assert report["retries"] == sum(srv.arrivals.values()) - arrivals - report["calls"] > 0
        assert report["rejects_total"] > 0 and set(report["rejects"]) <= {
            "empty", "refusal", "too_few_sentences", "sentence_too_short"}
        assert report["tokens_in"] > 0 and report["estimated_cost_usd"] == pytest.approx(
            (report["tokens_in"] * 2.5 + report["tokens_out"] * 10) / 1e6, abs=1e-6)
    rows = read_jsonl(ws / "out/d0.jsonl")
    assert len(rows) == 20
    for r in rows:
        assert " found a " in r["context"] and "sorry" not in r["context"].lower()
        assert r["completion"].endswith(".")


def test_a_sample_that_never_parses_is_dropped_and_replaced(tmp_path, monkeypatch, raw_params):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI(malformed_every=3) as srv:   # about a third of all answers are malformed
        ws = make_workspace(tmp_path, raw_params, srv.base_url, max_rejects=0)
        _topics(ws)
        report = _story(ws)
    rows = read_jsonl(ws / "out/d0.jsonl")
    assert len(rows) == 20 and report["dropped_samples"] == report["filled_samples"] > 0
    assert report["dropped_samples"] == report["rejects_total"]
    assert max(int(r["id"].rsplit("-", 1)[1]) for r in rows) >= 20   # filled from further indices


def test_a_generator_that_never_follows_the_format_fails_clearly(tmp_path, monkeypatch, raw_params):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI() as srv:
        ws = make_workspace(tmp_path, raw_params, srv.base_url, max_rejects=1)
        _topics(ws)
        srv.malformed_every = 1
        from gendiv.llm.collect import GenerationFailed

        with pytest.raises(GenerationFailed, match="failed to parse after 1 re-asks"):
            _story(ws)
    assert not (ws / "out/d0.jsonl").exists()
    assert read_json(ws / "out/d0.report.json")["rejects_total"] > 20


def test_bounded_concurrency(tmp_path, raw_params, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI(latency=0.2) as srv:
        make_workspace(tmp_path, raw_params, srv.base_url, concurrency=3)
        p = load_params(tmp_path / "params.yaml")
        stats = GenerationStats()
        llm = open_llm(p.generator, p.seed, stats, tmp_path / "cache")
        reqs = [Request("t", "1", [{"role": "user", "content": f"x {i}"}], f"s/{i}") for i in range(12)]
        start = time.perf_counter()
        llm.complete(reqs)
        wall = time.perf_counter() - start
    assert srv.max_in_flight == 3 and stats.calls == 12
    assert wall >= 4 * 0.2


def test_rate_limiter_spaces_requests_and_tokens():
    now = [0.0]
    limiter = RateLimiter(60, 1000, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert sum(limiter.acquire(10) for _ in range(60)) == 0      # a full minute's burst is allowed
    assert limiter.acquire(10) == pytest.approx(1.0)             # then one request per second
    tokens_left = 1000 - 61 * 10 + 1000 / 60                     # refilled for the 1 s waited
    assert limiter.acquire(900) == pytest.approx((900 - tokens_left) * 60 / 1000)   # tokens bind now


def test_missing_key_is_a_user_error_and_the_key_never_leaks(tmp_path, monkeypatch, raw_params):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI() as srv:
        ws = make_workspace(tmp_path, raw_params, srv.base_url)
        _topics(ws)
        _story(ws)
        assert f"Bearer {SECRET}" in srv.auth
        monkeypatch.delenv("OPENAI_API_KEY")
        with pytest.raises(UserError, match="OPENAI_API_KEY"):
            _story(ws)
    for f in ws.rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f


def test_sigkill_mid_run_resumes_without_repeating_finished_calls(tmp_path, raw_params):
    with FakeOpenAI(latency=0.03, malformed_every=5) as srv:
        runs = {}
        for name in ("killed", "clean"):
            ws = tmp_path / name
            ws.mkdir()
            make_workspace(ws, json.loads(json.dumps(raw_params)), srv.base_url, concurrency=2)
            set_params(ws, "story_gen", n_samples=80)
            runs[name] = ws
        env = {**os.environ, "OPENAI_API_KEY": SECRET, "PYTHONPATH": str(Path(__file__).parent)}
        cmd = lambda ws, mod, *a: [sys.executable, "-m", mod, "--params", "params.yaml", "--cache-dir", "cache",  # noqa: E731
                                   "--out-dir", "out", *a]
        for ws in runs.values():
            subprocess.run(cmd(ws, "gendiv.topics"), cwd=ws, env=env, check=True, capture_output=True)
        start = srv.calls
        subprocess.run(cmd(runs["clean"], "gendiv.topic_guided", "--level", "3"), cwd=runs["clean"], env=env,
                       check=True, capture_output=True)
        clean_calls = srv.calls - start
        proc = subprocess.Popen(cmd(runs["killed"], "gendiv.topic_guided", "--level", "3"), cwd=runs["killed"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        db = runs["killed"] / "cache" / "calls.sqlite"
        topic_calls = _cached(db)
        deadline = time.time() + 60
        while time.time() < deadline:
            time.sleep(0.05)
            if _cached(db) >= topic_calls + 50:
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        finished = _cached(db) - topic_calls
        assert 50 <= finished < clean_calls and not (runs["killed"] / "out/d3.jsonl").exists()
        time.sleep(0.5)                      # let the server finish answers the killed run never read
        before = srv.calls
        subprocess.run(cmd(runs["killed"], "gendiv.topic_guided", "--level", "3"), cwd=runs["killed"], env=env,
                       check=True, capture_output=True)
        resumed = read_json(runs["killed"] / "out/d3.report.json")
    assert resumed["calls"] == srv.calls - before == clean_calls - finished
    assert (runs["killed"] / "out/d3.jsonl").read_bytes() == (runs["clean"] / "out/d3.jsonl").read_bytes()


def _cached(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as con:
        return con.execute("SELECT COUNT(*) FROM calls").fetchone()[0]


def test_an_endpoint_that_keeps_failing_stops_with_a_clear_error_and_keeps_answers(tmp_path, monkeypatch,
                                                                                   raw_params):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI(fault_every=2) as srv:      # half the requests fail twice; only 1 retry allowed
        make_workspace(tmp_path, raw_params, srv.base_url, max_retries=1)
        p = load_params(tmp_path / "params.yaml")
        stats = GenerationStats()
        llm = open_llm(p.generator, p.seed, stats, tmp_path / "cache")
        reqs = [Request("t", "1", [{"role": "user", "content": f"x {i}"}], f"s/{i}") for i in range(16)]
        from gendiv.llm.openai_backend import EndpointError

        with pytest.raises(EndpointError, match="kept failing after 1 retries"):
            llm.complete(reqs)
        assert len(llm.cache) == srv.calls > 0      # every answered request was cached


def test_the_sampling_seed_depends_on_the_request_not_on_the_endpoint_url(tmp_path, raw_params, monkeypatch):
    """The same params through two endpoint URLs (here two ports) send the same seeds, so a
    proxy or another host serving the same model samples the same data."""
    import copy

    from gendiv.llm.base import request_seed

    reqs = [Request("t", "1", [{"role": "user", "content": f"topic {i}"}], f"s/{i}") for i in range(8)]
    seen, answers = [], []
    for run in ("a", "b"):
        ws = tmp_path / run
        ws.mkdir()
        monkeypatch.chdir(ws)
        with FakeOpenAI(malformed_every=3) as srv:
            make_workspace(ws, copy.deepcopy(raw_params), srv.base_url)
            p = load_params(ws / "params.yaml")
            answers.append([c.text for c in open_llm(p.generator, p.seed, GenerationStats(), ws / "cache").complete(reqs)])
            seen.append(sorted(srv.arrivals))
    assert seen[0] == seen[1] and answers[0] == answers[1]
    assert request_seed(p.seed, reqs[0]) != request_seed(p.seed + 1, reqs[0])
    assert len({request_seed(p.seed, r) for r in reqs}) == len(reqs)
