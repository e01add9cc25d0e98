"""Shared test setup: offline, repo paths, a fresh copy of the default params."""

import copy
import os
from pathlib import Path

import pytest
import yaml

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
_DEFAULT = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def raw_params() -> dict:
    """The committed params.yaml as a mutable dict (a fresh deep copy per test)."""
    return copy.deepcopy(_DEFAULT)


@pytest.fixture
def no_task_overrides() -> dict:
    """train.per_task with nothing overridden: both tasks use the train section's values."""
    from gendiv.config.schema import PerTaskTrain

    return PerTaskTrain.none().model_dump()
