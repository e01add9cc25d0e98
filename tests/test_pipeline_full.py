"""The embedded default end to end (`make repro` without the install): slow, run with `-m slow`.

CI runs the same stages on the smoke profile (test_pipeline_smoke.py); this checks that the
full grid of the default params is produced and judged, and that a rerun does nothing.
"""

import json

import pytest

from gendiv.config import load_params
from gendiv.report.stats import Verdict
from workspace import copy_workspace, dvc

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def full_ws(tmp_path_factory):
    ws = copy_workspace(tmp_path_factory.mktemp("full"))
    dvc(ws, "repro", timeout=3 * 3600)
    return ws


def expected_sets(p) -> set[str]:
    m = p.mixing
    return (
        {"base", "real", "expand_real"}
        | {f"d{lv}" for lv in p.levels}
        | {f"fixed_r{r}" for r in m.fixed_ratios}
        | {f"expand_d{lv}_r{r}" for lv in m.expand_levels for r in m.expand_ratios}
    )


def test_every_run_of_the_grid_is_recorded_and_judged(full_ws):
    p = load_params(full_ws / "params.yaml")
    summary = json.loads((full_ws / "metrics/summary.json").read_text())
    for task in ("story", "qa"):
        assert expected_sets(p) <= set(summary[f"loss_{task}"]), task
    sources = {f"src_{g.name}" for g in p.source_diversity.generators} | {"src_multi"}
    assert sources <= set(summary["loss_story"])
    report = (full_ws / "reports/REPORT.md").read_text()
    assert (
        f"**{Verdict.NOT_JUDGED.value}**" not in report and "No fine-tuning run has recorded metrics yet." not in report
    )


def test_rerun_does_nothing(full_ws):
    assert "Running stage" not in dvc(full_ws, "repro").stdout
    assert "up to date" in dvc(full_ws, "status").stdout
