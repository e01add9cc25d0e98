"""What DVC shows a reviewer: a short `dvc exp show`, plots that name their x and y, a readable dag.

Runs real DVC on a copy of the repository whose result files are built here from tiny numbers
(no stage runs, no training); the report stage's writer (gendiv.report.tables) writes its own tables.
"""

import json
import re
import shlex
import subprocess

import pandas as pd
import pytest
import yaml
from dvc.repo import Repo

from gendiv.config import validate
from gendiv.io import write_json
from gendiv.layout import HEADLINE
from gendiv.report import tables as report_tables
from workspace import REPO, copy_workspace, dvc

DVC_YAML = yaml.safe_load((REPO / "dvc.yaml").read_text())


def test_every_plot_is_top_level_and_names_its_x_and_y():
    assert not [name for name, stage in DVC_YAML["stages"].items() if "plots" in stage.get("do", stage)]
    plots = {k: v for entry in DVC_YAML["plots"] for k, v in entry.items()}
    for name, spec in plots.items():
        assert spec.get("x") and isinstance(spec.get("y"), dict) and spec["y"], name
        assert spec.get("x_label") and spec.get("y_label") and spec.get("title"), name
    for task in ("story", "qa"):
        assert {
            f"{task}_{kind}"
            for kind in (
                "loss_vs_level",
                "fixed_mixing",
                "expansion",
                "train_loss",
                "distinct_5",
                "distinct_n",
                "length_words",
                "length_tokens",
            )
        } <= set(plots)
    assert plots["story_loss_vs_level"]["y"] == {"reports/plots/story/loss_vs_level.csv": ["gen_d", "real", "base"]}


def _outputs(ws):
    """{path: is a metrics output} of every stage output, with the params' grid expanded."""
    with Repo(str(ws)) as repo:
        return {str(out.def_path): bool(out.metric) for stage in repo.index.stages for out in stage.outs}


def test_only_the_headline_file_is_a_metric_and_every_plotted_file_is_an_output(tmp_path):
    outs = _outputs(copy_workspace(tmp_path))
    assert [path for path, metric in outs.items() if metric] == [str(HEADLINE)]
    for entry in DVC_YAML["plots"]:
        for spec in entry.values():
            for path in spec["y"]:
                assert path in outs, f"{path} is plotted but no stage writes it"


def _long(x, y, rows):
    return "\n".join([f"{x},set,{y}", *(",".join(map(str, r)) for r in rows)]) + "\n"


def _results(ws, shift=0.0):
    """Tiny result files in the layout the measure and report stages write (report's via its writer)."""
    p = validate(yaml.safe_load((ws / "params.yaml").read_text()), root=ws)
    names = ["real", *[f"d{lv}" for lv in p.levels]]
    rows, div = [], {}
    for task in ("story", "qa"):
        sets = [
            "base",
            *names,
            *[f"fixed_r{r}" for r in p.mixing.fixed_ratios],
            "expand_real",
            *[f"expand_d{lv}_r{r}" for lv in p.mixing.expand_levels for r in p.mixing.expand_ratios],
        ]
        rows += [
            {"task": task, "dataset": d, "mean": 3.0 + shift + 0.01 * i, "std": 0.01, "n": 2}
            for i, d in enumerate(sets)
        ]  # the columns of results.loss_summary that report.cells.loss_of reads
        div[task] = {n: {"distinct_5": 0.5 + 0.05 * i} for i, n in enumerate(names)}
        for name in names:
            curve = ws / f"metrics/runs/{task}/{name}/s{p.train.seeds[0]}_live/plots/metrics/train/loss.tsv"
            curve.parent.mkdir(parents=True, exist_ok=True)
            curve.write_text("step\tloss\n" + "".join(f"{s}\t{3 - 0.1 * s}\n" for s in range(1, 5)))
        plots = ws / "reports/plots" / task
        plots.mkdir(parents=True, exist_ok=True)
        (plots / "diversity.csv").write_text(
            "dataset,group,distinct_5_norm\n" + "".join(f"{n},levels,{0.5 + 0.05 * i}\n" for i, n in enumerate(names))
        )
        (plots / "distinct_n.csv").write_text(
            _long("n", "distinct_norm", [(k, n, 0.2 * k) for n in names for k in range(1, 6)])
        )
        for unit in ("words", "tokens"):
            (plots / f"length_{unit}.csv").write_text(
                _long(unit, "share", [(k, n, 0.25) for n in names for k in range(4)])
            )
    headline = report_tables.write(ws, pd.DataFrame(rows), div, p.levels, p.train.seeds)
    write_json(ws / HEADLINE, headline)
    return headline


@pytest.fixture
def tiny(tmp_path):
    ws = copy_workspace(tmp_path / "ws")
    _results(ws)
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A"], cwd=ws, check=True)
    subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "results"],
        cwd=ws,
        check=True,
        capture_output=True,
    )
    return ws


def _leaves(obj) -> int:
    return sum(_leaves(v) for v in obj.values()) if isinstance(obj, dict) else 1


def test_exp_show_lists_only_the_headline_metrics(tiny):
    shown = json.loads(dvc(tiny, "exp", "show", "--json").stdout)
    metrics = shown[0]["data"]["metrics"]
    assert list(metrics) == ["metrics/headline.json"]
    head = metrics["metrics/headline.json"]["data"]
    assert {"loss_story", "loss_qa", "distinct_5_story", "distinct_5_qa"} <= set(head)
    assert _leaves(head) <= 40


def test_readme_exp_show_recipe_gives_at_most_60_columns(tiny):
    readme = (REPO / "README.md").read_text()
    recipe = re.search(r"^(dvc exp show --drop .+?)\s+#", readme, re.M)
    assert recipe, "README shows no `dvc exp show --drop/--keep` recipe"
    header = dvc(tiny, *shlex.split(recipe.group(1))[1:], "--csv").stdout.splitlines()[0].split(",")
    assert len(header) <= 60, header
    assert "loss_story.d0" in header and "train.per_task.story.learning_rate" in header, header


def _points(shown: dict, plot: str) -> list[dict]:
    return [d for r in shown["data"][plot] for d in r["content"]["data"]["values"]]


def test_plots_show_renders_every_plot_from_its_named_columns(tiny):
    shown = json.loads(dvc(tiny, "plots", "show", "--json").stdout)
    assert set(shown) == {"data"}, shown.get("errors")  # a missing x or y column is an error
    ids = [k for entry in DVC_YAML["plots"] for k in entry]
    assert sorted(shown["data"]) == sorted(ids)
    assert all(_points(shown, i) for i in ids), {i: len(_points(shown, i)) for i in ids}
    levels = yaml.safe_load((tiny / "params.yaml").read_text())["levels"]
    assert {d["set"] for d in _points(shown, "story_distinct_n")} == {"real", *(f"d{lv}" for lv in levels)}
    assert {d["field"] for d in _points(shown, "qa_loss_vs_level")} == {"gen_d", "real", "base"}


def test_plots_diff_shows_the_headline_result_of_two_revisions(tiny):
    _results(tiny, shift=0.5)
    out = json.loads(dvc(tiny, "plots", "diff", "HEAD", "--json", "--targets", "story_loss_vs_level").stdout)
    points = _points(out, "story_loss_vs_level")
    assert {d["rev"] for d in points} == {"HEAD", "workspace"}
    head = sorted(float(d["gen_d"]) for d in points if d["rev"] == "HEAD" and "gen_d" in d)
    now = sorted(float(d["gen_d"]) for d in points if d["rev"] == "workspace" and "gen_d" in d)
    assert head and [round(b - a, 6) for a, b in zip(head, now)] == [0.5] * len(head)


def test_dag_renders_as_mermaid_markdown(tiny):
    md = dvc(tiny, "dag", "--md").stdout
    assert md.startswith("```mermaid") and "report" in md
