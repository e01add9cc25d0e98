"""dvc.yaml trains exactly the runs that the report and verify read (results.planned_runs)."""

import re

import pytest
import yaml
from dvc.repo import Repo

from gendiv.config import validate
from gendiv.report import results
from workspace import copy_workspace, edit_params

_RUN = re.compile(r"metrics/runs/(story|qa)/(?:([^/]+)/s(\d+)|base)\.json")


@pytest.mark.parametrize(
    "updates",
    [{}, {"mixing.subset_sizes": [6, 12], "train.seeds": [0, 3], "train.secondary_seeds": [0, 3]}],
    ids=["default", "subsets-and-two-seeds"],
)
def test_dvc_yaml_trains_exactly_the_planned_runs(tmp_path, updates):
    ws = copy_workspace(tmp_path)
    edit_params(ws, updates)
    with Repo(str(ws)) as repo:
        outs = [str(out.def_path) for stage in repo.index.stages for out in stage.outs]
    trained = {(m[1], m[2] or "base", int(m[3]) if m[3] else -1) for m in map(_RUN.fullmatch, outs) if m}
    p = validate(yaml.safe_load((ws / "params.yaml").read_text()), root=ws)
    assert trained == results.planned_runs(p)
    if updates:
        assert ("qa", "d6_n12", 3) in trained and ("story", "real_n6", 0) in trained


def test_each_train_stage_depends_on_its_own_tasks_overrides_only(tmp_path):
    """`-S train.per_task.story...` reruns the story runs and none of the QA runs (and back)."""
    ws = copy_workspace(tmp_path)
    with Repo(str(ws)) as repo:
        train = [stage for stage in repo.index.stages if stage.cmd.startswith("gendiv train ")]
        overrides = {
            stage.name: {key for dep in stage.deps if dep.def_path == "params.yaml" for key in dep.params}
            for stage in train
        }
    assert {"--task story" in stage.cmd for stage in train} == {True, False}  # both tasks' runs are here
    for stage in train:
        task = "story" if "--task story" in stage.cmd else "qa"
        mine = {key for key in overrides[stage.name] if key.startswith("train.per_task")}
        assert mine == {f"train.per_task.{task}"}, (stage.name, mine)
