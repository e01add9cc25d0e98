"""Append-only cache of finished LLM calls in SQLite (WAL).

Every finished call (or hf batch) is committed in its own transaction, so a SIGKILL loses
at most the calls in flight. Entries are never overwritten: the first answer for a key is
the answer, which keeps resumed runs identical to uninterrupted ones.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from gendiv.llm.base import Completion

DEFAULT_DIR = None  # the `llm` folder of gendiv.state.state_dir(), resolved when a cache opens


def resolve_dir(directory: Path | str | None = DEFAULT_DIR) -> Path:
    """`directory`, or by default the shared state folder's `llm/` (absolute, see gendiv.state)."""
    from gendiv.state import state_dir

    return Path(directory) if directory is not None else state_dir() / "llm"


class CallCache:
    def __init__(self, directory: Path | str | None = DEFAULT_DIR):
        self.directory = resolve_dir(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "calls.sqlite"
        # check_same_thread off: online workers store answers themselves (serialized by LLM.complete)
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def get_many(self, keys: Iterable[str]) -> dict[str, Completion]:
        keys = list(dict.fromkeys(keys))
        found: dict[str, Completion] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for key, value in self._db.execute(f"SELECT key, value FROM calls WHERE key IN ({marks})", chunk):
                found[key] = Completion.from_json(json.loads(value))
        return found

    def put_many(self, items: Iterable[tuple[str, Completion, dict]]) -> None:
        """Store (key, completion, request metadata) rows in one transaction."""
        rows = [
            (k, json.dumps({**c.to_json(), "request": meta}, ensure_ascii=False, sort_keys=True))
            for k, c, meta in items
        ]
        if not rows:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR IGNORE INTO calls (key, value) VALUES (?, ?)", rows)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]

    def close(self) -> None:
        self._db.close()
