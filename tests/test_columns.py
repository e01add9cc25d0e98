"""One column schema per task: every row gets every column, typed, in order; bad rows are errors."""

import pytest

from gendiv.columns import COLUMNS, NO_LEVEL, conform
from gendiv.errors import InputError


def test_a_real_row_gets_typed_placeholders_not_nulls():
    row = conform(
        "qa", {"id": "x", "document_id": "d", "context": "c", "question": "q", "answer": "a", "source": "real"}
    )
    assert list(row) == [c.name for c in COLUMNS["qa"]]
    assert row["level"] == NO_LEVEL and row["kind"] == "real" and row["generator"] == "" and row["source_id"] == ""
    assert None not in row.values()


def test_fields_given_override_the_row():
    row = conform("story", {"id": "x", "context": "c", "completion": "e"}, source="d3", level=3, topic="t")
    assert (row["source"], row["level"], row["topic"]) == ("d3", 3, "t")


@pytest.mark.parametrize(
    "row,message",
    [
        ({"id": "x", "context": "c", "completion": "e"}, "column 'source' is missing"),
        ({"id": "x", "context": "c", "completion": "e", "source": "real", "extra": 1}, "unknown column"),
        ({"id": "x", "context": "c", "completion": "e", "source": "real", "level": "3"}, "must be int64"),
        ({"id": "x", "context": "c", "completion": "e", "source": "real", "level": True}, "must be int64"),
        ({"id": "x", "context": None, "completion": "e", "source": "real"}, "column 'context' is missing"),
    ],
)
def test_rows_outside_the_schema_are_refused(row, message):
    with pytest.raises(InputError, match=message):
        conform("story", row)
