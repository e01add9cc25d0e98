"""openai Batch API mode against the local server: same data as online, resumable by batch id."""

from __future__ import annotations

import copy

import pytest

from gendiv.io import read_json
from gendiv.llm.batch import BatchBackend
from gen_helpers import make_workspace
from openai_server import FakeOpenAI


def _run(ws, level=0):
    from gendiv import topic_guided, topics

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
        assert len(srv.batches) >= 2 and r_batch["batch_ids"]      # topics and story rounds went as batches
    assert (online / "out/d0.jsonl").read_bytes() == (batch / "out/d0.jsonl").read_bytes()
    assert r_batch["tokens_in"] == r_online["tokens_in"] > 0
    # costs are reported to 6 decimals, so halving may differ by one unit in the last place
    assert r_batch["estimated_cost_usd"] == pytest.approx(r_online["estimated_cost_usd"] / 2, abs=1e-6)
    assert not list((batch / "cache/batches").glob("*.json"))        # finished batches leave no state


def test_a_killed_batch_run_resumes_by_polling_the_same_batch(tmp_path, monkeypatch, raw_params):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI(batch_polls=2) as srv:
        ws = make_workspace(tmp_path, raw_params, srv.base_url, batch_api=True)
        from gendiv import topics

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
