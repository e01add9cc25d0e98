"""The bundled real-data sample (data/bundled): read in full, every row checked.

A library module of its own because two layers read it: gendiv.config checks that the sample is
large enough before any stage runs, and the prepare_real stage splits it.
"""

from __future__ import annotations

from pathlib import Path

from gendiv.io import read_csv, read_jsonl

STORY_COLUMNS = tuple(f"sentence{i}" for i in range(1, 6))
SUMMARY_FIELDS = ("document_id", "summary")
QA_FIELDS = ("document_id", "question", "answer1")


def read_bundled_stories(bundled: Path) -> list[dict]:
    """The bundled ROCStories CSV (storyid, sentence1..sentence5), every row checked."""
    return read_csv(bundled / "rocstories" / "stories.csv", STORY_COLUMNS)


def read_bundled_qa(bundled: Path) -> tuple[dict[str, str], list[dict]]:
    """The bundled NarrativeQA sample: summary by document id, and the QA records."""
    base = bundled / "narrativeqa"
    summaries = {rec["document_id"]: rec["summary"] for rec in read_jsonl(base / "summaries.jsonl", SUMMARY_FIELDS)}
    return summaries, read_jsonl(base / "qa.jsonl", QA_FIELDS)
