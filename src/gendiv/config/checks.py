"""The params checks that need the file system: paths, the bundled sample, model packages.

They run after the schema (gendiv.config.schema) accepted the values, so they see a whole
Params; a failure names every problem at once, before any stage writes.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from gendiv.config.schema import READ_ROOTS, Params
from gendiv.errors import ParamsError
from gendiv.prepare.bundled import read_bundled_qa, read_bundled_stories


def _escapes(root: Path, rel: str) -> str | None:
    """Where `rel` really leads when that is outside root's data/ or models/ (a symbolic link on the way)."""
    real_root = root.resolve()
    target = (root / rel).resolve()
    if any(target.is_relative_to(real_root / top) for top in READ_ROOTS):
        return None
    return str(target)


def _check_paths(p: Params, root: Path) -> list[str]:
    """No folder a stage reads or replaces may lead outside data/ and models/, e.g. through a symlink."""
    problems = []
    dirs = [("data.bundled_dir", p.data.bundled_dir), ("models.base.dir", p.models.base.dir)]
    dirs += [(f"models.generators.{name}.dir", m.dir) for name, m in p.models.generators.items()]
    for key, rel in dirs:
        if (where := _escapes(root, rel)) is not None:
            problems.append(
                f"{key} = {rel!r} leads to {where} through a symbolic link: stages read and write "
                f"only inside the repository's {' and '.join(f'{t}/' for t in READ_ROOTS)} folders"
            )
    # transformers and datasets load an existing local folder instead of the hub id of the same name
    hub_ids = [
        ("data.story.hub_id", p.data.story.hub_id),
        ("data.qa.hub_id", p.data.qa.hub_id),
        ("models.base.hub_id", p.models.base.hub_id),
        ("measure.embedding_model", p.measure.embedding_model),
    ]
    for key, hub_id in hub_ids:
        if (root / hub_id).exists() and (where := _escapes(root, hub_id)) is not None:
            problems.append(
                f"{key} = {hub_id!r} names the local path {where}, which would be read instead of the "
                f"hub; a local model or data folder must be inside {' or '.join(f'{t}/' for t in READ_ROOTS)}"
            )
    return problems


def _check_bundled(p: Params, root: Path) -> list[str]:
    """The bundled sample holds enough stories and QA contexts (its files are read in full, so a
    malformed line fails here, before any stage writes)."""
    bundled = root / p.data.bundled_dir
    stories = bundled / "rocstories" / "stories.csv"
    summaries = bundled / "narrativeqa" / "summaries.jsonl"
    qa = bundled / "narrativeqa" / "qa.jsonl"
    missing = [str(f) for f in (stories, summaries, qa) if not f.is_file()]
    if missing:
        return [f"data.bundled_dir = {p.data.bundled_dir!r}: missing {', '.join(missing)}"]
    problems = []
    n_stories = len(read_bundled_stories(bundled))
    need = p.data.story.n_train + p.data.story.n_test
    if need > n_stories:
        problems.append(
            f"data.story.n_train + data.story.n_test = {need}: the bundled sample holds {n_stories} stories"
        )
    counts: dict[str, int] = {}
    for rec in read_bundled_qa(bundled)[1]:
        counts[rec["document_id"]] = counts.get(rec["document_id"], 0) + 1
    need_qa = max(p.data.qa.qa_per_doc, p.data.qa.test_qa_per_doc)
    usable = sum(1 for c in counts.values() if c >= need_qa)
    need_docs = p.data.qa.n_train_docs + p.data.qa.n_test_docs
    if need_docs > usable:
        problems.append(
            f"data.qa.n_train_docs + data.qa.n_test_docs = {need_docs}: the bundled sample "
            f"has {usable} contexts with at least {need_qa} QA pairs "
            "(data.qa.qa_per_doc / test_qa_per_doc)"
        )
    return problems


def check_environment(p: Params, root: Path) -> None:
    """Checks that need the file system: paths, source files, sample counts, model packages."""
    problems = _check_paths(p, root)
    if p.data.source == "bundled" and not problems:
        problems += _check_bundled(p, root)
    packages = [("models.base.gguf_package", p.models.base.gguf_package)] if p.models.base.source == "gguf" else []
    packages += [(f"models.generators.{name}.gguf_package", m.gguf_package) for name, m in p.models.generators.items()]
    for key, package in packages:
        if importlib.util.find_spec(package) is None:
            problems.append(f"{key} = {package!r}: package not installed (run scripts/install.sh)")
    if problems:
        raise ParamsError("params.yaml is invalid; nothing was written:\n" + "\n".join(f"  - {x}" for x in problems))
