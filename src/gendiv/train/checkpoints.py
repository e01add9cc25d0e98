"""The train stage's checkpoints: a killed run resumes where it stopped, a changed one starts over.

Trainer checkpoints (one per epoch) live in the shared state folder (gendiv.state:
`train/...`), outside DVC's outputs, so a rerun finds them. A checkpoints folder carries a
stamp of the run it belongs to (the fingerprint of its data, base weights and settings); a
checkpoint counts only once it holds its completion mark, written after Trainer saved all of
it, so a kill during a save falls back to the previous one. Kept apart from finetune.py,
which trains, saves and scores a run and calls these at its start and after each save.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

from gendiv.config import Params
from gendiv.io import InputError, read_json, write_json
from gendiv.state import hash_tree

RUN_STAMP = "gendiv_run.json"  # fingerprint of the run the checkpoints folder belongs to
COMPLETE = "gendiv_complete.json"  # written into a checkpoint after Trainer saved all of it


def _fingerprint(p: Params, task: str, data_file: Path, seed: int) -> str:
    """What a resumable checkpoint must match: the data, the base model's files and the settings of
    this task's runs (train.per_task applied: another task's override never discards it)."""
    h = hashlib.sha256()
    hash_tree(data_file, h)
    hash_tree(Path(p.models.base.dir), h)
    h.update(
        json.dumps(
            {"task": task, "seed": seed, "train": p.task_train(task).model_dump(exclude={"seeds", "per_task"})},
            sort_keys=True,
        ).encode()
    )
    return h.hexdigest()


def _mark_complete_callback():
    """A TrainerCallback run after each checkpoint save: mark it complete, then drop the older
    ones (Trainer's own rotation would delete the previous checkpoint before the mark)."""
    from transformers import TrainerCallback

    class MarkComplete(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if not state.is_world_process_zero:
                return
            current = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            write_json(current / COMPLETE, {"step": state.global_step})
            for old in Path(args.output_dir).glob("checkpoint-*"):
                if old != current:
                    _remove(old)

    return MarkComplete()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _stamped_fingerprint(stamp: Path) -> str | None:
    """The fingerprint in a run stamp; None when absent, empty or corrupt (a kill mid-write)."""
    try:
        value = read_json(stamp)
    except (OSError, ValueError, InputError):
        return None
    return value.get("fingerprint") if isinstance(value, dict) else None


def _resume_or_reset(checkpoints: Path, fingerprint: str) -> Path | None:
    """The newest complete checkpoint of this very run, or None after emptying `checkpoints`.

    A checkpoint counts only with its completion mark, so a kill during a save falls back to
    the previous checkpoint; incomplete ones (and anything else of this run's folder) go.
    """
    if _stamped_fingerprint(checkpoints / RUN_STAMP) == fingerprint:
        complete = [
            c
            for c in checkpoints.glob("checkpoint-*")
            if re.fullmatch(r"checkpoint-\d+", c.name) and (c / COMPLETE).is_file()
        ]
        latest = max(complete, key=lambda c: int(c.name.split("-")[1]), default=None)
        if latest is not None:
            for other in checkpoints.iterdir():
                if other not in (latest, checkpoints / RUN_STAMP):
                    _remove(other)
            return latest
    if checkpoints.exists():
        _remove(checkpoints)
    write_json(checkpoints / RUN_STAMP, {"fingerprint": fingerprint})
    return None
