"""Stage `prepare_real`: normalized, deterministic train/test splits of the real data.

Rows (JSON lines) in the task's one schema (gendiv.columns): story {"id", "context" (sentences
1-4), "completion" (sentence 5)}, qa {"id", "document_id", "context" (the summary), "question",
"answer"}, with the provenance columns every set has (source "real"); data/real/<task>/ is a
Hugging Face dataset folder: README.md card, train.jsonl, test.jsonl.
QA is split by document, so no context appears in both train and test. With
`data.qa.answer_in_context` only pairs whose answer is supported by the kept (cut) context
are used: with short contexts most NarrativeQA questions otherwise ask about events the
model never sees. The summary records the share of supported answers either way.
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from pathlib import Path

import typer

from gendiv.cards import params_section, write_set
from gendiv.config import Params, Task, load_params
from gendiv.errors import UserError
from gendiv.io import write_json
from gendiv.layout import dataset_dir
from gendiv.prepare.bundled import read_bundled_qa, read_bundled_stories

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")


class DataSourceError(UserError):
    """The configured data source cannot be read; the message says what to do."""


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def story_row(story_id: str, sentences: list[str]) -> dict | None:
    """A five-sentence story as context (1-4) and completion (5); None if not five."""
    sentences = [s.strip() for s in sentences if s and s.strip()]
    if len(sentences) != 5:
        return None
    return {"id": str(story_id), "context": " ".join(sentences[:4]), "completion": sentences[4]}


def story_row_from_record(record: dict, index: int) -> dict | None:
    """Parse one hub or CSV record: sentence1..sentence5 columns, or one `text` column."""
    story_id = record.get("storyid") or record.get("id") or f"story-{index}"
    if all(f"sentence{i}" in record for i in range(1, 6)):
        return story_row(story_id, [record[f"sentence{i}"] for i in range(1, 6)])
    if "text" in record:
        return story_row(story_id, split_sentences(record["text"]))
    raise DataSourceError(f"story record has neither sentence1..sentence5 nor a text column: {sorted(record)}")


_STOPWORDS = frozenset(
    "a an the of to in on at by for with and or but is are was were be been being his her hers their "
    "its he she they it him them this that these those from as into about what who whom which why how "
    "when where does did do has have had not no yes so than then there".split()
)


def content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in _STOPWORDS]


def answer_supported(answer: str, context: str) -> bool:
    """Every content word of the answer occurs in the context (an answer of stopwords only is not)."""
    words = content_words(answer)
    return bool(words) and set(words) <= set(content_words(context))


def cut_words(text: str, max_words: int | None) -> str:
    words = text.split()
    if max_words is None or len(words) <= max_words:
        return " ".join(words)
    return " ".join(words[:max_words])


def qa_rows_from_hub_record(record: dict) -> dict:
    """Flatten one deepmind/narrativeqa record to the QA schema (context = summary)."""
    doc = record["document"]
    answers = record.get("answers") or []
    return {
        "document_id": doc["id"],
        "context": doc["summary"]["text"],
        "question": record["question"]["text"],
        "answer": answers[0]["text"] if answers else "",
    }


def _hub(hub_id: str, key: str):
    try:
        from datasets import load_dataset

        return load_dataset(hub_id)
    except Exception as err:  # offline mode, network errors, missing dataset
        raise DataSourceError(
            f"data.source = hub: could not load {hub_id!r} from the Hugging Face Hub "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}). "
            f"This needs network access (and HF_HUB_OFFLINE / HF_DATASETS_OFFLINE unset); "
            f"offline, use data.source: bundled. Key: {key}"
        ) from None


def _take_stories(records, n: int, rng: random.Random, what: str) -> list[dict]:
    rows = [r for i, rec in enumerate(records) if (r := story_row_from_record(rec, i))]
    rows.sort(key=lambda r: r["id"])
    rng.shuffle(rows)
    if len(rows) < n:
        raise DataSourceError(f"{what}: asked for {n} stories, the source has {len(rows)}")
    return rows[:n]


def prepare_story(p: Params, root: Path) -> tuple[list[dict], list[dict]]:
    rng = random.Random(p.seed)
    n_train, n_test = p.data.story.n_train, p.data.story.n_test
    if p.data.source == "bundled":
        rows = _take_stories(read_bundled_stories(root / p.data.bundled_dir), n_train + n_test, rng, "data.story")
        return rows[:n_train], rows[n_train:]
    ds = _hub(p.data.story.hub_id, "data.story.hub_id")
    test_split = "test" if "test" in ds else "validation"
    train = _take_stories(ds["train"], n_train, rng, "data.story.n_train")
    test = _take_stories(ds[test_split], n_test, rng, "data.story.n_test")
    return train, test


def _group_qa(flat: list[dict]) -> dict[str, list[dict]]:
    docs: dict[str, list[dict]] = defaultdict(list)
    for row in flat:
        if row["question"].strip() and row["answer"].strip():
            docs[row["document_id"]].append(row)
    return docs


def _supported_only(docs: dict[str, list[dict]], max_words: int | None) -> dict[str, list[dict]]:
    return {
        d: [r for r in qs if answer_supported(r["answer"], cut_words(r["context"], max_words))]
        for d, qs in docs.items()
    }


def _select_docs(
    docs: dict[str, list[dict]],
    n_docs: int,
    per_doc: int,
    rng: random.Random,
    max_words: int | None,
    what: str,
    exclude: set[str] = frozenset(),
    supported: bool = False,
) -> list[dict]:
    if supported:
        docs = _supported_only(docs, max_words)
    ids = sorted(d for d, qs in docs.items() if len(qs) >= per_doc and d not in exclude)
    rng.shuffle(ids)
    if len(ids) < n_docs:
        kind = " answered within the kept context" if supported else ""
        raise DataSourceError(
            f"{what}: asked for {n_docs} contexts with {per_doc} QA pairs{kind} each, the source has {len(ids)}"
        )
    rows = []
    for doc_id in ids[:n_docs]:
        qas = sorted(docs[doc_id], key=lambda r: (r["question"], r["answer"]))
        rng.shuffle(qas)
        for k, qa in enumerate(qas[:per_doc]):
            rows.append(
                {
                    "id": f"{doc_id}-{k}",
                    "document_id": doc_id,
                    "context": cut_words(qa["context"], max_words),
                    "question": " ".join(qa["question"].split()),
                    "answer": " ".join(qa["answer"].split()),
                }
            )
    return rows


def prepare_qa(p: Params, root: Path) -> tuple[list[dict], list[dict]]:
    q = p.data.qa
    rng = random.Random(p.seed)
    if p.data.source == "bundled":
        summaries, qa_records = read_bundled_qa(root / p.data.bundled_dir)
        flat = []
        for rec in qa_records:
            if rec["document_id"] in summaries:
                flat.append(
                    {
                        "document_id": rec["document_id"],
                        "context": summaries[rec["document_id"]],
                        "question": rec["question"],
                        "answer": rec["answer1"],
                    }
                )
        docs = _group_qa(flat)
        test = _select_docs(
            docs,
            q.n_test_docs,
            q.test_qa_per_doc,
            rng,
            q.max_context_words,
            "data.qa.n_test_docs",
            supported=q.answer_in_context,
        )
        used = {r["document_id"] for r in test}
        train = _select_docs(
            docs,
            q.n_train_docs,
            q.qa_per_doc,
            rng,
            q.max_context_words,
            "data.qa.n_train_docs",
            exclude=used,
            supported=q.answer_in_context,
        )
        return train, test
    ds = _hub(q.hub_id, "data.qa.hub_id")
    train_docs = _group_qa([qa_rows_from_hub_record(r) for r in ds["train"]])
    test_docs = _group_qa([qa_rows_from_hub_record(r) for r in ds["test"]])
    train = _select_docs(
        train_docs,
        q.n_train_docs,
        q.qa_per_doc,
        rng,
        q.max_context_words,
        "data.qa.n_train_docs",
        supported=q.answer_in_context,
    )
    test = _select_docs(
        test_docs,
        q.n_test_docs,
        q.test_qa_per_doc,
        rng,
        q.max_context_words,
        "data.qa.n_test_docs",
        exclude={r["document_id"] for r in train},
        supported=q.answer_in_context,
    )
    return train, test


def run(p: Params, task: str, root: Path = Path(".")) -> dict:
    train, test = (prepare_story if task == "story" else prepare_qa)(p, root)
    out = root / dataset_dir(task, "real")
    train, test = ([{**row, "source": "real"} for row in rows] for rows in (train, test))
    card_params = params_section(p, "seed", "data.source", f"data.{task}")
    write_set(task, "real", train, f"gendiv prepare-real --task {task}", card_params, {"test": test}, out)
    summary = {"task": task, "source": p.data.source, "n_train": len(train), "n_test": len(test)}
    if task == "qa":
        summary["n_train_docs"] = len({r["document_id"] for r in train})
        summary["n_test_docs"] = len({r["document_id"] for r in test})
        for split, rows in (("train", train), ("test", test)):
            share = sum(answer_supported(r["answer"], r["context"]) for r in rows) / max(1, len(rows))
            summary[f"{split}_answers_in_context"] = round(share, 4)
    write_json(out / "summary.json", summary)
    return summary


def main(task: Task = typer.Option(..., help="the task"), params: Path = Path("params.yaml")) -> None:
    """Write data/real/<task>/{train,test}.jsonl from the configured source."""
    if task not in ("story", "qa"):
        raise typer.BadParameter(f"--task {task!r}: must be story or qa")
    p = load_params(params)
    summary = run(p, task, params.resolve().parent)
    typer.echo(json.dumps(summary))


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(main)
