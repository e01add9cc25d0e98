"""Names and paths of everything the pipeline writes (the contract between stages).

Dataset names (the same for both tasks), parsed by `parse_dataset` alone; each set is a folder
(a Hugging Face dataset: README.md card + train.jsonl) under `dataset_dir`:
  real                 the real training set            data/real/{task}/ (its card also covers test.jsonl)
  d{l}                 Gen-D level l                    data/generated/{task}/d{l}/
  fixed_r{rho}         fixed-size mix at ratio rho      data/mixed/{task}/fixed_r{rho}/
  expand_real          the small real set alone         data/mixed/{task}/expand_real/
  expand_d{l}_r{rho}   small real set + Gen-D l to rho  data/mixed/{task}/expand_d{l}_r{rho}/
  {src}_n{n}           n-sample subset of real / d{l}   data/mixed/{task}/{src}_n{n}/
  src_{name}           one generator's stories          data/sources/story/single/{name}/
  src_multi            equal shares of all generators   data/sources/story/multi/
A generation stage's report (calls, tokens, cost) sits beside its set's folder: d{l}.report.json.
(the src_ sets belong to the source-diversity study and exist for the story task only)
rho is written as Python writes the float (0.0, 0.25, 0.5), which is also how DVC
renders a float list item in dvc.yaml templates, so names stay stable between the two.

Every other folder and file a stage writes is a constant below, relative to the repository
root and the same as dvc.yaml declares. The model folders a params value may name
(models/base, models/generators, data/bundled) are config's, which checks those values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from gendiv.config import TASKS, Params
from gendiv.config.schema import BASE_DIR, BUNDLED_DIR, GENERATORS_DIR

# data/: the sets, their embeddings and the fine-tuned models' outputs
BUNDLED = Path(BUNDLED_DIR)
REAL_DIR = Path("data/real")
GENERATED_DIR = Path("data/generated")
TOPICS_FILE = GENERATED_DIR / "story" / "topics.json"
MIXED_DIR = Path("data/mixed")
SOURCES_DIR = Path("data/sources")
SINGLE_SOURCES_DIR = SOURCES_DIR / "story" / "single"
EMBEDDINGS_DIR = Path("data/embeddings")
OUTPUTS_DIR = Path("data/outputs")
# models/
BASE_MODEL_DIR = Path(BASE_DIR)
GENERATOR_MODELS_DIR = Path(GENERATORS_DIR)
ADAPTERS_DIR = Path("models/adapters")
# metrics/
RUNS_DIR = Path("metrics/runs")
EXAMPLES_DIR = Path("metrics/examples")
DIVERSITY_DIR = Path("metrics/diversity")
MANIPULATION_DIR = Path("metrics/manipulation")
SOURCE_DIVERSITY_METRICS = Path("metrics/source_diversity.json")
SELF_PREFERENCE_METRICS = Path("metrics/self_preference.json")
ADVERSARIAL_METRICS = Path("metrics/adversarial.json")
SUMMARY = Path("metrics/summary.json")
HEADLINE = Path("metrics/headline.json")
# reports/
REPORT = Path("reports/REPORT.md")
FIGURES_DIR = Path("reports/figures")
RESULT_FIGURES_DIR = FIGURES_DIR / "results"
PLOTS_DIR = Path("reports/plots")
PAPER_PROFILE = Path("profiles/paper.yaml")
# inside every set's folder
TRAIN_FILE = "train.jsonl"
CARD_FILE = "README.md"  # what the report's deviations are measured against

_GRAMMAR = (  # (kind, pattern): the whole dataset-name grammar
    ("real", re.compile(r"real")),
    ("generated", re.compile(r"d(?P<level>\d+)")),
    ("fixed", re.compile(r"fixed_r(?P<ratio>[0-9.]+)")),
    ("expand_real", re.compile(r"expand_real")),
    ("expand", re.compile(r"expand_d(?P<level>\d+)_r(?P<ratio>[0-9.]+)")),
    ("subset", re.compile(r"(?P<source>real|d\d+)_n(?P<size>\d+)")),
    ("source", re.compile(r"src_(?P<generator>[a-z][a-z0-9_]*)")),
)
_MIXED_KINDS = ("fixed", "expand_real", "expand", "subset")


@dataclass(frozen=True)
class DatasetName:
    """A parsed dataset name: its kind and the numbers it carries (None where the kind has none)."""

    kind: str  # one of _GRAMMAR's kinds
    level: int | None = None  # generated, expand
    ratio: str | None = None  # fixed, expand: as written in the name
    source: str | None = None  # subset: "real" or "d{l}"
    size: int | None = None  # subset
    generator: str | None = None  # source: a generator's name, or "multi"


def parse_dataset(name: str) -> DatasetName | None:
    """The one parser of dataset names; None when `name` is not one."""
    for kind, pattern in _GRAMMAR:
        if match := pattern.fullmatch(name):
            fields = {k: v for k, v in match.groupdict().items() if v is not None}
            for number in ("level", "size"):
                if number in fields:
                    fields[number] = int(fields[number])
            return DatasetName(kind, **fields)
    return None


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


def dataset_dir(task: str, name: str) -> Path:
    """The folder of the training set `name` of `task` (relative to the repository root)."""
    _check_task(task)
    parsed = parse_dataset(name)
    kind = parsed.kind if parsed else None
    if kind == "real":
        return REAL_DIR / task
    if kind == "generated":
        return GENERATED_DIR / task / name
    if kind in _MIXED_KINDS:
        return MIXED_DIR / task / name
    if kind == "source" and task == "story":
        return SOURCES_DIR / "story" / "multi" if parsed.generator == "multi" else SINGLE_SOURCES_DIR / parsed.generator
    raise ValueError(
        f"dataset = {name!r}: not a dataset name (real, d<level>, fixed_r<rho>, expand_real, "
        "expand_d<level>_r<rho>, real_n<size>, d<level>_n<size>, and for story src_<generator>, src_multi)"
    )


def dataset_path(task: str, name: str) -> Path:
    """The rows of the training set `name` of `task`."""
    return dataset_dir(task, name) / TRAIN_FILE


def card_path(task: str, name: str) -> Path:
    """The dataset card (Hugging Face README.md) of a set."""
    return dataset_dir(task, name) / CARD_FILE


def report_beside(folder: Path) -> Path:
    """The report a stage writes beside the set folder it made (d{l}/ -> d{l}.report.json)."""
    return folder.with_name(f"{folder.name}.report.json")


def generation_report_path(task: str, name: str) -> Path:
    return report_beside(dataset_dir(task, name))


def real_test_path(task: str) -> Path:
    return dataset_dir(task, "real") / "test.jsonl"


def real_heldout_path(task: str) -> Path:
    """QA only: real questions of the training documents that real train does not hold."""
    return dataset_dir(task, "real") / "heldout.jsonl"


def mixed_names(params: Params, task: str) -> list[str]:
    """Every set `gendiv mix --task task` writes, in a fixed order: the mixing and expansion
    grids where mixing.tasks has the task, then the dataset-size subsets."""
    m = params.mixing
    names = []
    if task in m.tasks:
        names += [fixed_name(rho) for rho in m.fixed_ratios]
        names.append("expand_real")
        names += [expand_name(level, rho) for level in m.expand_levels for rho in m.expand_ratios]
    sources = ["real"] + [f"d{level}" for level in params.levels]
    names += [subset_name(src, n) for n in m.subset_sizes for src in sources]
    return names


def is_core(name: str) -> bool:
    """Sets the paper's core claims rest on (real and every Gen-D level): trained with train.seeds."""
    parsed = parse_dataset(name)
    return parsed is not None and parsed.kind in ("real", "generated")


def run_seeds(params: Params, name: str) -> list[int]:
    """Training seeds of a set: train.seeds for core sets, train.secondary_seeds for the other grids."""
    return params.train.seeds if is_core(name) else params.train.secondary_seeds


def dataset_names(params: Params, task: str) -> list[str]:
    """Every training set the params ask for, in a fixed order: real, Gen-D levels, mixes."""
    _check_task(task)
    return ["real"] + [f"d{level}" for level in params.levels] + mixed_names(params, task)


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
