"""Deterministic, crash-safe file writing shared by every stage.

JSON lines are written with a fixed key order and no platform-dependent formatting, so
the same rows give byte-identical files. Writes go to a temporary file that is renamed
into place, so a killed stage never leaves a half-written output that looks finished.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from gendiv.errors import InputError


@contextmanager
def atomic_open(path: Path | str, mode: str = "w") -> Iterator:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(
            fd, mode, encoding=None if "b" in mode else "utf-8", newline=None if "b" in mode else "\n"
        ) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dumps_row(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def write_jsonl(path: Path | str, rows: Iterable[dict]) -> int:
    n = 0
    with atomic_open(path) as fh:
        for row in rows:
            fh.write(dumps_row(row) + "\n")
            n += 1
    return n


def read_text(path: Path | str) -> str:
    """A UTF-8 text file, or an InputError naming the file (missing, a folder, not UTF-8)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as err:
        raise InputError(f"{path}: cannot be read ({err.strerror or type(err).__name__})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[err.start]:02x}); save the file as UTF-8"
        ) from None


def _check_fields(row: dict, fields: Sequence[str], where: str) -> None:
    """Every named field is present and holds text (what the stages read from a row)."""
    missing = [f for f in fields if f not in row]
    if missing:
        raise InputError(
            f"{where}: missing field(s) {', '.join(map(repr, missing))} (each row needs {', '.join(map(repr, fields))})"
        )
    wrong = [f for f in fields if not isinstance(row[f], str)]
    if wrong:
        raise InputError(f"{where}: field {wrong[0]!r} must be text, got {type(row[wrong[0]]).__name__}")


def read_jsonl(path: Path | str, fields: Sequence[str] = ()) -> list[dict]:
    """One JSON object per line; a blank, malformed or non-object line, or a row without one of
    `fields` (text), is an InputError naming file and line."""
    rows = []
    lines = read_text(path).split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    for number, line in enumerate(lines, 1):
        where = f"{path}:{number}"
        if not line.strip():
            raise InputError(f"{where}: blank line (the file holds one JSON object per line)")
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{where}: not valid JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(row, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(row).__name__}")
        _check_fields(row, fields, where)
        rows.append(row)
    return rows


def read_csv(path: Path | str, fields: Sequence[str] = ()) -> list[dict]:
    """CSV rows as dicts; a row with too few or too many cells, a cell with a line break, or a
    header without one of `fields` is an InputError naming file and line."""
    consumed = 0

    def lines():
        nonlocal consumed
        for line in io.StringIO(read_text(path), newline=""):
            consumed += 1
            yield line

    reader = csv.DictReader(lines(), strict=True)
    rows = []
    try:
        header = reader.fieldnames or []
        missing = [f for f in fields if f not in header]
        if missing:
            raise InputError(
                f"{path}:1: header lacks column(s) {', '.join(map(repr, missing))} "
                f"(found {', '.join(map(repr, header)) or 'no header'})"
            )
        while True:
            first = consumed + 1
            row = next(reader, None)
            if row is None:
                return rows
            where = f"{path}:{first}"
            if None in row or None in row.values():
                raise InputError(
                    f"{where}: {'more' if None in row else 'fewer'} cells than the {len(header)} header columns"
                )
            if any("\n" in v or "\r" in v for v in row.values()):
                raise InputError(f"{where}: a quoted cell spans several lines; each record must be one line")
            rows.append(row)
    except csv.Error as err:
        raise InputError(f"{path}:{consumed}: not valid CSV ({err})") from None


def write_json(path: Path | str, obj) -> None:
    with atomic_open(path) as fh:
        fh.write(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def read_json(path: Path | str):
    """A JSON document, or an InputError naming file, line and fault."""
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise InputError(f"{path}:{err.lineno}: not valid JSON ({err.msg} at column {err.colno})") from None
