"""Every set's folder as a Hugging Face dataset: rows in the one schema, and a dataset card.

`write_set` is how a stage writes a set: it conforms the rows to gendiv.columns, writes
train.jsonl (and any other split) and the README.md card whose YAML metadata says what
made the set (stage command, generator, template versions, the params that decide its
bytes), what is in it (counts by source, level, kind), under which terms its seed data
stands, and what it is for. `datasets.load_dataset(<folder>)` reads the card's `configs`.
The card holds no time stamp or path outside the repository: same params, same bytes.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml
from tabulate import tabulate

from gendiv.columns import COLUMNS, conform
from gendiv.config import Params
from gendiv.io import atomic_open, write_jsonl
from gendiv.layout import CARD_FILE, TRAIN_FILE, dataset_dir, parse_dataset

# The terms of each task's human-written data (data/bundled/SOURCES.md; the hub datasets of
# the paper profile are the same corpora).
SEED_DATA_TERMS = {
    "story": {
        "license": "other",
        "license_name": "rocstories-research-use",
        "text": "ROCStories / Story Cloze Test 2016 (Mostafazadeh et al., NAACL 2016): distributed by its "
        "authors on request for research use, no open license; credit the source and keep samples small.",
    },
    "qa": {
        "license": "cc-by-sa-3.0",
        "text": "NarrativeQA (Kocisky et al., TACL 2018; Apache-2.0) questions and answers over Wikipedia plot "
        "summaries (CC BY-SA 3.0): share-alike applies to the contexts.",
    },
}
GENERATOR_TERMS = (
    "Rows with a generator are outputs of that model and carry its terms as well (Gemma 3: the Gemma "
    "Terms of Use and Prohibited Use Policy, https://ai.google.dev/gemma/terms; OpenAI models: OpenAI's "
    "terms of use)."
)
INTENDED_USE = (
    "Research on how the diversity of LLM-generated training data changes a model fine-tuned on it "
    "(gendiv, reproducing arXiv 2506.19262). Not for training production models: the sets are small "
    "samples, and generated rows were filtered only for format, not for facts or safety."
)


def describe(task: str, name: str) -> str:
    """One sentence on what the set `name` is."""
    parsed = parse_dataset(name)
    what = {
        "real": "Human-written rows: the real training split (and the real test split it is scored on).",
        "generated": f"Gen-D{parsed.level}: generated rows at diversity level {parsed.level}.",
        "fixed": f"Fixed-size mix: generated rows make up the share rho = {parsed.ratio} of a fixed total.",
        "expand_real": "The small real set of the expansion experiment, alone.",
        "expand": f"The small real set expanded with Gen-D{parsed.level} rows to a generated share of {parsed.ratio}.",
        "subset": f"The first {parsed.size} rows of {parsed.source} in a seeded order (dataset-size experiment).",
        "source": "Equal shares of every generator's stories (source-diversity study)."
        if parsed.generator == "multi"
        else f"Stories by the generator {parsed.generator!r} alone (source-diversity study).",
    }[parsed.kind]
    return f"{task}: {what}"


def _counts(task: str, rows: list[dict]) -> dict:
    def tally(key: str) -> dict:
        return {str(k): v for k, v in sorted(Counter(r[key] for r in rows).items())}

    counts = {"rows": len(rows), "by_source": tally("source"), "by_level": tally("level")}
    if task == "qa":
        counts["by_kind"] = tally("kind")
        counts["documents"] = len({r["document_id"] for r in rows})
    else:
        counts["topics"] = len({r["topic"] for r in rows if r["topic"]})
    return counts


def dataset_card(task: str, name: str, splits: dict[str, list[dict]], command: str, params: dict) -> str:
    """The README.md of a set: YAML metadata (Hugging Face fields, then gendiv's) and a short body."""
    train = splits["train"]
    files = {split: TRAIN_FILE if split == "train" else f"{split}.jsonl" for split in splits}
    generators = sorted({r["generator"] for rows in splits.values() for r in rows if r["generator"]})
    templates = sorted({r["template_version"] for rows in splits.values() for r in rows if r["template_version"]})
    terms = SEED_DATA_TERMS[task]
    meta = {
        "pretty_name": f"gendiv {task} {name}",
        "language": ["en"],
        **{k: v for k, v in terms.items() if k != "text"},
        "task_categories": ["text-generation"] if task == "story" else ["question-answering"],
        "tags": ["gendiv", "synthetic" if generators else "human-written"],
        "size_categories": ["n<1K" if len(train) < 1000 else "1K<n<10K" if len(train) < 10_000 else "10K<n<100K"],
        "configs": [{"config_name": "default", "data_files": [{"split": s, "path": f} for s, f in files.items()]}],
        "dataset_info": {
            "features": [{"name": c.name, "dtype": c.dtype} for c in COLUMNS[task]],
            "splits": [{"name": s, "num_examples": len(rows)} for s, rows in splits.items()],
        },
        "gendiv": {
            "task": task,
            "set": name,
            "made_by": command,
            "generators": generators,
            "template_versions": templates,
            "counts": _counts(task, train),
            "params": params,
        },
    }
    columns = tabulate(
        [(c.name, c.dtype, c.description) for c in COLUMNS[task]], ("column", "type", "meaning"), tablefmt="github"
    )
    body = [
        f"# gendiv {task} set `{name}`",
        "",
        describe(task, name),
        "",
        f"Written by `{command}` (a stage of gendiv's dvc.yaml) from the params listed under `gendiv.params` "
        "above; the same params give the same bytes. "
        + (f"Generators: {', '.join(f'`{g}`' for g in generators)}." if generators else "No row is generated."),
        "",
        "Splits: " + ", ".join(f"{s} ({len(rows)} rows, `{files[s]}`)" for s, rows in splits.items()) + ".",
        "",
        "## Columns",
        "",
        columns,
        "",
        "## Terms",
        "",
        f"Seed data: {terms['text']} " + (GENERATOR_TERMS if generators else ""),
        "",
        "## Intended use",
        "",
        INTENDED_USE,
        "",
        "## Loading",
        "",
        "```python",
        "from datasets import load_dataset",
        f'ds = load_dataset("{dataset_dir(task, name).as_posix()}")  # from the repository root',
        "```",
        "",
    ]
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100) + "---\n" + "\n".join(body)


def params_section(p: Params, *keys: str) -> dict:
    """The params under the dotted `keys`, as the card records them (JSON types)."""
    dumped = p.model_dump(mode="json")
    out = {}
    for key in keys:
        value = dumped
        for part in key.split("."):
            value = value[part]
        out[key] = value
    return out


def write_set(
    task: str,
    name: str,
    rows: list[dict],
    command: str,
    params: dict,
    other_splits: dict[str, list[dict]] | None = None,
    folder: Path | None = None,
) -> list[dict]:
    """Write the set's rows (conformed to the task's schema), its other splits and its card into
    `folder` (default: the set's folder in layout); return the rows as written."""
    splits = {"train": rows, **(other_splits or {})}
    splits = {split: [conform(task, row) for row in split_rows] for split, split_rows in splits.items()}
    folder = dataset_dir(task, name) if folder is None else folder
    for split, split_rows in splits.items():
        write_jsonl(folder / (TRAIN_FILE if split == "train" else f"{split}.jsonl"), split_rows)
    with atomic_open(folder / CARD_FILE) as fh:
        fh.write(dataset_card(task, name, splits, command, params))
    return splits["train"]
