"""QA levels: the pool, then level selection by r_i (and past questions the pool gave up)."""

from __future__ import annotations

from collections import Counter

from gen_helpers import make_workspace
from gendiv.generate import qa as pq
from gendiv.generate import qa_pool
from gendiv.io import read_json, read_jsonl
from gendiv.llm import Reject
from openai_server import FakeOpenAI


def test_pool_and_levels(tmp_path, monkeypatch, raw_params):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAI(malformed_every=4) as srv:  # every level's selection, not only the default's
        ws = make_workspace(tmp_path, raw_params, srv.base_url, levels=range(7))
        qa_pool.pool_main(params=ws / "params.yaml", cache_dir=ws / "cache", out_dir=ws / "out")
        calls = srv.calls
        for level in range(7):
            pq.level_main(level=level, params=ws / "params.yaml", out_dir=ws / "out")
        assert srv.calls == calls  # levels only select from the pool
    n, m_p, r = 12, raw_params["qa_gen"]["paraphrases_per_question"], raw_params["qa_gen"]["replaced_questions"]
    pool = read_jsonl(ws / "out/pool.jsonl")
    kinds = Counter(row["kind"] for row in pool)
    assert kinds == {"generated": 3 * n, "paraphrase": 3 * max(r) * m_p}
    assert read_json(ws / "out/pool.report.json")["rejects_total"] > 0
    real = {row["id"]: row for row in read_jsonl(ws / "data/real/qa/train.jsonl")}
    previous_sources = None
    for level in range(7):
        rows = read_jsonl(ws / f"out/d{level}/train.jsonl")
        assert len(rows) == 3 * n
        para = [row for row in rows if row["kind"] == "paraphrase"]
        assert len(para) == 3 * m_p * r[level]
        for row in para:
            src = real[row["id"].split("-p")[0]]
            assert row["answer"] == src["answer"] and row["source_question"] == src["question"]
            assert row["question"] != src["question"] and row["context"] == src["context"]
        assert all(row["source_question"] == "" for row in rows if row["kind"] == "generated")
        assert {row["level"] for row in rows} == {level}
        sources = {row["source_question"] for row in para}
        if previous_sources is not None:
            assert sources <= previous_sources  # fewer replaced questions at higher levels
        previous_sources = sources


def test_a_question_the_generator_cannot_rewrite_is_replaced(tmp_path, monkeypatch, raw_params):
    """Gemma 3 270M copied one real question back in every answer (the embedded run failed on
    it): its paraphrases are given up and the context's next question is paraphrased instead."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAI() as srv:
        ws = make_workspace(tmp_path, raw_params, srv.base_url)
        p = pq.load_params(ws / "params.yaml")
        by_doc = qa_pool.contexts(read_jsonl(ws / "data/real/qa/train.jsonl"))
        doc, real = next(iter(by_doc.items()))
        order = qa_pool.chosen_questions(real, len(real), p.seed)
        stuck = order[0]
        parse = qa_pool.parse_paraphrase

        def copies_the_stuck_question(text, original):
            if original == stuck["question"]:
                raise Reject("unchanged")
            return parse(text, original)

        monkeypatch.setattr(qa_pool, "parse_paraphrase", copies_the_stuck_question)
        qa_pool.pool_main(params=ws / "params.yaml", cache_dir=ws / "cache", out_dir=ws / "out")
        pq.level_main(level=0, params=ws / "params.yaml", out_dir=ws / "out")
    r, m_p = max(p.qa_gen.replaced_questions), p.qa_gen.paraphrases_per_question
    report = read_json(ws / "out/pool.report.json")
    assert report["questions_not_paraphrased"] == [stuck["id"]]
    pool = read_jsonl(ws / "out/pool.jsonl")
    sources = {row["source_id"] for row in pool if row["kind"] == "paraphrase" and row["document_id"] == doc}
    assert stuck["id"] not in sources and sources == {s["id"] for s in order[1 : r + 1]}
    level0 = [row for row in read_jsonl(ws / "out/d0/train.jsonl") if row["document_id"] == doc]
    assert sum(row["kind"] == "paraphrase" for row in level0) == r * m_p
    assert stuck["question"] not in {row["source_question"] for row in level0}
