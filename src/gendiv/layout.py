"""Names, paths and prompt formatting of every training set (the contract between stages).

Dataset names (the same for both tasks):
  real                 the real training set            data/real/{task}/train.jsonl
  d{l}                 Gen-D level l                    data/generated/{task}/d{l}.jsonl
  fixed_r{rho}         fixed-size mix at ratio rho      data/mixed/{task}/fixed_r{rho}.jsonl
  expand_real          the small real set alone         data/mixed/{task}/expand_real.jsonl
  expand_d{l}_r{rho}   small real set + Gen-D l to rho  data/mixed/{task}/expand_d{l}_r{rho}.jsonl
  {src}_n{n}           n-sample subset of real / d{l}   data/mixed/{task}/{src}_n{n}.jsonl
  src_{name}           one generator's stories          data/sources/story/single/{name}.jsonl
  src_multi            equal shares of all generators   data/sources/story/multi.jsonl
(the src_ sets belong to the source-diversity study and exist for the story task only)
rho is written as Python writes the float (0.0, 0.25, 0.5), which is also how DVC
renders a float list item in dvc.yaml templates, so names stay stable between the two.
"""

from __future__ import annotations

import re
from pathlib import Path

from gendiv.config import TASKS, Params

REAL_DIR = Path("data/real")
GENERATED_DIR = Path("data/generated")
MIXED_DIR = Path("data/mixed")
SOURCES_DIR = Path("data/sources")

_GENERATED = re.compile(r"d(\d+)")
_SOURCE = re.compile(r"src_([a-z][a-z0-9_]*)")
_MIXED = re.compile(r"fixed_r[0-9.]+|expand_real|expand_d\d+_r[0-9.]+|(real|d\d+)_n\d+")


def ratio_name(rho: float) -> str:
    """The stable text form of a mixing ratio used inside dataset names."""
    return str(float(rho))


def fixed_name(rho: float) -> str:
    return f"fixed_r{ratio_name(rho)}"


def expand_name(level: int, rho: float) -> str:
    return f"expand_d{level}_r{ratio_name(rho)}"


def subset_name(source: str, n: int) -> str:
    return f"{source}_n{n}"


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task = {task!r}: expected one of {', '.join(TASKS)}")


def dataset_path(task: str, name: str) -> Path:
    """Where the training set `name` of `task` lives (relative to the repository root)."""
    _check_task(task)
    if name == "real":
        return REAL_DIR / task / "train.jsonl"
    if _GENERATED.fullmatch(name):
        return GENERATED_DIR / task / f"{name}.jsonl"
    if _MIXED.fullmatch(name):
        return MIXED_DIR / task / f"{name}.jsonl"
    source = _SOURCE.fullmatch(name)
    if source and task == "story":
        kind = source.group(1)
        return SOURCES_DIR / "story" / ("multi.jsonl" if kind == "multi" else f"single/{kind}.jsonl")
    raise ValueError(
        f"dataset = {name!r}: not a dataset name (real, d<level>, fixed_r<rho>, expand_real, "
        "expand_d<level>_r<rho>, real_n<size>, d<level>_n<size>, and for story src_<generator>, src_multi)"
    )


def real_test_path(task: str) -> Path:
    _check_task(task)
    return REAL_DIR / task / "test.jsonl"


def mixed_names(params: Params) -> list[str]:
    """Every set `gendiv mix` writes, in a fixed order (the same for both tasks)."""
    m = params.mixing
    names = [fixed_name(rho) for rho in m.fixed_ratios]
    names.append("expand_real")
    names += [expand_name(level, rho) for level in m.expand_levels for rho in m.expand_ratios]
    sources = ["real"] + [f"d{level}" for level in params.levels]
    names += [subset_name(src, n) for n in m.subset_sizes for src in sources]
    return names


def is_core(name: str) -> bool:
    """Sets the paper's core claims rest on (real and every Gen-D level): trained with train.seeds."""
    return name == "real" or bool(_GENERATED.fullmatch(name))


def run_seeds(params: Params, name: str) -> list[int]:
    """Training seeds of a set: train.seeds for core sets, train.secondary_seeds for the other grids."""
    return params.train.seeds if is_core(name) else params.train.secondary_seeds


def dataset_names(params: Params, task: str) -> list[str]:
    """Every training set the params ask for, in a fixed order: real, Gen-D levels, mixes."""
    _check_task(task)
    return ["real"] + [f"d{level}" for level in params.levels] + mixed_names(params)


def training_sets(params: Params, task: str) -> list[str]:
    """Every set a `train` stage of these params fine-tunes on: dataset_names, and for story the source sets."""
    sources = [f"src_{g.name}" for g in params.source_diversity.generators] + ["src_multi"]
    return dataset_names(params, task) + (sources if task == "story" else [])


def to_prompt_completion(task: str, row: dict) -> dict:
    """One data row as TRL prompt/completion text.

    story: prompt = the first four sentences, completion = " " + the fifth sentence.
    qa:    prompt = "Context: <summary>\\nQuestion: <question>\\nAnswer:", completion = " " + answer.
    The leading space keeps the completion's first word a separate token, as in running text.
    """
    _check_task(task)
    if task == "story":
        return {"prompt": row["context"].strip(), "completion": " " + row["completion"].strip()}
    return {"prompt": qa_prompt(row["context"], row["question"]), "completion": " " + row["answer"].strip()}


def qa_prompt(context: str, question: str) -> str:
    return f"Context: {context.strip()}\nQuestion: {question.strip()}\nAnswer:"
