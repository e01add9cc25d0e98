"""Shared readers: every malformed user file is an InputError naming file, line and fault."""

import pytest

from gendiv.errors import UserError
from gendiv.io import InputError, read_csv, read_json, read_jsonl, write_jsonl

JSONL_BAD = [
    ('{"a": "x"}\n\n{"a": "y"}\n', ":2: blank line"),
    ('{"a": "x"}\n   \n', ":2: blank line"),
    ('{"a": "x"}\n{"a": \n', ":2: not valid JSON"),
    ('{"a": "x"}\n["a"]\n', ":2: expected a JSON object, got list"),
    ('{"a": "x"}\n{"b": "y"}\n', ":2: missing field(s) 'a'"),
    ('{"a": 5}\n', ":1: field 'a' must be text, got int"),
    ('{"a": null}\n', ":1: field 'a' must be text, got NoneType"),
]


@pytest.mark.parametrize("text,expected", JSONL_BAD, ids=[e for _, e in JSONL_BAD])
def test_bad_jsonl_names_file_and_line(tmp_path, text, expected):
    path = tmp_path / "rows.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_jsonl(path, fields=("a",))
    assert f"{path}{expected}" in str(err.value)
    assert "\n" not in str(err.value)
    assert isinstance(err.value, UserError)  # the CLI turns it into exit 2, no traceback


def test_jsonl_reads_what_write_jsonl_writes(tmp_path):
    rows = [{"a": "line\u2028separator and \u0085 next-line stay inside one row"}, {"a": "é", "n": 1}]
    write_jsonl(tmp_path / "rows.jsonl", rows)
    assert read_jsonl(tmp_path / "rows.jsonl", fields=("a",)) == rows
    (tmp_path / "crlf.jsonl").write_bytes(b'{"a": "x"}\r\n{"a": "y"}\r\n')
    assert read_jsonl(tmp_path / "crlf.jsonl") == [{"a": "x"}, {"a": "y"}]
    (tmp_path / "empty.jsonl").write_text("")
    assert read_jsonl(tmp_path / "empty.jsonl") == []


def test_not_utf8_missing_and_folder_are_input_errors(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes('{"a": "x"}\n{"a": "caf\u00e9"}\n'.encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1\.jsonl:2: not UTF-8 text \(byte 0xe9\)"):
        read_jsonl(path)
    with pytest.raises(InputError, match="nope.jsonl: file not found"):
        read_jsonl(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="cannot be read"):
        read_json(tmp_path)


def test_bad_json_document_names_its_line(tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{\n  "test_loss": 1.0,\n  oops\n}\n')
    with pytest.raises(InputError, match=r"m\.json:3: not valid JSON"):
        read_json(path)


CSV_BAD = [
    ('id,a,b\n1,x,y\n2,"two\nlines",z\n', ":3: a quoted cell spans several lines"),
    ("id,a,b\n1,x,y\n2,x\n", ":3: fewer cells than the 3 header columns"),
    ("id,a,b\n1,x,y,extra\n", ":2: more cells than the 3 header columns"),
    ("id,a\n1,x\n", ":1: header lacks column(s) 'b'"),
    ('id,a,b\n1,"x"y,z\n', ":2: not valid CSV"),
]


@pytest.mark.parametrize("text,expected", CSV_BAD, ids=[e for _, e in CSV_BAD])
def test_bad_csv_names_file_and_line(tmp_path, text, expected):
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_csv(path, fields=("a", "b"))
    assert f"{path}{expected}" in str(err.value)


def test_csv_rows(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('id,a,b\r\n1,"x, quoted",y\u2028z\r\n', encoding="utf-8")
    assert read_csv(path, fields=("a", "b")) == [{"id": "1", "a": "x, quoted", "b": "y\u2028z"}]
    path.write_bytes(b"id,a,b\n1,\xff,y\n")
    with pytest.raises(InputError, match=r"t\.csv:2: not UTF-8"):
        read_csv(path)
