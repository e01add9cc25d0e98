"""The one column schema of every data file of a task: real, generated, mixed and source sets.

Every row of a task has the same columns, in the same order, with the same types, and no
column is ever null: a human-written row says so with typed placeholders ("" and level -1)
instead. So `datasets.load_dataset("json", data_files=[...])` loads any combination of files
(Arrow infers a column's type from the first rows it reads; a null there would clash with a
string later), and a mixed set is one table whatever order its rows come in.
"""

from __future__ import annotations

from dataclasses import dataclass

from gendiv.errors import InputError

NO_LEVEL = -1  # `level` of a row that comes from no Gen-D level (human-written)


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # "string" or "int64", as Hugging Face datasets names them
    description: str
    default: str | int | None = None  # None: every writer must give it


_PROVENANCE = (
    Column("source", "string", 'the set the row was drawn from: "real", "d<level>" or "src_<generator>"'),
    Column("level", "int64", "Gen-D level whose prompts made the row; -1 for human-written rows", NO_LEVEL),
    Column("generator", "string", 'backend:model that wrote the row; "" for human-written rows', ""),
    Column("template_version", "string", 'prompt template id@version; "" for human-written rows', ""),
)

STORY = (
    Column("id", "string", "unique row id"),
    Column("context", "string", "sentences 1-4 of the story (the prompt)"),
    Column("completion", "string", "sentence 5 (the target)"),
    *_PROVENANCE[:2],
    Column("topic", "string", 'topic the generator was given; "" for human-written rows', ""),
    *_PROVENANCE[2:],
)

QA = (
    Column("id", "string", "unique row id"),
    Column("document_id", "string", "the plot summary the pair is about (standard errors cluster on it)"),
    Column("context", "string", "the plot summary, cut to data.qa.max_context_words words"),
    Column("question", "string", "the question (the prompt, after the context)"),
    Column("answer", "string", "the answer (the target)"),
    *_PROVENANCE[:2],
    Column("kind", "string", '"real", "generated" (a new pair) or "paraphrase" (a rewritten real question)', "real"),
    Column("source_id", "string", 'id of the real pair a paraphrase rewrites; "" otherwise', ""),
    Column("source_question", "string", 'the real question a paraphrase rewrites; "" otherwise', ""),
    *_PROVENANCE[2:],
)

COLUMNS = {"story": STORY, "qa": QA}
_TYPES = {"string": str, "int64": int}


def conform(task: str, row: dict, **fields) -> dict:
    """`row` updated with `fields`, as a row of the task's schema: every column in schema order,
    placeholders where a column has a default; an unknown, missing or mistyped column is an error."""
    merged = {**row, **fields}
    columns = COLUMNS[task]
    unknown = sorted(set(merged) - {c.name for c in columns})
    if unknown:
        raise InputError(f"{task} row {merged.get('id')!r}: unknown column(s) {', '.join(unknown)}")
    out = {}
    for c in columns:
        value = merged.get(c.name, c.default)
        if value is None:
            raise InputError(f"{task} row {merged.get('id')!r}: column {c.name!r} is missing")
        if type(value) is not _TYPES[c.dtype]:  # bool is not an int64 column
            raise InputError(f"{task} row {merged.get('id')!r}: column {c.name!r} must be {c.dtype}, got {value!r}")
        out[c.name] = value
    return out
