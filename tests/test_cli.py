"""The `gendiv` command: stages are timed for the report, tools run beside the pipeline are not."""

import json
import os
import subprocess
import sys

import pytest
import typer

from gendiv import cli

GENDIV = os.path.join(os.path.dirname(sys.executable), "gendiv")  # this environment's, whatever PATH says


def _ok_app() -> typer.Typer:
    app = typer.Typer(add_completion=False)
    app.command()(lambda: None)
    return app


@pytest.mark.parametrize(
    "label,timed",
    [(["mix", "--task", "qa"], True), (["verify", "--out", "x"], False), (["apply-profile", "p.yaml"], False)],
)
def test_only_pipeline_stages_are_timed(tmp_path, monkeypatch, label, timed):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as done:
        cli._run(_ok_app(), [], label)
    assert done.value.code in (0, None)
    files = list((tmp_path / cli.TIMINGS_DIR).glob("*.json")) if (tmp_path / cli.TIMINGS_DIR).exists() else []
    assert len(files) == (1 if timed else 0)
    if timed:
        assert json.loads(files[0].read_text())["stage"] == "gendiv " + " ".join(label)


@pytest.mark.parametrize("rank,timed", [("0", True), ("1", False)])
def test_only_the_main_process_of_a_launch_records_its_time(tmp_path, monkeypatch, rank, timed):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RANK", rank)  # what `accelerate launch` (torchrun) sets in each process
    with pytest.raises(SystemExit):
        cli._run(_ok_app(), [], ["train", "--task", "story"])
    assert (tmp_path / cli.TIMINGS_DIR).exists() == timed


def test_timing_file_is_replaced_atomically(tmp_path, monkeypatch):
    """A kill while a timing is written leaves the previous file whole, never a truncated one."""
    monkeypatch.chdir(tmp_path)
    cli._record_timing(["mix", "--task", "qa"], 1.0)
    (path,) = (tmp_path / cli.TIMINGS_DIR).glob("*.json")
    before = path.read_bytes()

    def killed(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr("gendiv.io.os.replace", killed)
    with pytest.raises(KeyboardInterrupt):
        cli._record_timing(["mix", "--task", "qa"], 2.0)
    assert path.read_bytes() == before
    assert [f.name for f in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_help_version_and_pipeline_order():
    out = subprocess.run([GENDIV, "-h"], capture_output=True, text=True, check=True).stdout
    positions = [out.index(f" {name} ") for name in ("check-params", "generate-story", "train", "report", "verify")]
    assert positions == sorted(positions)  # commands listed in pipeline order
    version = subprocess.run([GENDIV, "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("gendiv ") and version.split()[1][0].isdigit()


def test_python_floor_is_stated_once_and_met():
    import re
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    floor = re.search(r'requires-python = ">=3\.(\d+)"', (root / "pyproject.toml").read_text())[1]
    assert f"Python 3.{floor}+" in (root / "README.md").read_text()
    assert sys.version_info >= (3, int(floor))


_SLEEPER = """
import sys, time, typer
from gendiv import cli
app = typer.Typer()
@app.command()
def wait():
    print("ready", flush=True)
    time.sleep(30)
cli._watch_sigint()
cli._run(app, [], ["wait"])
"""


def test_ctrl_c_exits_130_not_verify_mismatch_code(tmp_path):
    import signal

    proc = subprocess.Popen([sys.executable, "-c", _SLEEPER], cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 130


def test_task_options_list_their_choices():
    wide = {**os.environ, "COLUMNS": "200"}
    for command in ("train", "mix", "evaluate", "prepare-real", "verify"):
        out = subprocess.run([GENDIV, command, "-h"], capture_output=True, text=True, check=True, env=wide).stdout
        line = next(ln for ln in out.splitlines() if "--task" in ln)
        assert "<story|qa>" in line and "<str>" not in line, line
    res = subprocess.run([GENDIV, "mix", "--task", "poems"], capture_output=True, text=True, env=wide)
    assert res.returncode == 2 and "'poems' is not one of 'story', 'qa'" in res.stderr


@pytest.mark.parametrize("dataset", ["d9", "fixed_r0.3", "poems"])
def test_a_dataset_the_params_do_not_build_is_named_with_what_they_do(repo, dataset):
    res = subprocess.run(
        [GENDIV, "train", "--task", "story", "--dataset", dataset, "--seed", "0"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert f"--dataset {dataset}: no such story training set in params.yaml" in res.stderr
    assert "real, d0, d3, d6, src_smollm2" in res.stderr and "src_multi" in res.stderr
    assert "run its data stage first" not in res.stderr


@pytest.mark.parametrize(
    "module,function,command",
    [("gendiv.generate.story", "main", "generate-story"), ("gendiv.generate.qa_pool", "pool_main", "generate-qa-pool")],
)
def test_a_module_run_as_a_program_is_timed_under_its_command(monkeypatch, module, function, command):
    import importlib
    import types

    program = types.ModuleType("__main__")  # what `python -m <module>` makes of the module
    program.__spec__ = importlib.util.find_spec(module)
    monkeypatch.setitem(sys.modules, "__main__", program)
    assert cli._command_of(getattr(importlib.import_module(module), function)) == command
