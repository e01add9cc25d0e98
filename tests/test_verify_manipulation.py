"""`gendiv verify` recomputes every number of metrics/manipulation/{task}.json and fails on a mismatch."""

import json
import random
import shutil

import numpy as np
import pytest
import yaml

from gendiv import verify
from gendiv.config import load_params
from gendiv.io import write_json, write_jsonl
from gendiv.measure import stage
from gendiv.measure.embeddings import TOPICS_EMBEDDINGS, TOPICS_FILE, embedding_path, save_array
from gendiv.measure.sets import measured_sets, set_path

WORDS = "tom anna went to the store park school bought found lost a red blue ball book cake".split()
TOPICS = ["cats", "rain", "ships"]


def _text(rng, k):
    return " ".join(rng.choice(WORDS) for _ in range(k))


def _rows(task, name, rng):
    if task == "story":
        rows = [{"id": str(i), "context": _text(rng, 8), "completion": _text(rng, 4)} for i in range(12)]
        return [{**r, "topic": TOPICS[i % 3], "generator": "g"} for i, r in enumerate(rows)] if name[0] == "d" else rows
    docs = 1 if name == "real_test" else 3  # one test document: its standard errors are undefined (null)
    rows = [
        {
            "id": str(i),
            "document_id": f"doc{i % docs}",
            "context": "c",
            "question": _text(rng, 5),
            "answer": _text(rng, 2),
        }
        for i in range(12)
    ]
    return (
        [{**r, "kind": "paraphrase" if i % 2 else "generated", "generator": "g"} for i, r in enumerate(rows)]
        if name[0] == "d"
        else rows
    )


@pytest.fixture
def workspace(raw_params, repo, tmp_path, monkeypatch):
    """A repository with real, real_test and every Gen-D level of both tasks, embeddings, and recorded checks."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(repo / "data/bundled", tmp_path / "data/bundled")  # params.yaml names this folder
    raw_params["levels"] = [0, 2, 4, 6]  # the checks below name level 2
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw_params))
    p = load_params(tmp_path / "params.yaml")
    rng, vectors = random.Random(0), np.random.default_rng(0)
    write_json(TOPICS_FILE, {"topics": TOPICS})
    save_array(TOPICS_EMBEDDINGS, np.eye(3, 8, dtype=np.float32))
    for task in ("story", "qa"):
        for name in ("real", "real_test", *[f"d{level}" for level in p.levels]):
            write_jsonl(set_path(task, name), _rows(task, name, rng))
            x = vectors.normal(size=(12, 8))
            save_array(embedding_path(task, name), (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32))
        sets = [(name, tmp_path / path) for name, path in measured_sets(p, task)]
        write_json(stage.MANIPULATION_DIR / f"{task}.json", stage.compute_manipulation(p, task, sets, root=tmp_path))
    return p, tmp_path


def test_recorded_manipulation_numbers_pass_and_a_tampered_one_fails(workspace, monkeypatch, capsys):
    p, root = workspace
    checks = verify.check_manipulation(p, root, "story", 1e-6)
    keys = {c.what for c in checks}
    assert {
        "manipulation story/n_per_set",
        "manipulation story/sets.d2.topic_adherence.value",
        "manipulation story/sets.real.vendi.se",
        "manipulation story/sets.d0.distinct_5.n",
    } <= keys
    assert all(c.ok for c in checks)
    qa = verify.check_manipulation(p, root, "qa", 1e-6)
    assert all(c.ok for c in qa) and any(c.what == "manipulation qa/sets.real_test.vendi.se" for c in qa)

    path = root / "metrics/manipulation/story.json"
    record = json.loads(path.read_text())
    record["sets"]["d2"]["topic_adherence"]["value"] += 0.01
    path.write_text(json.dumps(record))
    failed = [c.what for c in verify.check_manipulation(p, root, "story", 1e-6) if not c.ok]
    assert failed == ["manipulation story/sets.d2.topic_adherence.value"]

    # the command: exit 1 naming the tampered number (the other checks are not under test here)
    monkeypatch.setattr(verify, "check_diversity", lambda *args: [])
    with pytest.raises(SystemExit) as exit_info:
        verify.main(
            loss_tol=1e-4,
            metric_tol=1e-6,
            test_file=None,
            task=None,
            out=None,
            skip_losses=True,
            skip_diversity=False,
            params=root / "params.yaml",
        )
    assert exit_info.value.code == 1
    assert "manipulation story/sets.d2.topic_adherence.value" in capsys.readouterr().out.split("FAIL")[0]


def test_a_missing_record_or_number_fails(workspace):
    p, root = workspace
    path = root / "metrics/manipulation/qa.json"
    record = json.loads(path.read_text())
    del record["sets"]["d0"]["near_duplicate_share"]["se"]
    path.write_text(json.dumps(record))
    failed = [c.what for c in verify.check_manipulation(p, root, "qa", 1e-6) if not c.ok]
    assert failed == ["manipulation qa/sets.d0.near_duplicate_share.se"]
    path.unlink()
    (check,) = verify.check_manipulation(p, root, "qa", 1e-6)
    assert not check.ok and "missing" in check.what
