"""Which datasets are measured, where they live, and which comparison group each is in.

Distinct-n depends on how much text a set holds, so values are normalised only within
groups of comparable sets (divided by the group's maximum, as the paper plots them):
  levels     real + d0..d6 (same size; paper fig. 2)
  reference  real_test, and for QA real_heldout when prepare_real wrote it (held-out real
             questions of the training documents: the no-shift baseline of QA distances)
  fixed      fixed_r<rho> (same size, rising share of generated data)
  expand     expand_real + expand_d<l>_r<rho> (real part fixed, generated part added)
  n<size>    real_n<size> and d<l>_n<size> (one group per subset size)
"""

from __future__ import annotations

from pathlib import Path

from gendiv.config import Params
from gendiv.layout import dataset_names, dataset_path, parse_dataset, real_heldout_path, real_test_path

REAL_TEST = "real_test"
REAL_HELDOUT = "real_heldout"


def set_path(task: str, name: str) -> Path:
    if name == REAL_HELDOUT:
        return real_heldout_path(task)
    return real_test_path(task) if name == REAL_TEST else dataset_path(task, name)


def measured_sets(p: Params, task: str, root: Path = Path(".")) -> list[tuple[str, Path]]:
    """(name, path) of every set the measure stage reads, in a fixed order."""
    names = dataset_names(p, task)
    names.insert(1, REAL_TEST)
    if task == "qa" and (root / set_path(task, REAL_HELDOUT)).is_file():
        names.insert(2, REAL_HELDOUT)
    return [(name, set_path(task, name)) for name in names]


def reference_set(names: list[str]) -> str:
    """The same-distribution reference of the distances: held-out questions of the training
    documents where they exist (QA), else the real test set."""
    return REAL_HELDOUT if REAL_HELDOUT in names else REAL_TEST


def carries_real_answer(row: dict) -> bool:
    """QA: the row's answer is a real one (a real pair, or a paraphrase, which keeps the real
    answer of its source question)."""
    return row.get("kind") in ("real", "paraphrase")


def shares_rows_with_real_train(name: str, rows: list[dict], real_train: list[dict]) -> bool:
    """The set holds target text of real train: real itself, a mixed set's real share (rows kept
    with their ids), or QA paraphrases."""
    ids = {r["id"] for r in real_train}
    return name == "real" or any(r["id"] in ids or r.get("kind") == "paraphrase" for r in rows)


def comparison_group(name: str) -> str:
    if name in (REAL_TEST, REAL_HELDOUT):
        return "reference"
    parsed = parse_dataset(name)
    group = {"real": "levels", "generated": "levels", "fixed": "fixed", "expand_real": "expand", "expand": "expand"}
    if parsed and parsed.kind in group:
        return group[parsed.kind]
    if parsed and parsed.kind == "subset":
        return f"n{parsed.size}"
    raise ValueError(f"dataset {name!r}: no comparison group")
