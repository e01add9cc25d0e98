"""A local OpenAI-compatible server for tests: deterministic answers, injected faults.

Answers are derived from a hash of the request (messages + seed), so the same request
always gets the same answer and a re-ask (new seed) gets a different one. Faults are
chosen by that hash too: some requests first get a 429, then a 500, or a delay longer
than the client's timeout, and some answers are malformed (refusal, empty, wrong format).
`plan` holds faults (see FAULTS) that the next chat requests get, one each, in arrival order.
Also serves the Files and Batches endpoints used by the Batch API mode, with the batch states
and broken output files of BATCH_FAULTS.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections import Counter, defaultdict, deque
from email.parser import BytesParser
from email.policy import HTTP
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

WORDS = (
    "river",
    "garden",
    "lantern",
    "winter",
    "market",
    "violin",
    "harbor",
    "meadow",
    "castle",
    "kitten",
    "bakery",
    "storm",
    "bicycle",
    "forest",
    "island",
    "letter",
    "mirror",
    "puzzle",
    "rocket",
    "teacher",
    "tunnel",
    "village",
    "wagon",
    "yarn",
    "zebra",
    "anchor",
    "bridge",
    "candle",
    "desert",
    "engine",
)
NAMES = ("Anna", "Ben", "Carla", "Dev", "Emma", "Farid", "Gina", "Hugo", "Ines", "Jon")


def _h(*parts) -> int:
    return int(hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12], 16)


def answer_for(prompt: str, seed) -> str:
    """A well-formed answer for the gendiv prompt kinds (chosen by their wording)."""
    h = _h(prompt, seed)
    pick = lambda k, seq: seq[(h >> (k * 5)) % len(seq)]  # noqa: E731
    if "topics for short" in prompt:
        return "\n".join(f"{k + 1}. The {pick(k, WORDS)} {WORDS[(h >> k) % len(WORDS)]}" for k in range(10))
    if "five-sentence story" in prompt:
        name = pick(0, NAMES)
        days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
        return "\n".join(
            f"{k + 1}. On {day} {name} found a {pick(k + 1, WORDS)} near the {pick(k + 2, WORDS)}."
            for k, day in enumerate(days)
        )
    if "Q: <question>" in prompt:
        return f"Q: Who took the {pick(1, WORDS)} to the {pick(2, WORDS)}?\nA: {pick(3, NAMES)} did."
    if "Rewrite this question" in prompt:
        return f"In other words, which {pick(1, WORDS)} is meant here, {pick(2, NAMES)}?"
    return "ok"


# What a created batch does (FakeOpenAI(batch_faults=...) takes one per batch, in order): "expired"
# answers half and expires the rest (response null); "line_errors" fails 3 of 4 lines (500 in the output,
# 429 and null responses in the error file); "malformed" adds junk lines, doubles every line and cuts
# the last one off; "refused" answers 400 to its first line; "failed" (validating -> failed, errors
# set) and "cancelled" (cancelling -> cancelled) end with no output at all.
BATCH_FAULTS = ("ok", "expired", "line_errors", "malformed", "refused", "failed", "cancelled")
MALFORMED = ("I'm sorry, but I can't help with that.", "", "Sure! Here it is", "Q only, no answer")

# fault -> (HTTP status, error code); "429-ms" / "429-date" send their wait as retry-after-ms /
# an HTTP-date Retry-After. Error messages echo the request's credentials, as a careless proxy
# might, so tests can check that gendiv never repeats them.
STATUS_FAULTS = {
    "400": (400, "context_length_exceeded"),
    "401": (401, "invalid_api_key"),
    "403": (403, "unsupported_country_region_territory"),
    "404": (404, "model_not_found"),
    "408": (408, None),
    "409": (409, None),
    "413": (413, None),
    "422": (422, None),
    "429": (429, "rate_limit_exceeded"),
    "429-ms": (429, "rate_limit_exceeded"),
    "429-date": (429, "rate_limit_exceeded"),
    "429-quota": (429, "insufficient_quota"),
    "500": (500, None),
    "502": (502, None),
    "503": (503, None),
}
# faults of a 200 answer: truncated (finish_reason length), filtered, content null, no choices,
# an error object as the body, a body that is not JSON
ANSWER_FAULTS = ("length", "content_filter", "null_content", "no_choices", "error_body", "garbage")
FAULTS = (*STATUS_FAULTS, *ANSWER_FAULTS, "timeout", "reset")


def spoil(body: dict, fault: str) -> None:
    """Turn a good answer into one of the 200 answers that are not usable data."""
    choice = body["choices"][0]
    if fault == "length":
        text = choice["message"]["content"]
        choice.update(finish_reason="length", message={"role": "assistant", "content": text[: int(len(text) * 0.6)]})
    elif fault == "content_filter":
        choice.update(finish_reason="content_filter", message={"role": "assistant", "content": None})
    elif fault == "null_content":
        choice["message"]["content"] = None
    elif fault == "no_choices":
        body["choices"] = []


class FakeOpenAI:
    """Start with `with FakeOpenAI(...) as srv:`; `srv.base_url` goes into params."""

    def __init__(
        self,
        latency: float = 0.0,
        fault_every: int = 0,
        malformed_every: int = 0,
        timeout_every: int = 0,
        timeout_sleep: float = 1.5,
        batch_polls: int = 1,
        batch_faults: tuple[str, ...] = (),
        retry_after_ms: int = 300,
        retry_after_date_s: int = 2,
    ):
        self.latency, self.fault_every, self.malformed_every = latency, fault_every, malformed_every
        self.timeout_every, self.timeout_sleep, self.batch_polls = timeout_every, timeout_sleep, batch_polls
        self.retry_after_ms, self.retry_after_date_s = retry_after_ms, retry_after_date_s
        self.lock = threading.Lock()
        self.plan: deque = deque()  # faults for the next chat requests, one each
        self.faults: Counter = Counter()  # fault -> times served
        self.arrivals: Counter = Counter()  # request hash -> times seen
        self.times: defaultdict = defaultdict(list)  # request hash -> arrival times (time.monotonic)
        self.answered: Counter = Counter()  # request hash -> 200 answers
        self.status: Counter = Counter()  # HTTP status -> count
        self.in_flight = self.max_in_flight = 0
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}
        self.batch_faults = list(batch_faults)  # one per created batch, in order (see BATCH_FAULTS)
        self.downloads: Counter = Counter()  # file id -> times its content was read
        self.auth: set[str] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, body, headers=None, raw=False):
                data = body if raw else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                try:
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out or was killed
                    return
                with server.lock:
                    server.status[status] += 1

            def do_POST(self):
                server.auth.add(self.headers.get("Authorization", ""))
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.endswith("/chat/completions"):
                    return server.chat(self, json.loads(body), self.headers.get("Authorization", ""))
                if self.path.endswith("/files"):
                    return server.upload(self, body)
                if self.path.endswith("/batches"):
                    return server.create_batch(self, json.loads(body))
                self._send(404, {"error": {"message": "not found"}})

            def do_GET(self):
                parts = self.path.split("?")[0].strip("/").split("/")
                if len(parts) >= 3 and parts[-3] == "files" and parts[-1] == "content" and parts[-2] in server.files:
                    with server.lock:
                        server.downloads[parts[-2]] += 1
                    return self._send(200, server.files[parts[-2]], raw=True)
                if parts[-1] == "batches":
                    return server.list_batches(self, parse_qs(urlsplit(self.path).query))
                if len(parts) >= 2 and parts[-2] == "batches" and parts[-1] in server.batches:
                    return server.poll_batch(self, parts[-1])
                self._send(404, {"error": {"message": "not found"}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    # -- chat completions -------------------------------------------------------------
    def completion(self, req: dict) -> dict:
        prompt = "\n".join(m["content"] for m in req["messages"])
        h = _h(prompt, req.get("seed"))
        text = answer_for(prompt, req.get("seed"))
        if self.malformed_every and h % self.malformed_every == 0:
            text = MALFORMED[(h // self.malformed_every) % len(MALFORMED)]
        return {
            "id": f"chatcmpl-{h}",
            "object": "chat.completion",
            "created": 0,
            "model": f"{req['model']}-2024-08-06",
            "system_fingerprint": "fp_fake01",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": len(prompt.split()),
                "completion_tokens": len(text.split()),
                "total_tokens": len(prompt.split()) + len(text.split()),
            },
        }

    def chat(self, handler, req: dict, auth: str = "") -> None:
        h = _h(req["messages"], req.get("seed"))
        with self.lock:
            self.arrivals[h] += 1
            self.times[h].append(time.monotonic())
            seen = self.arrivals[h]
            fault = self.plan.popleft() if self.plan else None
            if fault:
                self.faults[fault] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.timeout_every and h % self.timeout_every == 0 and seen == 1 or fault == "timeout":
                time.sleep(self.timeout_sleep)
            if self.fault_every and h % self.fault_every == 0 and seen <= 2:
                status = 429 if seen == 1 else 500
                return handler._send(
                    status, {"error": {"message": "injected", "type": "server_error"}}, {"Retry-After": "0"}
                )
            if fault in STATUS_FAULTS:
                return self.refuse(handler, fault, auth)
            if fault == "reset":  # close the connection without an answer
                handler.close_connection = True
                return None
            if fault == "error_body":
                return handler._send(200, {"error": {"message": "upstream provider failed", "code": 502}})
            if fault == "garbage":
                return handler._send(200, b"<html>502 Bad Gateway</html>", raw=True)
            time.sleep(self.latency)
            body = self.completion(req)
            if fault in ANSWER_FAULTS:
                spoil(body, fault)
            with self.lock:
                self.answered[h] += 1
            handler._send(200, body)
        finally:
            with self.lock:
                self.in_flight -= 1

    def refuse(self, handler, fault: str, auth: str) -> None:
        status, code = STATUS_FAULTS[fault]
        echo = auth
        if auth.startswith("Basic "):
            echo += " = " + base64.b64decode(auth[6:]).decode()
        headers = {"Retry-After": "0"}
        if fault == "429-ms":
            headers = {"retry-after-ms": str(self.retry_after_ms)}
        elif fault == "429-date":
            headers = {"Retry-After": formatdate(time.time() + self.retry_after_date_s, usegmt=True)}
        handler._send(
            status,
            {
                "error": {
                    "message": f"injected {fault} for a request with {echo!r}",
                    "type": "invalid_request_error",
                    "code": code,
                }
            },
            headers,
        )

    @property
    def calls(self) -> int:
        return sum(self.answered.values())

    # -- files and batches ------------------------------------------------------------
    def upload(self, handler, body: bytes) -> None:
        msg = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + handler.headers["Content-Type"].encode() + b"\r\n\r\n" + body
        )
        content = next(
            part.get_payload(decode=True)
            for part in msg.iter_parts()
            if part.get_param("name", header="content-disposition") == "file"
        )
        fid = f"file-{len(self.files)}"
        self.files[fid] = content
        handler._send(
            200,
            {
                "id": fid,
                "object": "file",
                "bytes": len(content),
                "created_at": 0,
                "filename": "batch.jsonl",
                "purpose": "batch",
                "status": "processed",
            },
        )

    def _batch_view(self, bid: str) -> dict:
        b = self.batches[bid]
        done = b["status"] in ("completed", "expired", "cancelled", "failed")
        return {
            "id": bid,
            "object": "batch",
            "endpoint": "/v1/chat/completions",
            "input_file_id": b["input"],
            "completion_window": "24h",
            "status": b["status"],
            "created_at": b["created_at"],
            "metadata": b["metadata"],
            "output_file_id": b.get("output"),
            "error_file_id": b.get("error"),
            "errors": b.get("errors"),
            "request_counts": {
                "total": b["n"],
                "completed": b["ok"] if done else 0,
                "failed": b["n"] - b["ok"] if done else 0,
            },
        }

    def create_batch(self, handler, req: dict) -> None:
        with self.lock:
            bid = f"batch-{len(self.batches)}"
            lines = [json.loads(x) for x in self.files[req["input_file_id"]].decode().splitlines() if x.strip()]
            fault = self.batch_faults.pop(0) if self.batch_faults else "ok"
            assert fault in BATCH_FAULTS, fault
            self.batches[bid] = {
                "input": req["input_file_id"],
                "status": "validating",
                "polls": 0,
                "lines": lines,
                "n": len(lines),
                "ok": 0,
                "delivered": [],
                "fault": fault,
                "metadata": req.get("metadata"),
                "created_at": int(time.time()),
            }
        handler._send(200, self._batch_view(bid))

    def list_batches(self, handler, query: dict) -> None:
        """Newest first, `limit` a page, `after` the last id of the previous page (cursor pagination)."""
        ids = sorted(self.batches, key=lambda b: int(b.split("-")[1]), reverse=True)
        if "after" in query:
            ids = ids[ids.index(query["after"][0]) + 1 :]
        limit = int(query.get("limit", ["20"])[0])
        page = [self._batch_view(b) for b in ids[:limit]]
        handler._send(
            200,
            {
                "object": "list",
                "data": page,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
                "has_more": len(ids) > limit,
            },
        )

    def _file(self, rows: list[str]) -> str | None:
        if not rows:
            return None
        fid = f"file-{len(self.files)}"
        self.files[fid] = ("\n".join(rows) + "\n").encode()
        return fid

    def _finish(self, b: dict) -> None:
        """End a batch as its fault says: output and error files, errors, final status."""
        fault, out, err = b["fault"], [], []
        if fault == "failed":
            b.update(
                status="failed",
                errors={
                    "object": "list",
                    "data": [
                        {
                            "code": "token_limit_exceeded",
                            "message": "Enqueued token limit reached for fake-gpt.",
                            "param": None,
                            "line": None,
                        }
                    ],
                },
            )
            return
        if fault == "cancelled":
            b.update(status="cancelled")
            return
        for i, line in enumerate(b["lines"]):
            row = {"id": f"req-{i}", "custom_id": line["custom_id"]}
            if fault == "expired" and i >= len(b["lines"]) // 2:
                err.append(
                    json.dumps(
                        {
                            **row,
                            "response": None,
                            "error": {
                                "code": "batch_expired",
                                "message": "This request could not be executed before the completion window expired.",
                            },
                        }
                    )
                )
            elif fault == "line_errors" and i % 4 == 1:
                out.append(
                    json.dumps(
                        {
                            **row,
                            "response": {
                                "status_code": 500,
                                "request_id": "r",
                                "body": {"error": {"message": "injected", "type": "server_error"}},
                            },
                            "error": None,
                        }
                    )
                )
            elif fault == "line_errors" and i % 4 == 2:
                err.append(
                    json.dumps(
                        {
                            **row,
                            "response": {
                                "status_code": 429,
                                "request_id": "r",
                                "body": {
                                    "error": {
                                        "message": "Rate limit reached",
                                        "type": "requests",
                                        "code": "rate_limit_exceeded",
                                    }
                                },
                            },
                            "error": None,
                        }
                    )
                )
            elif fault == "line_errors" and i % 4 == 3:
                err.append(
                    json.dumps({**row, "response": None, "error": {"code": "server_error", "message": "injected"}})
                )
            elif fault == "refused" and i == 0:
                err.append(
                    json.dumps(
                        {
                            **row,
                            "response": {
                                "status_code": 400,
                                "request_id": "r",
                                "body": {
                                    "error": {
                                        "message": "This model's maximum context length is 8 tokens.",
                                        "type": "invalid_request_error",
                                        "code": "context_length_exceeded",
                                    }
                                },
                            },
                            "error": None,
                        }
                    )
                )
            else:
                body = self.completion(line["body"])
                self.answered[_h(line["body"]["messages"], line["body"].get("seed"))] += 1  # under self.lock
                b["ok"] += 1
                b["delivered"].append(line["custom_id"])
                out.append(
                    json.dumps(
                        {**row, "response": {"status_code": 200, "request_id": "r", "body": body}, "error": None}
                    )
                )
        if fault == "malformed":  # junk lines, every line twice, and the last one cut off
            out = (
                ["{not json", "[1, 2]", json.dumps({"custom_id": "unknown", "response": None}), "{}"]
                + [x for line in out[:-1] for x in (line, line)]
                + [out[-1][: len(out[-1]) // 2]]
            )
            b["delivered"].pop()
        b.update(status="expired" if fault == "expired" else "completed", output=self._file(out), error=self._file(err))

    def poll_batch(self, handler, bid: str) -> None:
        with self.lock:
            b = self.batches[bid]
            b["polls"] += 1
            if b["status"] in ("validating", "in_progress", "finalizing", "cancelling"):
                if b["polls"] >= self.batch_polls:
                    self._finish(b)
                elif b["fault"] == "cancelled":
                    b["status"] = "cancelling"
                elif b["fault"] != "failed":
                    b["status"] = ("in_progress", "finalizing")[min(b["polls"], 2) - 1]
        handler._send(200, self._batch_view(bid))

    def __enter__(self) -> FakeOpenAI:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


if __name__ == "__main__":  # a standalone server for the benchmark or manual runs
    import sys

    with FakeOpenAI(latency=float(sys.argv[1]) if len(sys.argv) > 1 else 0.0) as srv:
        print(srv.base_url, flush=True)
        threading.Event().wait()
