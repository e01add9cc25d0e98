"""openai Batch API mode against the local server: same data as online, resumable by batch id."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from gen_helpers import REPO, make_workspace
from gendiv.io import read_json
from gendiv.llm.batch import BatchBackend
from openai_server import FakeOpenAI


def _run(ws, level=0):
    from gendiv.generate import story as topic_guided
    from gendiv.generate import topics

    if not (ws / "out/topics.json").exists():
        topics.main(params=ws / "params.yaml", cache_dir=ws / "cache", out_dir=ws / "out")
    topic_guided.main(level=level, params=ws / "params.yaml", cache_dir=ws / "cache", out_dir=ws / "out")
    return read_json(ws / f"out/d{level}.report.json")


def test_batch_mode_gives_the_online_data_at_half_the_cost(tmp_path, monkeypatch, raw_params):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    online, batch = tmp_path / "online", tmp_path / "batch"
    online.mkdir(), batch.mkdir()
    with FakeOpenAI(malformed_every=4, batch_polls=3) as srv:
        make_workspace(online, copy.deepcopy(raw_params), srv.base_url)
        make_workspace(batch, raw_params, srv.base_url, batch_api=True)
        monkeypatch.chdir(online)
        r_online = _run(online)
        monkeypatch.chdir(batch)
        r_batch = _run(batch)
        assert len(srv.batches) >= 2 and r_batch["batch_ids"]  # topics and story rounds went as batches
    assert (online / "out/d0/train.jsonl").read_bytes() == (batch / "out/d0/train.jsonl").read_bytes()
    assert r_batch["tokens_in"] == r_online["tokens_in"] > 0
    # costs are reported to 6 decimals, so halving may differ by one unit in the last place
    assert r_batch["estimated_cost_usd"] == pytest.approx(r_online["estimated_cost_usd"] / 2, abs=1e-6)
    assert not list((batch / "cache/batches").glob("*.json"))  # finished batches leave no state


def test_a_killed_batch_run_resumes_by_polling_the_same_batch(tmp_path, monkeypatch, raw_params):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI(batch_polls=2) as srv:
        ws = make_workspace(tmp_path, raw_params, srv.base_url, batch_api=True)
        from gendiv.generate import topics

        real_collect = BatchBackend._collect

        def killed(self, *args, **kw):
            raise KeyboardInterrupt("killed while waiting for the batch")

        monkeypatch.setattr(BatchBackend, "_collect", killed)
        with pytest.raises(KeyboardInterrupt):
            topics.main(params=ws / "params.yaml", cache_dir=ws / "cache", out_dir=ws / "out")
        assert len(srv.batches) == 1 and len(list((ws / "cache/batches").glob("*.json"))) == 1
        monkeypatch.setattr(BatchBackend, "_collect", real_collect)
        topics.main(params=ws / "params.yaml", cache_dir=ws / "cache", out_dir=ws / "out")
        first_batch_reused = srv.batches["batch-0"]["status"] == "completed"
    assert first_batch_reused and read_json(ws / "out/topics.json")["size"] == 40


# -- faults: nothing paid is lost, nothing failed is cached, the data equals a fault-free run's --------


def _topics(ws):
    from gendiv.generate import topics

    topics.main(params=ws / "params.yaml", cache_dir=ws / "cache", out_dir=ws / "out")


def _reference(tmp_path, monkeypatch, raw_params, story: bool = False) -> dict[str, bytes]:
    """The data files of a fault-free batch run."""
    ref = tmp_path / "reference"
    ref.mkdir()
    monkeypatch.chdir(ref)
    with FakeOpenAI() as srv:
        make_workspace(ref, copy.deepcopy(raw_params), srv.base_url, batch_api=True)
        _run(ref) if story else _topics(ref)
    return {
        name: (ref / "out" / name).read_bytes()
        for name in (["topics.json", "d0/train.jsonl"] if story else ["topics.json"])
    }


def _each_answer_bought_once(srv, ws) -> None:
    """Every answer the server delivered was delivered once and read: no batch paid twice or orphaned."""
    delivered = Counter(k for b in srv.batches.values() for k in b["delivered"])
    assert delivered and set(delivered.values()) == {1}
    assert all(srv.downloads[b["output"]] for b in srv.batches.values() if b.get("output"))
    assert not list((ws / "cache/batches").glob("*.json"))


def _crash_on(monkeypatch, cls, name: str, after: bool, hit: int, exc: BaseException) -> None:
    """Raise exc at the hit-th call of cls.name, before or after the real call went out."""
    real, calls = getattr(cls, name), Counter()

    def wrapped(self, *args, **kw):
        calls[name] += 1
        if calls[name] == hit and not after:
            raise exc
        out = real(self, *args, **kw)
        if calls[name] == hit:
            raise exc
        return out

    monkeypatch.setattr(cls, name, wrapped)


def test_failed_lines_are_not_cached_but_sent_again_in_the_same_run(tmp_path, monkeypatch, raw_params, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    expected = _reference(tmp_path, monkeypatch, raw_params)
    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.chdir(ws)
    with FakeOpenAI(batch_faults=("line_errors", "expired", "malformed")) as srv:
        make_workspace(ws, raw_params, srv.base_url, batch_api=True)
        _topics(ws)
        resent = Counter(line["custom_id"] for b in list(srv.batches.values())[1:] for line in b["lines"])
    first = srv.batches["batch-0"]
    failed = {line["custom_id"] for line in first["lines"]} - set(first["delivered"])
    assert failed and set(resent) >= failed  # 500, 429 and null lines went out again
    assert (ws / "out/topics.json").read_bytes() == expected["topics.json"]
    _each_answer_bought_once(srv, ws)
    report = read_json(ws / "out/topics.report.json")
    assert report["retries"] >= len(failed) and report["calls"] == sum(
        len(b["delivered"]) for b in srv.batches.values()
    )
    err = capsys.readouterr().err
    assert "batch batch-0 completed" in err and "x 429" in err and "x 500" in err and "x server_error" in err
    assert "batch batch-1 expired" in err and "x batch_expired" in err
    assert "malformed line(s) skipped" in err and "duplicate line(s) skipped" in err and "x no line" in err


def test_failed_and_cancelled_batches_stop_with_one_line_after_every_other_batch_is_collected(
    tmp_path, monkeypatch, raw_params, capsys
):
    """Four batches of at most 5 requests; the 2nd fails, the 4th is cancelled: the other two are
    collected and cached; exit 2 names both; the rerun sends exactly their requests."""
    import gendiv.llm.batch as batch_mod
    from gendiv import cli

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    expected = _reference(tmp_path, monkeypatch, raw_params)
    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.chdir(ws)
    monkeypatch.setattr(batch_mod, "MAX_REQUESTS", 5)
    monkeypatch.setattr(
        "sys.argv", ["gendiv", "generate-topics", "--params", "params.yaml", "--cache-dir", "cache", "--out-dir", "out"]
    )
    with FakeOpenAI(batch_polls=3, batch_faults=("ok", "failed", "ok", "cancelled")) as srv:
        make_workspace(ws, raw_params, srv.base_url, batch_api=True)
        with pytest.raises(SystemExit) as done:
            cli.main()
        assert done.value.code == 2 and len(srv.batches) == 4
        assert all(srv.batches[b].get("output") in srv.downloads for b in ("batch-0", "batch-2"))  # collected
        message = capsys.readouterr().err.strip().splitlines()[-1]
        assert "batch-1 ended as 'failed'" in message and "token_limit_exceeded" in message
        assert "batch-3 ended as 'cancelled'" in message and "Traceback" not in message
        lost = {line["custom_id"] for bid in ("batch-1", "batch-3") for line in srv.batches[bid]["lines"]}
        _topics(ws)
    assert {line["custom_id"] for line in srv.batches["batch-4"]["lines"]} | (
        {line["custom_id"] for line in srv.batches["batch-5"]["lines"]} if "batch-5" in srv.batches else set()
    ) == lost
    assert (ws / "out/topics.json").read_bytes() == expected["topics.json"]
    _each_answer_bought_once(srv, ws)


@pytest.mark.parametrize(
    "point", ["before_upload", "upload", "create", "create_reply_lost", "poll", "download", "store"]
)
def test_a_kill_at_any_point_of_a_batch_round_loses_no_paid_work(tmp_path, monkeypatch, raw_params, point):
    """Interrupt (as Ctrl-C does) at one step of the 2nd of 4 batches; the rerun pays for nothing twice."""
    import openai
    from openai.resources.batches import Batches
    from openai.resources.files import Files

    import gendiv.llm.batch as batch_mod
    from gendiv.llm.cache import CallCache

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    expected = _reference(tmp_path, monkeypatch, raw_params)
    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.chdir(ws)
    monkeypatch.setattr(batch_mod, "MAX_REQUESTS", 5)
    lost_reply = openai.APIConnectionError(request=None)  # the batch was created, its reply lost
    where = {
        "before_upload": (Files, "create", False),
        "upload": (Files, "create", True),
        "create": (Batches, "create", True),
        "create_reply_lost": (Batches, "create", True),
        "poll": (Batches, "retrieve", False),
        "download": (Files, "content", True),
        "store": (CallCache, "put_many", True),
    }[point]
    with FakeOpenAI(batch_polls=2) as srv:
        make_workspace(ws, raw_params, srv.base_url, batch_api=True)
        with monkeypatch.context() as m:
            _crash_on(m, *where, hit=2, exc=lost_reply if point == "create_reply_lost" else KeyboardInterrupt())
            try:
                _topics(ws)
            except KeyboardInterrupt:
                pass
        _topics(ws)
    assert (ws / "out/topics.json").read_bytes() == expected["topics.json"]
    submitted = Counter(line["custom_id"] for b in srv.batches.values() for line in b["lines"])
    assert set(submitted.values()) == {1}  # no request was sent twice
    _each_answer_bought_once(srv, ws)


def test_a_batch_the_endpoint_no_longer_knows_is_sent_again(tmp_path, monkeypatch, raw_params, capsys):
    from openai.resources.batches import Batches

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    expected = _reference(tmp_path, monkeypatch, raw_params)
    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.chdir(ws)
    with FakeOpenAI() as srv:
        make_workspace(ws, raw_params, srv.base_url, batch_api=True)
        with monkeypatch.context() as m:
            _crash_on(m, Batches, "retrieve", hit=1, after=False, exc=KeyboardInterrupt())
            with pytest.raises(KeyboardInterrupt):
                _topics(ws)
        del srv.batches["batch-0"]  # e.g. the run resumed with another account's key
        _topics(ws)
    assert (ws / "out/topics.json").read_bytes() == expected["topics.json"]
    assert "batch batch-0 is unknown to the endpoint" in capsys.readouterr().err


def test_sigterm_while_waiting_for_a_batch_then_rerun(tmp_path, monkeypatch, raw_params):
    """A real SIGTERM to `gendiv generate-topics` while it polls: the rerun collects the same batch."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    expected = _reference(tmp_path, monkeypatch, raw_params)
    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.chdir(ws)
    with FakeOpenAI(batch_polls=10**9) as srv:
        make_workspace(ws, raw_params, srv.base_url, batch_api=True)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gendiv.cli",
                "generate-topics",
                "--params",
                "params.yaml",
                "--cache-dir",
                "cache",
                "--out-dir",
                "out",
            ],
            cwd=ws,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while not (srv.batches and srv.batches["batch-0"]["polls"] >= 3) and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) != 0, proc.stderr.read()
        srv.batch_polls = 1
        _topics(ws)
    assert (ws / "out/topics.json").read_bytes() == expected["topics.json"]
    submitted = Counter(line["custom_id"] for b in srv.batches.values() for line in b["lines"])
    assert set(submitted.values()) == {1}
    _each_answer_bought_once(srv, ws)


def test_a_fault_sequence_and_reruns_give_the_fault_free_data(tmp_path, monkeypatch, raw_params):
    """Every batch fault the server knows, a kill after a create, and reruns until the stage
    finishes: the story data and topics equal a fault-free run's byte for byte."""
    from openai.resources.batches import Batches

    import gendiv.llm.batch as batch_mod
    from gendiv.errors import UserError

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    expected = _reference(tmp_path, monkeypatch, raw_params, story=True)
    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.chdir(ws)
    monkeypatch.setattr(batch_mod, "MAX_REQUESTS", 8)
    faults = (
        "expired",
        "line_errors",
        "malformed",
        "refused",
        "failed",
        "ok",
        "cancelled",
        "line_errors",
        "expired",
        "malformed",
        "refused",
    )
    stops = 0
    with FakeOpenAI(batch_polls=3, batch_faults=faults) as srv:
        make_workspace(ws, raw_params, srv.base_url, batch_api=True)
        with monkeypatch.context() as m:
            _crash_on(m, Batches, "create", hit=6, after=True, exc=KeyboardInterrupt())
            for _ in range(20):
                try:
                    _run(ws)
                    break
                except (UserError, KeyboardInterrupt):
                    stops += 1
        assert not srv.batch_faults and stops >= 4
    for name, data in expected.items():
        assert (ws / "out" / name).read_bytes() == data
    _each_answer_bought_once(srv, ws)
