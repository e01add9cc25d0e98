"""Real-data stage: schema, determinism, document-level QA split, hub parsing, offline errors."""

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gendiv.columns import COLUMNS, NO_LEVEL
from gendiv.config import validate
from gendiv.io import read_jsonl
from gendiv.prepare import real as prepare_real

REPO = Path(__file__).resolve().parents[2]


def _params(raw, repo, **story):
    raw["data"]["story"].update(story)
    return validate(raw, root=repo)


def _ws(root: Path) -> Path:
    """A stage root holding a copy of the bundled sample (data.bundled_dir is fixed by dvc.yaml)."""
    shutil.copytree(REPO / "data/bundled", root / "data/bundled", dirs_exist_ok=True)
    return root


def _digest(folder):
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.glob("*")) if f.suffix != ".json"}


@pytest.mark.parametrize("task", ["story", "qa"])
def test_same_seed_gives_byte_identical_files(raw_params, repo, tmp_path, task):
    p = _params(raw_params, repo)
    prepare_real.run(p, task, _ws(tmp_path / "a"))
    prepare_real.run(p, task, _ws(tmp_path / "b"))
    a, b = _digest(tmp_path / "a/data/real" / task), _digest(tmp_path / "b/data/real" / task)
    assert a == b and set(a) == {"train.jsonl", "test.jsonl", "README.md"}


def test_other_seed_gives_other_split(raw_params, repo, tmp_path):
    p0 = _params(raw_params, repo)
    raw_params["seed"] = 1
    p1 = validate(raw_params, root=repo)
    prepare_real.run(p0, "story", _ws(tmp_path / "a"))
    prepare_real.run(p1, "story", _ws(tmp_path / "b"))
    assert _digest(tmp_path / "a/data/real/story") != _digest(tmp_path / "b/data/real/story")


def test_story_schema_and_sizes(raw_params, repo, tmp_path):
    p = _params(raw_params, repo, n_train=30, n_test=20)
    summary = prepare_real.run(p, "story", _ws(tmp_path))
    train = read_jsonl(tmp_path / "data/real/story/train.jsonl")
    test = read_jsonl(tmp_path / "data/real/story/test.jsonl")
    assert (len(train), len(test)) == (30, 20) == (summary["n_train"], summary["n_test"])
    assert list(train[0]) == [c.name for c in COLUMNS["story"]]  # the one schema, real rows included
    assert {(r["source"], r["level"], r["generator"]) for r in train + test} == {("real", NO_LEVEL, "")}
    assert not {r["id"] for r in train} & {r["id"] for r in test}
    for row in train:
        assert len(prepare_real.split_sentences(row["context"])) >= 4
        assert row["completion"] and row["completion"] not in row["context"]


def test_qa_split_by_document(raw_params, repo, tmp_path):
    p = _params(raw_params, repo)
    prepare_real.run(p, "qa", _ws(tmp_path))
    train = read_jsonl(tmp_path / "data/real/qa/train.jsonl")
    test = read_jsonl(tmp_path / "data/real/qa/test.jsonl")
    train_docs = {r["document_id"] for r in train}
    test_docs = {r["document_id"] for r in test}
    assert len(train_docs) == p.data.qa.n_train_docs and len(test_docs) == p.data.qa.n_test_docs
    assert not train_docs & test_docs
    assert len(train) == p.data.qa.n_train_docs * p.data.qa.qa_per_doc
    assert list(train[0]) == [c.name for c in COLUMNS["qa"]]
    assert {(r["source"], r["kind"], r["source_id"]) for r in train + test} == {("real", "real", "")}
    assert all(len(r["context"].split()) <= p.data.qa.max_context_words for r in train + test)
    assert all(r["question"] and r["answer"] for r in train + test)


def test_story_record_parsing_handles_both_hub_layouts():
    cols = {"storyid": "s1", **{f"sentence{i}": f"Sentence {i}." for i in range(1, 6)}}
    row = prepare_real.story_row_from_record(cols, 0)
    assert row == {
        "id": "s1",
        "context": "Sentence 1. Sentence 2. Sentence 3. Sentence 4.",
        "completion": "Sentence 5.",
    }
    text = {"text": "Tom ran. He fell! Was he hurt? He cried. Mom came."}
    row = prepare_real.story_row_from_record(text, 7)
    assert row["id"] == "story-7" and row["completion"] == "Mom came."
    assert prepare_real.story_row_from_record({"text": "Only two. Sentences here."}, 0) is None
    with pytest.raises(prepare_real.DataSourceError, match="neither sentence1"):
        prepare_real.story_row_from_record({"body": "x"}, 0)


def test_narrativeqa_record_is_flattened():
    record = {
        "document": {"id": "d1", "summary": {"text": "A long plot."}},
        "question": {"text": "Who?"},
        "answers": [{"text": "Ann"}, {"text": "Ann B."}],
    }
    assert prepare_real.qa_rows_from_hub_record(record) == {
        "document_id": "d1",
        "context": "A long plot.",
        "question": "Who?",
        "answer": "Ann",
    }


def test_hub_source_offline_is_a_clear_error(raw_params, repo, tmp_path):
    raw_params["data"]["source"] = "hub"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw_params))
    res = subprocess.run(
        [sys.executable, "-m", "gendiv.prepare.real", "--task", "story"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 2
    assert "data.source = hub" in res.stderr and "offline, use data.source: bundled" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "data/real").exists()


@pytest.mark.parametrize("task", ["story", "qa"])
def test_malformed_bundled_data_exits_2_with_file_and_line_and_writes_nothing(raw_params, tmp_path, task):
    """A bad line in the bundled sample: one line naming file and line, exit 2, no output (issue 14 item 9)."""
    root = _ws(tmp_path)
    name = "rocstories/stories.csv" if task == "story" else "narrativeqa/summaries.jsonl"
    path = root / "data/bundled" / name
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[3] = 's9,"one\ntwo",b,c,d,e' if task == "story" else '{"document_id": "d", "summary": '
    path.write_text("\n".join(lines), encoding="utf-8")
    (root / "params.yaml").write_text(yaml.safe_dump(raw_params))
    res = subprocess.run(
        [sys.executable, "-m", "gendiv.cli", "prepare-real", "--task", task],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 2, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and f"{path}:4: " in res.stderr
    assert "Traceback" not in res.stderr
    assert not (root / "data/real").exists()
