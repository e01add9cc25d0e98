"""`gendiv estimate` and `generator.max_cost_usd` against the local OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gen_helpers import make_workspace, set_params
from gendiv.config import load_params
from gendiv.generate.estimate import estimate
from gendiv.io import read_json, read_jsonl
from gendiv.llm.budget import BudgetExceeded
from gendiv.llm.report import usd
from openai_server import FakeOpenAI

SECRET = "sk-test-do-not-leak-4242"


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)


def _topics(ws: Path) -> dict:
    from gendiv.generate import topics

    topics.main(params=ws / "params.yaml", cache_dir=ws / "cache", out_dir=ws / "out")
    return read_json(ws / "out/topics.report.json")


def _story(ws: Path, level: int = 0) -> dict:
    from gendiv.generate import story as topic_guided

    topic_guided.main(level=level, params=ws / "params.yaml", cache_dir=ws / "cache", out_dir=ws / "out")
    return read_json(ws / "out" / f"d{level}.report.json")


def _estimate(ws: Path) -> dict[str, dict]:
    return {r["stage"]: r for r in estimate(load_params(ws / "params.yaml"), ws / "cache", ws)}


def test_estimate_makes_no_call_and_predicts_the_calls_of_the_run(tmp_path, monkeypatch, raw_params):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI() as srv:
        ws = make_workspace(tmp_path, raw_params, srv.base_url)
        g = load_params(ws / "params.yaml").generator
        before = _estimate(ws)
        assert srv.calls == 0 and sum(srv.arrivals.values()) == 0
        topics = _topics(ws)
        assert before["generate-topics"]["calls"] == topics["calls"] == 16  # one round filled the pool
        assert (
            before["generate-story --level 0"]["calls"] == 20 and before["generate-story --level 0"]["cache_hits"] == 0
        )

        sent = srv.calls
        mid = _estimate(ws)
        assert srv.calls == sent  # the estimate asked nothing
        assert mid["generate-topics"]["calls"] == 0 and mid["generate-topics"]["cache_hits"] == topics["calls"]
        row = mid["generate-story --level 0"]
        assert row["calls"] == 20 and row["tokens_in"] > 0 and row["tokens_out_max"] == 20 * g.max_new_tokens
        assert row["usd_max"] == usd(g, row["tokens_in"], row["tokens_out_max"]) > 0
        assert _story(ws, 0)["calls"] == row["calls"] == srv.calls - sent

        from gendiv.generate import qa_pool as paraphrase_qa

        sent = srv.calls
        paraphrase_qa.pool_main(params=ws / "params.yaml", cache_dir=ws / "cache", out_dir=ws / "out")
        assert read_json(ws / "out/pool.report.json")["calls"] == mid["generate-qa-pool"]["calls"] == srv.calls - sent

        after = _estimate(ws)
        assert after["generate-story --level 0"]["calls"] == 0 and after["generate-story --level 0"]["cache_hits"] == 20
        assert after["generate-qa-pool"]["calls"] == 0 and after["generate-story --level 2"]["calls"] == 20


def test_estimate_command_prints_a_table_and_needs_no_key(tmp_path, raw_params):
    ws = make_workspace(tmp_path, raw_params, "http://127.0.0.1:9/v1")  # nothing listens there
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    env["PYTHONPATH"] = str(Path(__file__).parents[2] / "src")
    res = subprocess.run(
        [sys.executable, "-m", "gendiv.generate.estimate", "--cache-dir", "cache", "--out", "est.json"],
        cwd=ws,
        env=env,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert "generate-story --level 0" in res.stdout and "USD (max)" in res.stdout and "4 chars/token" in res.stdout
    stages = json.loads((ws / "est.json").read_text())["stages"]
    assert [s["stage"] for s in stages][:2] == ["generate-topics", "generate-story --level 0"]


def _cached_cost(ws: Path, g) -> float:
    rows = sqlite3.connect(ws / "cache/calls.sqlite").execute("SELECT value FROM calls").fetchall()
    answers = [json.loads(v) for (v,) in rows]
    return sum(usd(g, a["tokens_in"], a["tokens_out"]) for a in answers if a["request"]["sample"].startswith("story/"))


def test_the_cost_cap_stops_before_it_is_passed_and_a_higher_cap_resumes(tmp_path, monkeypatch, raw_params):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI() as srv:
        ws = make_workspace(tmp_path, raw_params, srv.base_url, price_in_per_mtok=1000.0, price_out_per_mtok=1000.0)
        _topics(ws)
        set_params(ws, "generator", max_cost_usd=3.0)
        sent = srv.calls
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "src")])}
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "gendiv.generate.story",
                "--level",
                "0",
                "--params",
                "params.yaml",
                "--cache-dir",
                "cache",
                "--out-dir",
                "out",
            ],
            cwd=ws,
            env=env,
            capture_output=True,
            text=True,
        )
        lines = [ln for ln in res.stderr.splitlines() if ln.startswith("gendiv:")]
        assert res.returncode == 2 and len(lines) == 1 and "generator.max_cost_usd = 3" in lines[0], res.stderr
        assert "Traceback" not in res.stderr and not (ws / "out/d0/train.jsonl").exists()
        g = load_params(ws / "params.yaml").generator
        first = srv.calls - sent
        assert 0 < first < 20 and _cached_cost(ws, g) <= 3.0

        with pytest.raises(BudgetExceeded):  # the same cap stops at the same place, asking nothing
            _story(ws, 0)
        assert srv.calls - sent == first

        set_params(ws, "generator", max_cost_usd=1000.0)
        report = _story(ws, 0)
        assert report["calls"] == 20 - first and report["cache_hits"] == first and srv.calls - sent == 20
        assert max(srv.arrivals.values()) == 1  # no request was sent twice
        assert len(read_jsonl(ws / "out/d0/train.jsonl")) == 20
