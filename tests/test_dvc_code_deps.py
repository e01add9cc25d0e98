"""Every dvc.yaml stage depends on all the code its command runs, so a code change reruns it.

The code a command runs is its module (cli.COMMANDS) and everything that module imports,
directly or not (tests/test_imports.py reads that graph from the source). A package's
`__init__.py` that holds only a docstring and constants (gendiv's own: its version) decides
nothing and is not required.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest
import yaml

from gendiv.cli import COMMANDS
from test_imports import SRC, import_graph

REPO = SRC.parent
STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


def _file(module: str) -> Path:
    path = SRC.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _decides_nothing(path: Path) -> bool:
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return all(isinstance(node, (ast.Expr, ast.Assign)) and isinstance(node.value, ast.Constant) for node in body)


_graph = cache(import_graph)


def code_run_by(command: str) -> set[Path]:
    """Files of the command's module, of every module it imports, and of their packages."""
    graph = _graph()
    seen: set[str] = set()
    todo = [COMMANDS[command].split(":")[0]]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [*graph[module], *(".".join(parts[:i]) for i in range(1, len(parts)))]
    files = {_file(m).relative_to(REPO) for m in seen}
    return {f for f in files if not (f.name == "__init__.py" and _decides_nothing(REPO / f))}


def _body(stage: dict) -> dict:
    return stage.get("do", stage)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_depends_on_all_the_code_it_runs(name):
    body = _body(STAGES[name])
    command = body["cmd"].split()[1]
    deps = [Path(d) for d in body.get("deps", [])]
    missing = sorted(str(f) for f in code_run_by(command) if not any(f == d or d in f.parents for d in deps))
    assert missing == [], f"stage {name} (gendiv {command}) runs code it does not depend on"


def test_every_code_dep_exists():
    deps = {d for stage in STAGES.values() for d in _body(stage).get("deps", []) if d.startswith("src/")}
    assert sorted(d for d in deps if not (REPO / d).exists()) == []


def test_the_check_catches_a_missing_module():
    assert Path("src/gendiv/io.py") in code_run_by("mix")
    assert Path("src/gendiv/measure/__init__.py") not in code_run_by("measure")  # a docstring only
