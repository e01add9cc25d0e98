"""The provider's Batch API (half price, answers within 24 h) for large openai runs.

Uncached requests are written as one JSONL file per batch (at most 50,000 requests),
uploaded and submitted; the batch id is saved under `.gendiv_cache/llm/batches/` before
waiting, so a killed or timed-out run resumes by polling the same batch instead of paying
again. Answers are cached line by line like online calls (same keys: the answer does not
depend on the transport). A line the provider failed is cached as an empty answer, which
the caller rejects and re-asks with a new attempt number.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from gendiv.io import atomic_open, read_json
from gendiv.llm.base import Completion, request_seed
from gendiv.llm.openai_backend import EndpointError, OpenAIBackend, chat_body, parse_chat

MAX_REQUESTS = 50_000
ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")


class BatchBackend(OpenAIBackend):
    def __init__(self, cfg, seed: int, state_dir: Path, sleep=time.sleep):
        super().__init__(cfg, seed)
        self.state_dir, self.sleep = Path(state_dir), sleep

    def _state(self, items) -> Path:
        """Where the id of the batch for exactly these requests is kept."""
        return self.state_dir / (hashlib.sha256("\n".join(k for k, _ in items).encode()).hexdigest() + ".json")

    def _submit(self, items, stats) -> str:
        state = self._state(items)
        if state.is_file():
            return read_json(state)["batch_id"]
        lines = [json.dumps({"custom_id": k, "method": "POST", "url": "/v1/chat/completions",
                             "body": chat_body(self.cfg, r, request_seed(self.seed, r))}, ensure_ascii=False)
                 for k, r in items]
        data = ("\n".join(lines) + "\n").encode("utf-8")
        upload = self.with_retries(lambda: self.client.files.create(file=("batch.jsonl", data), purpose="batch"), stats)
        batch = self.with_retries(lambda: self.client.batches.create(
            input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"), stats)
        with atomic_open(state) as fh:
            json.dump({"batch_id": batch.id, "input_file_id": upload.id, "requests": len(items)}, fh)
        self._add(stats, calls=len(items))
        return batch.id

    def _collect(self, batch_id: str, items, store, stats) -> None:
        while True:
            batch = self.with_retries(lambda: self.client.batches.retrieve(batch_id), stats)
            if batch.status not in ACTIVE:
                break
            self.sleep(self.cfg.batch_poll_s)
        requests = dict(items)
        answered = []
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            text = self.with_retries(lambda f=file_id: self.client.files.content(f).text, stats)
            for line in filter(str.strip, text.splitlines()):
                row = json.loads(line)
                response = row.get("response") or {}
                if row.get("custom_id") not in requests:
                    continue
                if response.get("status_code") == 200:
                    c = parse_chat(response.get("body") or {})
                    self._add(stats, tokens_in=c.tokens_in, tokens_out=c.tokens_out)
                else:
                    c = Completion("", 0, 0, f"batch_error:{response.get('status_code')}")
                answered.append((row["custom_id"], requests[row["custom_id"]], c))
        store(answered)
        state = self._state(items)
        if batch.status != "completed" or len(answered) < len(items):
            state.unlink(missing_ok=True)   # answered lines are cached; a rerun submits the rest
            raise EndpointError(f"batch {batch_id} ended as {batch.status!r} with {len(answered)} of "
                                f"{len(items)} answers; rerun to submit the rest")
        state.unlink(missing_ok=True)

    def run(self, units, store, stats) -> None:
        items = [kr for unit in units for kr in unit]
        chunks = [items[i:i + MAX_REQUESTS] for i in range(0, len(items), MAX_REQUESTS)]
        ids = [self._submit(chunk, stats) for chunk in chunks]
        with self._lock:
            stats.batches.extend(ids)
        for batch_id, chunk in zip(ids, chunks):
            self._collect(batch_id, chunk, store, stats)
