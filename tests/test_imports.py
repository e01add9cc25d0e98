"""gendiv's imports run one way: cli -> phases -> library -> errors/io.

The phases are packages in pipeline order (prepare, generate, mix, train, measure, report); a
phase may use an earlier phase's library (generate reads prepare's splits, report reads
measure's metric names) but never a later one. The shared library (config, layout, llm, state,
io, errors) imports no phase.

The graph is read from the source (ast), so an import inside a function counts as much
as one at the top of a file: a lazy import hides a cycle from Python, not from a reader.
A module's `if __name__ == "__main__":` block runs only when the file is the program
(`python -m gendiv.<stage>`), never on import, so it is the one place besides cli.py
that may import gendiv.cli.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
# The bottom layer: what every other module may import, importing (almost) nothing of gendiv itself.
FOUNDATION = {"gendiv.errors": set(), "gendiv.io": {"gendiv.errors"}}
PHASES = ("prepare", "generate", "mix", "train", "measure", "report")
LIBRARY = ("config", "layout", "columns", "cards", "llm", "state", "io", "errors")
# config checks the bundled sample's size before any stage runs; prepare.bundled imports only io.
LIBRARY_READS_PHASE = {("gendiv.config.checks", "gendiv.prepare.bundled")}


def _module_name(path: Path, src: Path) -> str:
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_main_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return (
        isinstance(node, ast.If)
        and isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


def _imports(tree: ast.AST, module: str, is_package: bool, modules: set[str]) -> set[str]:
    """The gendiv modules `module` imports anywhere in its body except its __main__ block."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if _is_main_block(node):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:  # `from gendiv import cli` imports the module gendiv.cli
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {name for name in found if name in modules and name != module}


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """Each gendiv module -> the gendiv modules it imports."""
    files = {_module_name(p, src): p for p in sorted((src / "gendiv").rglob("*.py"))}
    return {
        module: _imports(
            ast.parse(path.read_text(encoding="utf-8"), filename=str(path)),
            module,
            path.name == "__init__.py",
            set(files),
        )
        for module, path in files.items()
    }


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_graph_sees_function_level_and_relative_imports(tmp_path):
    pkg = tmp_path / "gendiv"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from gendiv.b import g\n")
    (pkg / "b.py").write_text("from gendiv import a\n")
    (pkg / "sub" / "__init__.py").write_text("from .c import h\n")
    (pkg / "sub" / "c.py").write_text("from .. import b\nif __name__ == '__main__':\n    import gendiv.a\n")
    assert import_graph(tmp_path) == {
        "gendiv": set(),
        "gendiv.a": {"gendiv.b"},
        "gendiv.b": {"gendiv.a"},
        "gendiv.sub": {"gendiv.sub.c"},
        "gendiv.sub.c": {"gendiv.b"},
    }
    with pytest.raises(CycleError):
        TopologicalSorter(import_graph(tmp_path)).prepare()


def test_no_import_cycles(graph):
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as err:
        pytest.fail(f"import cycle: {' -> '.join(err.args[1])}")


def test_only_the_cli_imports_the_cli(graph):
    assert sorted(m for m, targets in graph.items() if "gendiv.cli" in targets) == []


@pytest.mark.parametrize("module", sorted(FOUNDATION))
def test_foundation_modules_import_only_each_other(graph, module):
    assert graph[module] <= FOUNDATION[module]


def _package(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_phases_import_no_later_phase(graph):
    later = [
        (m, t)
        for m, targets in graph.items()
        for t in targets
        if _package(m) in PHASES and _package(t) in PHASES and PHASES.index(_package(t)) > PHASES.index(_package(m))
    ]
    assert later == []


def test_library_imports_no_phase(graph):
    found = {
        (m, t) for m, targets in graph.items() for t in targets if _package(m) in LIBRARY and _package(t) in PHASES
    }
    assert found == LIBRARY_READS_PHASE
