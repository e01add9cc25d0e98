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

from gen_helpers import make_workspace, set_params
from gendiv.config import load_params
from gendiv.errors import UserError
from gendiv.io import read_json, read_jsonl
from gendiv.llm import GenerationStats, Request
from gendiv.llm.base import call_key
from gendiv.llm.engine import open_llm
from gendiv.llm.ratelimit import RateLimiter
from openai_server import FakeOpenAI

SECRET = "sk-test-do-not-leak-4242"


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)


def _topics(ws: Path) -> None:
    from gendiv.generate import topics

    topics.main(params=ws / "params.yaml", cache_dir=ws / "cache", out_dir=ws / "out")


def _story(ws: Path, level: int = 0) -> dict:
    from gendiv.generate import story as topic_guided

    topic_guided.main(level=level, params=ws / "params.yaml", cache_dir=ws / "cache", out_dir=ws / "out")
    return read_json(ws / "out" / f"d{level}.report.json")


def test_call_key_covers_everything_that_determines_the_answer():
    settings = {"backend": "openai", "model": "m", "temperature": 0.7}
    base = Request("t", "1", [{"role": "user", "content": "hi"}], "s/0", 0)
    variants = [
        Request("u", "1", base.messages, "s/0"),
        Request("t", "2", base.messages, "s/0"),
        Request("t", "1", [{"role": "user", "content": "ho"}], "s/0"),
        Request("t", "1", base.messages, "s/1"),
        Request("t", "1", base.messages, "s/0", 1),
    ]
    keys = {call_key(settings, r) for r in variants} | {call_key({**settings, "temperature": 0.8}, base)}
    assert call_key(settings, base) not in keys and len(keys) == len(variants) + 1
    assert call_key(dict(reversed(settings.items())), base) == call_key(settings, base)


def test_rerun_makes_zero_calls_and_more_samples_make_only_new_calls(tmp_path, monkeypatch, raw_params):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI() as srv:
        ws = make_workspace(tmp_path, raw_params, srv.base_url)
        _topics(ws)
        first = _story(ws)
        data = (ws / "out/d0/train.jsonl").read_bytes()
        assert first["calls"] == 20 and first["cache_hits"] == 0
        before = srv.calls
        again = _story(ws)
        assert srv.calls == before and again["calls"] == 0 and again["cache_hits"] == 20
        assert (ws / "out/d0/train.jsonl").read_bytes() == data
        set_params(ws, "story_gen", n_samples=30)
        more = _story(ws)
        assert more["calls"] == 10 and more["cache_hits"] == 20 and srv.calls == before + 10
        rows = read_jsonl(ws / "out/d0/train.jsonl")
        assert len(rows) == 30 and (ws / "out/d0/train.jsonl").read_bytes().startswith(data)


def test_rows_carry_provenance_and_topics_come_from_the_level_subset(tmp_path, monkeypatch, raw_params):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI() as srv:
        ws = make_workspace(tmp_path, raw_params, srv.base_url)
        _topics(ws)
        _story(ws, 0)
        _story(ws, 6)
    pool = read_json(ws / "out/topics.json")
    assert pool["size"] == 40 and len({t.lower() for t in pool["topics"]}) == 40
    d0, d6 = read_jsonl(ws / "out/d0/train.jsonl"), read_jsonl(ws / "out/d6/train.jsonl")
    assert len(d0) == len(d6) == 20
    assert len({r["topic"] for r in d0}) <= 2 < len({r["topic"] for r in d6})
    assert {r["topic"] for r in d0} <= set(pool["topics"])
    for r in d0:
        assert set(r) == {"id", "context", "completion", "level", "topic", "generator", "template_version", "source"}
        assert r["level"] == 0 and r["generator"] == "openai:fake-gpt" and r["source"] == "d0"
        assert r["template_version"] == "story_topic_guided@3"


def test_faults_are_retried_and_bad_answers_rejected_never_written(tmp_path, monkeypatch, raw_params):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI(fault_every=3, malformed_every=4, timeout_every=11, timeout_sleep=1.2) as srv:
        ws = make_workspace(tmp_path, raw_params, srv.base_url, timeout_s=0.5)
        _topics(ws)
        arrivals, statuses = sum(srv.arrivals.values()), srv.status.copy()
        report = _story(ws)
        assert srv.status[429] > statuses[429] and srv.status[500] > statuses[500]
        assert any(n > 1 and h % 11 == 0 for h, n in srv.arrivals.items())  # a timed-out request came again
        assert report["retries"] == sum(srv.arrivals.values()) - arrivals - report["calls"] > 0
        assert report["rejects_total"] > 0 and set(report["rejects"]) <= {
            "empty",
            "refusal",
            "too_few_sentences",
            "sentence_too_short",
        }
        assert report["tokens_in"] > 0 and report["estimated_cost_usd"] == pytest.approx(
            (report["tokens_in"] * 2.5 + report["tokens_out"] * 10) / 1e6, abs=1e-6
        )
    rows = read_jsonl(ws / "out/d0/train.jsonl")
    assert len(rows) == 20
    for r in rows:
        assert " found a " in r["context"] and "sorry" not in r["context"].lower()
        assert r["completion"].endswith(".")


def test_a_sample_that_never_parses_is_dropped_and_replaced(tmp_path, monkeypatch, raw_params):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI(malformed_every=3) as srv:  # about a third of all answers are malformed
        ws = make_workspace(tmp_path, raw_params, srv.base_url, max_rejects=0)
        _topics(ws)
        report = _story(ws)
    rows = read_jsonl(ws / "out/d0/train.jsonl")
    assert len(rows) == 20 and report["dropped_samples"] == report["filled_samples"] > 0
    assert report["dropped_samples"] == report["rejects_total"]
    assert max(int(r["id"].rsplit("-", 1)[1]) for r in rows) >= 20  # filled from further indices


def test_a_generator_that_never_follows_the_format_fails_clearly(tmp_path, monkeypatch, raw_params):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI() as srv:
        ws = make_workspace(tmp_path, raw_params, srv.base_url, max_rejects=1)
        _topics(ws)
        srv.malformed_every = 1
        from gendiv.llm.collect import GenerationFailed

        with pytest.raises(GenerationFailed, match="failed to parse after 1 re-asks"):
            _story(ws)
    assert not (ws / "out/d0/train.jsonl").exists()
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
    assert sum(limiter.acquire(10) for _ in range(60)) == 0  # a full minute's burst is allowed
    assert limiter.acquire(10) == pytest.approx(1.0)  # then one request per second
    tokens_left = 1000 - 61 * 10 + 1000 / 60  # refilled for the 1 s waited
    assert limiter.acquire(900) == pytest.approx((900 - tokens_left) * 60 / 1000)  # tokens bind now


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
        env = _env()  # this checkout's src, not whichever gendiv is installed
        cmd = lambda ws, mod, *a: [  # noqa: E731
            sys.executable,
            "-m",
            mod,
            "--params",
            "params.yaml",
            "--cache-dir",
            "cache",
            "--out-dir",
            "out",
            *a,
        ]
        for ws in runs.values():
            subprocess.run(cmd(ws, "gendiv.generate.topics"), cwd=ws, env=env, check=True, capture_output=True)
        start = srv.calls
        subprocess.run(
            cmd(runs["clean"], "gendiv.generate.story", "--level", "4"),
            cwd=runs["clean"],
            env=env,
            check=True,
            capture_output=True,
        )
        clean_calls = srv.calls - start
        proc = subprocess.Popen(
            cmd(runs["killed"], "gendiv.generate.story", "--level", "4"),
            cwd=runs["killed"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
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
        assert 50 <= finished < clean_calls and not (runs["killed"] / "out/d4/train.jsonl").exists()
        time.sleep(0.5)  # let the server finish answers the killed run never read
        before = srv.calls
        subprocess.run(
            cmd(runs["killed"], "gendiv.generate.story", "--level", "4"),
            cwd=runs["killed"],
            env=env,
            check=True,
            capture_output=True,
        )
        resumed = read_json(runs["killed"] / "out/d4.report.json")
    assert resumed["calls"] == srv.calls - before == clean_calls - finished
    assert (runs["killed"] / "out/d4/train.jsonl").read_bytes() == (runs["clean"] / "out/d4/train.jsonl").read_bytes()


def _cached(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as con:
        return con.execute("SELECT COUNT(*) FROM calls").fetchone()[0]


def _cached_so_far(db: Path) -> int:
    """_cached while another process may still be creating the cache."""
    try:
        return _cached(db) if db.is_file() else 0
    except sqlite3.OperationalError:
        return 0


def test_an_endpoint_that_keeps_failing_stops_with_a_clear_error_and_keeps_answers(tmp_path, monkeypatch, raw_params):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI(fault_every=2) as srv:  # half the requests fail twice; only 1 retry allowed
        make_workspace(tmp_path, raw_params, srv.base_url, max_retries=1)
        p = load_params(tmp_path / "params.yaml")
        stats = GenerationStats()
        llm = open_llm(p.generator, p.seed, stats, tmp_path / "cache")
        reqs = [Request("t", "1", [{"role": "user", "content": f"x {i}"}], f"s/{i}") for i in range(16)]
        from gendiv.llm.retries import EndpointError

        with pytest.raises(EndpointError, match="kept failing after 1 retries"):
            llm.complete(reqs)
        assert len(llm.cache) == srv.calls > 0  # every answered request was cached


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
            answers.append(
                [c.text for c in open_llm(p.generator, p.seed, GenerationStats(), ws / "cache").complete(reqs)]
            )
            seen.append(sorted(srv.arrivals))
    assert seen[0] == seen[1] and answers[0] == answers[1]
    assert request_seed(p.seed, reqs[0]) != request_seed(p.seed + 1, reqs[0])
    assert len({request_seed(p.seed, r) for r in reqs}) == len(reqs)


def _llm(ws: Path, cache: str = "cache"):
    p = load_params(ws / "params.yaml")
    stats = GenerationStats()
    return open_llm(p.generator, p.seed, stats, ws / cache), stats


def _reqs(n: int) -> list[Request]:
    return [Request("t", "1", [{"role": "user", "content": f"x {i}"}], f"s/{i}") for i in range(n)]


def test_retry_after_in_milliseconds_seconds_and_as_an_http_date():
    from email.utils import formatdate

    from gendiv.llm.retries import retry_after

    now = 1_700_000_000.0
    assert retry_after({"retry-after-ms": "250"}, now) == pytest.approx(0.25)
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}, now) == pytest.approx(0.25)
    assert retry_after({"retry-after": "1.5"}, now) == pytest.approx(1.5)
    assert retry_after({"retry-after": formatdate(now + 7, usegmt=True)}, now) == pytest.approx(7)
    assert retry_after({"retry-after": formatdate(now - 7, usegmt=True)}, now) == 0
    assert retry_after({"retry-after": "soon"}, now) == retry_after({}, now) == retry_after(None, now) == 0


def test_retryable_statuses_are_retried_by_cause_and_their_waits_honoured(tmp_path, monkeypatch, raw_params):
    """408, 409, 429 (waits in ms and as a date), 5xx, a dropped connection and a 200 whose
    body is an error are retried (counted by cause); the answers equal a fault-free run's."""
    monkeypatch.chdir(tmp_path)
    faults = ["408", "409", "429-ms", "429-date", "500", "502", "503", "error_body", "reset"]
    with FakeOpenAI() as srv:
        make_workspace(tmp_path, raw_params, srv.base_url, concurrency=1, max_retries=len(faults))
        clean = _llm(tmp_path, "clean")[0].complete(_reqs(3))
        srv.times.clear()
        srv.plan.extend(faults)
        llm, stats = _llm(tmp_path)
        answers = llm.complete(_reqs(3))
        first = next(h for h, times in srv.times.items() if len(times) > 2)
        gaps = [b - a for a, b in zip(srv.times[first], srv.times[first][1:])]
    assert stats.retries == len(faults) and dict(stats.retry_reasons) == {
        "408": 1,
        "409": 1,
        "429": 2,
        "500": 1,
        "502": 1,
        "503": 1,
        "error_body": 1,
        "connection": 1,
    }
    assert gaps[2] >= 0.3 and gaps[3] >= 1.0  # retry-after-ms: 300; Retry-After: a date 1-2 s ahead
    assert stats.calls == 3 and answers == clean


def test_answers_that_are_not_whole_answers_are_rejected_by_their_own_reason(tmp_path, monkeypatch, raw_params):
    """A truncated topic list keeps its whole lines, never the cut one ("The River Gar"); a
    truncated story, filtered, null, choice-less and non-JSON answers are rejected under their
    own names and re-asked."""
    from openai_server import WORDS

    monkeypatch.chdir(tmp_path)
    with FakeOpenAI() as srv:
        ws = make_workspace(tmp_path, raw_params, srv.base_url, concurrency=1)
        srv.plan.extend(["length"])
        _topics(ws)
        srv.plan.extend(["length", "content_filter", "null_content", "no_choices", "garbage"])
        report = _story(ws)
        assert srv.faults == {"length": 2, "content_filter": 1, "null_content": 1, "no_choices": 1, "garbage": 1}
    topics = read_json(ws / "out/topics.report.json")
    assert topics["truncated_answers"] == 1 and topics["rejects"] == {}  # the lines before the cut are kept
    assert all(t.split()[-1].lower() in WORDS for t in read_json(ws / "out/topics.json")["topics"])
    assert report["rejects"] == {
        "content_filter": 1,
        "malformed_response": 1,
        "no_choices": 1,
        "null_content": 1,
        "truncated": 1,
    }
    assert len(read_jsonl(ws / "out/d0/train.jsonl")) == 20 and report["dropped_samples"] == 0


def test_a_refused_request_drops_its_sample_once_and_reruns_do_not_resend_it(tmp_path, monkeypatch, raw_params, capsys):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI() as srv:
        ws = make_workspace(tmp_path, raw_params, srv.base_url)
        _topics(ws)
        srv.plan.extend(["400", "422", "400"])
        report = _story(ws)
        data = (ws / "out/d0/train.jsonl").read_bytes()
        before = sum(srv.arrivals.values())
        again = _story(ws)
        assert sum(srv.arrivals.values()) == before and again["calls"] == 0
    assert report["rejects"] == again["rejects"] == {"http_400": 2, "http_422": 1}
    assert report["dropped_samples"] == report["filled_samples"] == again["dropped_samples"] == 3
    assert len(read_jsonl(ws / "out/d0/train.jsonl")) == 20 and (ws / "out/d0/train.jsonl").read_bytes() == data
    warnings = sorted(ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("gendiv: warning"))
    assert len(warnings) == 2 and "refused a request: 400 injected 400" in warnings[0]
    assert "Bearer ***" in warnings[0] and SECRET not in "".join(warnings)


def test_the_cache_key_names_the_endpoint_the_client_really_uses(tmp_path, monkeypatch, raw_params):
    """generator.base_url unset: the client uses OPENAI_BASE_URL, so two such endpoints are two keys
    (the URL's userinfo is never part of the key)."""
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI() as a, FakeOpenAI() as b:
        make_workspace(tmp_path, raw_params, None)
        for srv in (a, b):
            monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url.replace("http://", "http://user:pw-99@"))
            llm, stats = _llm(tmp_path)
            llm.complete(_reqs(4))
            assert srv.calls == stats.calls == 4
            assert llm.backend.settings()["base_url"] == srv.base_url


def test_the_served_model_and_fingerprint_are_in_the_report(tmp_path, monkeypatch, raw_params):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI() as srv:
        ws = make_workspace(tmp_path, raw_params, srv.base_url)
        _topics(ws)
        first, again = _story(ws), _story(ws)
    assert first["served_models"] == again["served_models"] == {"fake-gpt-2024-08-06": first["calls"]}
    assert first["system_fingerprints"] == again["system_fingerprints"] == {"fp_fake01": first["calls"]}


def _stage_cmd(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, "--params", "params.yaml", "--cache-dir", "cache", "--out-dir", "out", *args]


def _env(**extra) -> dict:
    return {
        **os.environ,
        "OPENAI_API_KEY": SECRET,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "src"), str(Path(__file__).parents[1])]),
        **extra,
    }


def test_sigint_or_sigterm_mid_round_sends_at_most_concurrency_more_and_caches_every_answer(tmp_path, raw_params):
    """After the signal at most `concurrency` requests arrive, every answer the server gave is
    in the cache, and the rerun sends exactly the missing requests (same bytes as a clean run)."""
    with FakeOpenAI(latency=0.1, malformed_every=5) as srv:
        runs = {}
        for name in ("clean", "SIGINT", "SIGTERM"):
            ws = tmp_path / name
            ws.mkdir()
            make_workspace(ws, json.loads(json.dumps(raw_params)), srv.base_url, concurrency=2)
            set_params(ws, "story_gen", n_samples=40)
            runs[name] = ws
        subprocess.run(
            _stage_cmd("gendiv.generate.topics"), cwd=runs["clean"], env=_env(), check=True, capture_output=True
        )
        for name in ("SIGINT", "SIGTERM"):
            (runs[name] / "out").mkdir()
            (runs[name] / "out/topics.json").write_bytes((runs["clean"] / "out/topics.json").read_bytes())
        story = _stage_cmd("gendiv.generate.story", "--level", "4")
        start = srv.calls
        subprocess.run(story, cwd=runs["clean"], env=_env(), check=True, capture_output=True)
        clean_calls = srv.calls - start
        for name in ("SIGINT", "SIGTERM"):
            ws, start = runs[name], srv.calls
            proc = subprocess.Popen(story, cwd=ws, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            db = ws / "cache" / "calls.sqlite"
            deadline = time.time() + 60
            while time.time() < deadline and _cached_so_far(db) < 12:
                time.sleep(0.02)
            sent = sum(srv.arrivals.values())
            proc.send_signal(getattr(signal, name))
            err = proc.communicate(timeout=60)[1].decode()
            after = sum(srv.arrivals.values())
            time.sleep(0.3)  # anything still in flight at the server is answered by now
            answered, cached = srv.calls - start, _cached(db)
            assert after - sent <= 2, f"{name}: {after - sent} requests sent after the signal"
            assert cached == answered < clean_calls, f"{name}: {answered} answered, {cached} cached"
            assert proc.returncode != 0 and "waiting for" in err, err
            start = srv.calls
            subprocess.run(story, cwd=ws, env=_env(), check=True, capture_output=True)
            assert read_json(ws / "out/d4.report.json")["calls"] == srv.calls - start == clean_calls - cached
            assert (ws / "out/d4/train.jsonl").read_bytes() == (runs["clean"] / "out/d4/train.jsonl").read_bytes()


def test_after_faults_and_a_stopped_run_the_rerun_gives_the_fault_free_bytes(tmp_path, raw_params):
    """Retryable faults of every kind, then an endpoint that keeps failing (the stage stops),
    then a rerun: the data equal a fault-free run's and no request was answered twice."""
    import copy

    data, servers = {}, {}
    for name in ("clean", "faulty"):
        ws = tmp_path / name
        ws.mkdir()
        with FakeOpenAI(malformed_every=5) as srv:
            servers[name] = srv
            make_workspace(ws, copy.deepcopy(raw_params), srv.base_url, concurrency=3, max_retries=2)
            os.chdir(ws)
            if name == "faulty":
                srv.plan.extend(["408", "502", "reset"])
            _topics(ws)
            if name == "faulty":
                srv.plan.extend(["409", "429-ms", "error_body", "500", "503", "reset", "408"] + ["503"] * 30)
                from gendiv.llm.retries import EndpointError

                with pytest.raises(EndpointError, match="kept failing after 2 retries"):
                    _story(ws)
                assert not (ws / "out/d0/train.jsonl").exists()
                srv.plan.clear()
            _story(ws)
            data[name] = [(ws / "out" / f).read_bytes() for f in ("topics.json", "d0/train.jsonl")]
    os.chdir(tmp_path)
    assert data["faulty"] == data["clean"]
    assert servers["faulty"].answered == servers["clean"].answered  # every request answered once, as clean
    assert servers["faulty"].faults["503"] >= 3


def test_no_api_key_or_url_userinfo_reaches_a_message_a_log_line_or_a_file(tmp_path, raw_params):
    """The fake server echoes the request's credentials in its error messages (as a careless
    proxy might); gendiv's errors, warnings and files never repeat them."""
    import base64

    userinfo = "user:secret-pw-5150"
    planted = [SECRET, "secret-pw-5150", base64.b64encode(userinfo.encode()).decode()]
    outputs = []
    with FakeOpenAI() as srv:
        ws = make_workspace(tmp_path, raw_params, None, concurrency=1, max_retries=1)
        plain, with_userinfo = srv.base_url, srv.base_url.replace("http://", f"http://{userinfo}@")

        def run(module, faults, url, *args) -> subprocess.CompletedProcess:
            srv.plan.clear()
            srv.plan.extend(faults)
            proc = subprocess.run(
                _stage_cmd(module, *args), cwd=ws, env=_env(OPENAI_BASE_URL=url), capture_output=True, text=True
            )
            outputs.append(proc.stdout + proc.stderr)
            return proc

        assert run("gendiv.generate.topics", ["400"], plain).returncode == 0
        assert "Bearer ***" in outputs[-1]
        story = ("gendiv.generate.story", "--level", "0")
        for faults, url, says in (
            (["401"], plain, "refused the API key (401: invalid or missing API key)"),
            (["401"], with_userinfo, "refused the API key"),
            (["429-quota"], plain, "no quota left"),
            (["404"], with_userinfo, "refused the model or URL (404: injected 404"),
            (["503", "503"], with_userinfo, "kept failing after 1 retries"),
            (["400"], with_userinfo, None),
        ):
            proc = run(story[0], faults, url, *story[1:])
            if says is None:
                assert proc.returncode == 0 and "gendiv: warning: the endpoint refused a request: 400" in proc.stderr
                continue
            errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("gendiv: error:")]
            assert proc.returncode == 2 and len(errors) == 1 and says in errors[0], proc.stderr
            assert "Traceback" not in proc.stderr and srv.base_url in errors[0] + "".join(outputs)
    assert srv.auth >= {f"Bearer {SECRET}", "Basic " + planted[2]}  # the secrets were really sent
    texts = outputs + [f.read_bytes().decode("utf-8", "replace") for f in ws.rglob("*") if f.is_file()]
    for secret in planted:
        assert not [t[:200] for t in texts if secret in t], secret
