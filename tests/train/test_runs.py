"""Run file locations: a missing adapter is a user error that names the command to run."""

from __future__ import annotations

import pytest

from gendiv.errors import UserError
from gendiv.train.runs import adapter_path, trained_adapter


def test_trained_adapter_needs_a_finished_adapter(tmp_path):
    with pytest.raises(UserError, match=r"is missing: run `gendiv train --task story --dataset real --seed 1`"):
        trained_adapter("story", "real", 1, tmp_path)
    folder = tmp_path / adapter_path("story", "real", 1)
    folder.mkdir(parents=True)
    with pytest.raises(UserError):  # a folder without adapter_config.json is an unfinished run
        trained_adapter("story", "real", 1, tmp_path)
    (folder / "adapter_config.json").write_text("{}")
    assert trained_adapter("story", "real", 1, tmp_path) == folder
