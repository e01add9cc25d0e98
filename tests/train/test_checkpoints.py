"""Checkpoints: a run resumes only from a complete checkpoint of the very same run."""

import json
import shutil

import pytest
from test_finetune import _stories, params_for, tiny_dir  # noqa: F401 (fixtures)

from gendiv.io import write_jsonl
from gendiv.train.checkpoints import COMPLETE, _fingerprint, _resume_or_reset


def _checkpoint(folder, step, complete=True):
    ckpt = folder / f"checkpoint-{step}"
    ckpt.mkdir(parents=True)
    (ckpt / "trainer_state.json").write_text("{}")
    if complete:
        (ckpt / COMPLETE).write_text("{}")
    return ckpt


def test_checkpoint_of_other_settings_is_discarded(tmp_path):
    ckpt = tmp_path / "ckpt"
    assert _resume_or_reset(ckpt, "a") is None
    done = _checkpoint(ckpt, 3)
    assert _resume_or_reset(ckpt, "a") == done
    assert _resume_or_reset(ckpt, "b") is None and not done.exists()


def test_partial_highest_checkpoint_falls_back_to_the_last_complete_one(tmp_path):
    ckpt = tmp_path / "ckpt"
    _resume_or_reset(ckpt, "a")
    done = _checkpoint(ckpt, 3)
    partial = _checkpoint(ckpt, 6, complete=False)  # killed while Trainer was saving it
    (ckpt / "checkpoint-9").write_text("")  # junk a checkpoint name does not make a checkpoint
    assert _resume_or_reset(ckpt, "a") == done
    assert not partial.exists() and not (ckpt / "checkpoint-9").exists()
    partial = _checkpoint(ckpt, 6, complete=False)
    done.joinpath(COMPLETE).unlink()
    assert _resume_or_reset(ckpt, "a") is None  # nothing complete: start the run again
    assert not partial.exists() and not done.exists()


@pytest.mark.parametrize("stamp", [b"", b'{"finger', b"\xff\xfe", b"[]", b"null"])
def test_empty_or_corrupt_run_stamp_counts_as_absent(tmp_path, stamp):
    ckpt = tmp_path / "ckpt"
    _checkpoint(ckpt, 3)
    (ckpt / "gendiv_run.json").write_bytes(stamp)  # a kill while the stamp was written
    assert _resume_or_reset(ckpt, "a") is None
    assert not (ckpt / "checkpoint-3").exists()
    assert json.loads((ckpt / "gendiv_run.json").read_text()) == {"fingerprint": "a"}
    assert _resume_or_reset(ckpt, "a") is None  # the fresh stamp is readable


def test_fingerprint_hashes_the_base_weights_and_the_data(params_for, tiny_dir, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(tiny_dir, base)
    p = params_for(base=base)
    data = tmp_path / "train.jsonl"
    write_jsonl(data, _stories(4))
    first = _fingerprint(p, "story", data, 0)
    assert _fingerprint(p, "story", data, 0) == first
    weights = base / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 1  # same config.json, same size, other weights
    weights.write_bytes(bytes(raw))
    second = _fingerprint(p, "story", data, 0)
    assert second != first
    write_jsonl(data, _stories(4, offset=1))
    assert _fingerprint(p, "story", data, 0) != second
