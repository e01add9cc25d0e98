"""Real-data stage: schema, determinism, document-level QA split, hub parsing, offline errors."""

import hashlib
import subprocess
import sys

import pytest
import yaml

from gendiv import prepare_real
from gendiv.io import read_jsonl
from gendiv.params import validate


def _params(raw, repo, **story):
    raw["data"]["bundled_dir"] = str(repo / raw["data"]["bundled_dir"])
    raw["data"]["story"].update(story)
    return validate(raw, root=repo)


def _digest(folder):
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.glob("*.jsonl"))}


@pytest.mark.parametrize("task", ["story", "qa"])
def test_same_seed_gives_byte_identical_files(raw_params, repo, tmp_path, task):
    p = _params(raw_params, repo)
    prepare_real.run(p, task, tmp_path / "a")
    prepare_real.run(p, task, tmp_path / "b")
    a, b = _digest(tmp_path / "a/data/real" / task), _digest(tmp_path / "b/data/real" / task)
    assert a == b and set(a) == {"train.jsonl", "test.jsonl"}


def test_other_seed_gives_other_split(raw_params, repo, tmp_path):
    p0 = _params(raw_params, repo)
    raw_params["seed"] = 1
    p1 = validate(raw_params, root=repo)
    prepare_real.run(p0, "story", tmp_path / "a")
    prepare_real.run(p1, "story", tmp_path / "b")
    assert _digest(tmp_path / "a/data/real/story") != _digest(tmp_path / "b/data/real/story")


def test_story_schema_and_sizes(raw_params, repo, tmp_path):
    p = _params(raw_params, repo, n_train=30, n_test=20)
    summary = prepare_real.run(p, "story", tmp_path)
    train = read_jsonl(tmp_path / "data/real/story/train.jsonl")
    test = read_jsonl(tmp_path / "data/real/story/test.jsonl")
    assert (len(train), len(test)) == (30, 20) == (summary["n_train"], summary["n_test"])
    assert set(train[0]) == {"id", "context", "completion"}
    assert not {r["id"] for r in train} & {r["id"] for r in test}
    for row in train:
        assert len(prepare_real.split_sentences(row["context"])) >= 4
        assert row["completion"] and row["completion"] not in row["context"]


def test_qa_split_by_document(raw_params, repo, tmp_path):
    p = _params(raw_params, repo)
    prepare_real.run(p, "qa", tmp_path)
    train = read_jsonl(tmp_path / "data/real/qa/train.jsonl")
    test = read_jsonl(tmp_path / "data/real/qa/test.jsonl")
    train_docs = {r["document_id"] for r in train}
    test_docs = {r["document_id"] for r in test}
    assert len(train_docs) == p.data.qa.n_train_docs and len(test_docs) == p.data.qa.n_test_docs
    assert not train_docs & test_docs
    assert len(train) == p.data.qa.n_train_docs * p.data.qa.qa_per_doc
    assert set(train[0]) == {"id", "document_id", "context", "question", "answer"}
    assert all(len(r["context"].split()) <= p.data.qa.max_context_words for r in train + test)
    assert all(r["question"] and r["answer"] for r in train + test)


def test_story_record_parsing_handles_both_hub_layouts():
    cols = {"storyid": "s1", **{f"sentence{i}": f"Sentence {i}." for i in range(1, 6)}}
    row = prepare_real.story_row_from_record(cols, 0)
    assert row == {"id": "s1", "context": "Sentence 1. Sentence 2. Sentence 3. Sentence 4.",
                   "completion": "Sentence 5."}
    text = {"text": "Tom ran. He fell! Was he hurt? He cried. Mom came."}
    row = prepare_real.story_row_from_record(text, 7)
    assert row["id"] == "story-7" and row["completion"] == "Mom came."
    assert prepare_real.story_row_from_record({"text": "Only two. Sentences here."}, 0) is None
    with pytest.raises(prepare_real.DataSourceError, match="neither sentence1"):
        prepare_real.story_row_from_record({"body": "x"}, 0)


def test_narrativeqa_record_is_flattened():
    record = {"document": {"id": "d1", "summary": {"text": "A long plot."}},
              "question": {"text": "Who?"}, "answers": [{"text": "Ann"}, {"text": "Ann B."}]}
    assert prepare_real.qa_rows_from_hub_record(record) == {
        "document_id": "d1", "context": "A long plot.", "question": "Who?", "answer": "Ann"}


def test_hub_source_offline_is_a_clear_error(raw_params, repo, tmp_path):
    raw_params["data"]["source"] = "hub"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw_params))
    res = subprocess.run([sys.executable, "-m", "gendiv.prepare_real", "--task", "story"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2
    assert "data.source = hub" in res.stderr and "offline, use data.source: bundled" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "data/real").exists()
