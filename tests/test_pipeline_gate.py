"""The check_params gate: an invalid params value stops `dvc repro` before outputs are touched."""

import hashlib

from workspace import copy_workspace, dvc, edit_params


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_invalid_params_fail_before_any_output_is_touched(tmp_path):
    ws = copy_workspace(tmp_path)
    dvc(ws, "repro", "prepare_real@story")
    train = ws / "data/real/story/train.jsonl"
    before = _sha(train)

    edit_params(ws, {"data.story.n_train": 10**6})
    res = dvc(ws, "repro", "prepare_real@story", check=False)
    assert res.returncode != 0
    assert "data.story.n_train + data.story.n_test" in res.stdout + res.stderr
    assert train.is_file() and _sha(train) == before

    # A typo that `dvc exp run -S` would add silently is caught the same way.
    edit_params(ws, {"data.story.n_train": 100, "train.lora_rank": 4})
    res = dvc(ws, "repro", "prepare_real@story", check=False)
    assert res.returncode != 0 and "did you mean 'train.lora_r'" in res.stdout + res.stderr
    assert _sha(train) == before


def test_valid_unrelated_change_reruns_nothing_downstream(tmp_path):
    ws = copy_workspace(tmp_path)
    dvc(ws, "repro", "prepare_real@story")
    edit_params(ws, {"train.lora_dropout": 0.1})
    out = dvc(ws, "repro", "prepare_real@story").stdout
    assert "Running stage 'check_params'" in out
    assert "Running stage 'prepare_real@story'" not in out
