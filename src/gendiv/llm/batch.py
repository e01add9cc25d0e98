"""The provider's Batch API (half price, answers within 24 h) for large openai runs.

Uncached requests are sorted by call key and cut into batches of at most 50,000. Every
batch is recorded under `.gendiv_cache/llm/batches/` (its keys and a fresh tag) before
anything is sent; its input file id and batch id are added as soon as they are known, and
the batch carries the tag as metadata. So a run killed at any point resumes the same
batches instead of paying twice (a batch created just before the kill is found again by
its tag), and the saved keys keep the batch boundaries fixed across reruns.

Answers are cached line by line like online calls (same keys: the answer does not depend
on the transport). A line the provider failed (429, 5xx, expired, no response) and a
malformed or missing line are never cached: those requests go out again, unchanged, in
the next batch of the same run (at most generator.max_retries times), so the data equals
a fault-free run's. A failed or cancelled batch, or lines the provider refused (other
4xx), end the run with one line naming the batch, after every other batch was collected.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import openai
from tqdm import tqdm

from gendiv.io import atomic_open, read_json
from gendiv.llm.base import Completion, request_seed
from gendiv.llm.cache import CallCache
from gendiv.llm.openai_backend import OpenAIBackend
from gendiv.llm.openai_chat import chat_body, parse_chat
from gendiv.llm.retries import EndpointError

MAX_REQUESTS = 50_000
ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")
TAG = "gendiv_tag"  # metadata key of the batches this backend creates
LIST_SLACK_S = 86_400  # clock skew allowed when searching the batch list by creation time


def _short(text) -> str:
    """A provider message on one short line."""
    text = " ".join(str(text).split())
    return text if len(text) <= 200 else text[:197] + "..."


def _retryable(status) -> bool:
    """Line failures worth sending again: no response (expired, cancelled), 408/409/429, 5xx."""
    return status is None or status in (408, 409, 429) or status >= 500


class BatchBackend(OpenAIBackend):
    def __init__(self, cfg, seed: int, cache_dir: Path, sleep=time.sleep):
        super().__init__(cfg, seed)
        self.cache_dir, self.state_dir, self.sleep = Path(cache_dir), Path(cache_dir) / "batches", sleep

    def _uncached(self, keys: list[str]) -> list[str]:
        """Keys not in the call cache (a record whose answers are all cached is finished)."""
        cache = CallCache(self.cache_dir)
        try:
            found = cache.get_many(keys)
        finally:
            cache.close()
        return [k for k in keys if k not in found]

    # -- records: one file per batch, written before each step that costs money ------
    def _path(self, rec: dict) -> Path:
        return self.state_dir / f"batch-{rec['tag']}.json"

    def _save(self, rec: dict) -> None:
        with atomic_open(self._path(rec)) as fh:
            json.dump(rec, fh)

    def _plan(self, requests: dict) -> list[dict]:
        """Saved records that hold some of these requests, then new records for the rest."""
        plan, covered = [], set()
        saved = sorted((read_json(p) for p in self.state_dir.glob("batch-*.json")), key=lambda r: r["keys"][0])
        for rec in saved:
            if any(k in requests for k in rec["keys"]):
                plan.append(rec)
                covered.update(rec["keys"])
            elif not self._uncached(rec["keys"]):  # killed between caching its answers and this unlink
                self._path(rec).unlink(missing_ok=True)
        rest = sorted(k for k in requests if k not in covered)
        for i in range(0, len(rest), MAX_REQUESTS):
            rec = {"tag": uuid.uuid4().hex, "created": int(time.time()), "keys": rest[i : i + MAX_REQUESTS]}
            self._save(rec)
            plan.append(rec)
        return plan

    # -- submit ------------------------------------------------------------------------
    def _find(self, rec: dict) -> str | None:
        """The id of the batch created for this record whose reply was lost (by its metadata tag)."""
        for batch in self.client.batches.list(limit=100):
            if (batch.metadata or {}).get(TAG) == rec["tag"]:
                return batch.id
            if batch.created_at < rec["created"] - LIST_SLACK_S:
                break
        return None

    def _submit(self, rec: dict, requests: dict, stats) -> None:
        if rec.get("batch_id"):
            return
        if not rec.get("input_file_id"):  # nothing was sent yet: the record may drop keys no longer asked
            rec["keys"] = [k for k in rec["keys"] if k in requests]
            if not rec["keys"]:
                self._path(rec).unlink(missing_ok=True)
                return
            lines = [
                json.dumps(
                    {
                        "custom_id": k,
                        "method": "POST",
                        "url": "/v1/chat/completions",
                        "body": chat_body(self.cfg, requests[k], request_seed(self.seed, requests[k])),
                    },
                    ensure_ascii=False,
                )
                for k in rec["keys"]
            ]
            data = ("\n".join(lines) + "\n").encode("utf-8")
            upload = self.with_retries(
                lambda: self.client.files.create(file=(f"gendiv-{rec['tag']}.jsonl", data), purpose="batch"), stats
            )
            rec["input_file_id"] = upload.id
            self._save(rec)

        def create() -> str:  # every try looks for the batch first: a lost reply must not pay twice
            return (
                self._find(rec)
                or self.client.batches.create(
                    input_file_id=rec["input_file_id"],
                    endpoint="/v1/chat/completions",
                    completion_window="24h",
                    metadata={TAG: rec["tag"]},
                ).id
            )

        rec["batch_id"] = self.with_retries(create, stats)
        self._save(rec)

    # -- collect -----------------------------------------------------------------------
    def _retrieve(self, batch_id: str):
        try:
            return self.client.batches.retrieve(batch_id)
        except openai.NotFoundError:
            return None

    def _content(self, file_id: str) -> str:
        """A result file's text; one the provider deleted reads as empty (its requests are sent again)."""
        try:
            return self.client.files.content(file_id).text
        except openai.NotFoundError:
            return ""

    def _read_lines(self, batch, keys: set, stats):
        """Answers and failures by key from the output and error files, and a count of bad lines."""
        answers: dict[str, Completion] = {}
        failures: dict[str, tuple] = {}  # key -> (status or None, error code, message)
        skipped = Counter()
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            text = self.with_retries(lambda f=file_id: self._content(f), stats)
            for line in filter(str.strip, text.splitlines()):
                try:
                    row = json.loads(line)
                except ValueError:
                    row = None
                key = row.get("custom_id") if isinstance(row, dict) else None
                if not isinstance(key, str) or key not in keys:
                    skipped["malformed"] += 1
                    continue
                if key in answers:
                    skipped["duplicate"] += 1
                    continue
                response = row.get("response") if isinstance(row.get("response"), dict) else {}
                status, body = response.get("status_code"), response.get("body")
                if status == 200 and isinstance(body, dict):
                    answers[key] = parse_chat(body)
                    failures.pop(key, None)
                    continue
                error = row.get("error") or (body.get("error") if isinstance(body, dict) else None) or {}
                if not isinstance(error, dict):
                    error = {"message": error}
                status = status if isinstance(status, int) and status != 200 else None
                reason = " ".join(str(x) for x in (status, error.get("code")) if x) or "no_response"
                failures[key] = (status, reason, _short(error.get("message", "")))
        return answers, failures, skipped

    def _collect(self, rec: dict, requests: dict, store, stats) -> tuple[list[str], str | None]:
        """Wait for the batch, cache its answers; return the keys to send again and a problem line."""
        batch_id, keys = rec["batch_id"], rec["keys"]
        while True:
            batch = self.with_retries(lambda: self._retrieve(batch_id), stats)
            if batch is None:  # another account or deleted: nothing to collect, send the requests again
                self._path(rec).unlink(missing_ok=True)
                tqdm.write(
                    f"gendiv: batch {batch_id} is unknown to the endpoint; its requests are sent again", file=sys.stderr
                )
                return [k for k in keys if k in requests], None
            if batch.status not in ACTIVE:
                break
            self.sleep(self.cfg.batch_poll_s)
        answers, failures, skipped = self._read_lines(batch, set(keys), stats)
        mine = [k for k in keys if k in answers and k in requests]
        store([(k, requests[k], answers[k]) for k in mine])
        self._add(
            stats,
            calls=len(mine),
            tokens_in=sum(answers[k].tokens_in for k in mine),
            tokens_out=sum(answers[k].tokens_out for k in mine),
        )
        left = self._uncached([k for k in keys if k in answers and k not in requests])  # another call may ask
        if left:
            self._save({**rec, "keys": left})
        else:
            self._path(rec).unlink(missing_ok=True)

        unanswered = [k for k in keys if k in requests and k not in answers]
        refused = [k for k in unanswered if k in failures and not _retryable(failures[k][0])]
        again = [k for k in unanswered if k not in refused]
        provider = [
            f"{e.code}: {_short(e.message)}" + (f" (line {e.line})" if e.line else "")
            for e in ((batch.errors.data or []) if batch.errors else [])
        ]
        if batch.status != "completed" or failures or skipped or provider:
            reasons = Counter(failures[k][1] for k in unanswered if k in failures)
            missing = sum(1 for k in unanswered if k not in failures)
            parts = [f"{n} x {r}" for r, n in sorted(reasons.items())] + ([f"{missing} x no line"] if missing else [])
            first = next((failures[k][2] for k in unanswered if k in failures and failures[k][2]), "")
            tqdm.write(
                f"gendiv: batch {batch_id} {batch.status}: {len(answers)} of {len(keys)} answered"
                + (f"; not cached: {', '.join(parts)}" if parts else "")
                + "".join(f"; {n} {kind} line(s) skipped" for kind, n in sorted(skipped.items()))
                + (f"; first error: {first}" if first else "")
                + (f"; provider: {'; '.join(provider[:3])}" if provider else ""),
                file=sys.stderr,
            )
        if batch.status in ("completed", "expired"):
            problem = None
            if refused:
                code, message = failures[refused[0]][1:]
                problem = (
                    f"batch {batch_id}: the endpoint refused {len(refused)} request(s) ({code}: {message}); "
                    "the other answers are cached, rerun to send the refused ones again"
                )
            return again, problem
        detail = f" ({'; '.join(provider[:3])})" if provider else ""
        return [], (
            f"batch {batch_id} ended as {batch.status!r}{detail} with {len(mine)} of {len(mine) + len(unanswered)} "
            f"answers (cached); rerun to submit the other {len(unanswered)}"
        )

    def run(self, units, store, stats) -> None:
        """Submit every batch, collect every batch, send failed lines again; then raise any problem."""
        requests = {k: r for unit in units for k, r in unit}
        for round_no in range(self.cfg.max_retries + 1):
            if round_no:
                self._add(stats, retries=len(requests))
            plan, problems, again = self._plan(requests), [], []
            for rec in plan:
                try:
                    self._submit(rec, requests, stats)
                except EndpointError as err:
                    problems.append(str(err))
            with self._lock:
                stats.batches.extend(rec["batch_id"] for rec in plan if rec.get("batch_id"))
            for rec in plan:
                if not rec.get("batch_id"):
                    continue
                try:
                    resend, problem = self._collect(rec, requests, store, stats)
                except EndpointError as err:
                    resend, problem = [], str(err)
                again += resend
                if problem:
                    problems.append(problem)
            if problems:
                raise EndpointError("; ".join(problems))
            if not again:
                return
            requests = {k: requests[k] for k in sorted(again)}
        raise EndpointError(
            f"{len(requests)} request(s) still failed after {self.cfg.max_retries + 1} batch rounds; "
            "the answers received are cached, rerun to send the rest"
        )
