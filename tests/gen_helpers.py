"""Workspaces for generation tests: a tmp folder with real data and openai params."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from gendiv.io import write_jsonl

REPO = Path(__file__).resolve().parents[1]


def make_workspace(tmp: Path, raw: dict, base_url: str, levels=(0, 2, 4, 6), **gen) -> Path:
    """tmp/params.yaml pointing the openai backend at base_url; tmp/data/real copied.

    `levels`: the Gen-D levels built (these tests name levels 2 and 4, whatever the default builds)."""
    shutil.copytree(REPO / raw["data"]["bundled_dir"], tmp / raw["data"]["bundled_dir"], dirs_exist_ok=True)
    raw["generator"].update(
        {
            "backend": "openai",
            "model": "fake-gpt",
            "base_url": base_url,
            "retry_base_s": 0.01,
            "timeout_s": 5,
            "concurrency": 4,
            "max_rejects": 3,
            "batch_poll_s": 0.01,
            "prompt_style": "chat",
            **gen,
        }
    )
    raw["levels"] = list(levels)
    raw["story_gen"].update({"topic_pool_size": 40, "topic_subset_sizes": [2, 4, 6, 8, 10, 20, 40], "n_samples": 20})
    raw["mixing"].update({"fixed_ratios": [0.0, 0.25], "expand_ratios": [0.5]})
    (tmp / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    write_real_data(tmp, qa_per_doc=raw["data"]["qa"]["qa_per_doc"])
    return tmp


def write_real_data(tmp: Path, n_stories: int = 30, n_docs: int = 3, qa_per_doc: int = 12) -> None:
    """Tiny real training sets in the prepare_real schema, built in-process."""
    names, places = ["Tom", "Mia", "Raj", "Lea", "Ola"], ["park", "shop", "lake", "school", "farm", "zoo"]
    stories = []
    for i in range(n_stories):
        n, pl = names[i % 5], places[i % 6]
        sents = [
            f"{n} went to the {pl} on day {i}.",
            "It was a sunny morning there.",
            f"{n} met an old friend.",
            "They talked for a long time.",
            f"{n} went home happy.",
        ]
        stories.append({"id": f"s{i}", "context": " ".join(sents[:4]), "completion": sents[4]})
    qa = []
    for d in range(n_docs):
        context = f"Document {d} tells how " + " ".join(
            f"{names[k % 5]} visited the {places[(k + d) % 6]}." for k in range(12)
        )
        for j in range(qa_per_doc):
            qa.append(
                {
                    "id": f"doc{d}-{j}",
                    "document_id": f"doc{d}",
                    "context": context,
                    "question": f"Where did person {j} go in document {d}?",
                    "answer": places[(j + d) % 6],
                }
            )
    write_jsonl(tmp / "data/real/story/train.jsonl", stories)
    write_jsonl(tmp / "data/real/qa/train.jsonl", qa)


def set_params(tmp: Path, section: str, **values) -> None:
    raw = yaml.safe_load((tmp / "params.yaml").read_text())
    raw[section].update(values)
    (tmp / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
