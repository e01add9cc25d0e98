"""Any OpenAI-compatible chat endpoint through the official `openai` client.

The client's own retries are off; tenacity retries what the official client retries
(408, 409, 429, 5xx, timeouts, connection errors; not a 429 `insufficient_quota`, which
no wait cures) plus a 200 whose body is an error, with exponential backoff and full jitter
(honouring `retry-after-ms` and `Retry-After` in seconds or as an HTTP date), so every
retry is counted by cause. Any other 4xx refuses that one request: it is cached as a drop
(finish_reason "http_<status>") and counted, except 401/403/404, which no request can get
past and so stop the stage. Requests run on `generator.concurrency` threads under a
requests/tokens-per-minute limiter; at most `concurrency` requests exist at a time, and
each worker caches its answer the moment it arrives. On Ctrl-C or SIGTERM nothing new is
sent (not even a retry); the requests in flight are waited for and cached, then the
interrupt goes on.

Which failures are retried and the errors raised: retries.py; the request body, the
parsing of an answer and the call-key settings: openai_chat.py.
"""

from __future__ import annotations

import base64
import os
import signal
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager

import openai
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential
from tqdm import tqdm

from gendiv.errors import UserError
from gendiv.llm.base import Completion, Request, request_seed
from gendiv.llm.openai_chat import chat_body, parse_chat, public_url, settings_of
from gendiv.llm.ratelimit import RateLimiter
from gendiv.llm.retries import (
    MAX_RETRY_AFTER_S,
    STAGE_WIDE,
    EndpointError,
    ErrorBody,
    Halted,
    RequestRefused,
    retry_after,
    retry_reason,
    retryable,
)


def api_key() -> str:
    key = os.environ.get("OPENAI_API_KEY")
    if not key:
        raise UserError(
            "generator.backend = openai needs the OPENAI_API_KEY environment variable "
            "(the key is never read from params.yaml)"
        )
    return key


def estimate_tokens(request: Request, max_tokens: int) -> int:
    """Rough prompt size (4 characters a token) plus the completion cap, for the TPM limiter."""
    return sum(len(m["content"]) for m in request.messages) // 4 + max_tokens


class OpenAIBackend:
    name = "openai"
    unit = 1

    def __init__(self, cfg, seed: int):
        self.cfg, self.seed, self.model = cfg, seed, cfg.model
        key = api_key()
        self.client = openai.OpenAI(api_key=key, base_url=cfg.base_url, max_retries=0, timeout=cfg.timeout_s)
        # the URL actually used (the client falls back to OPENAI_BASE_URL, then api.openai.com)
        self.url = public_url(self.client.base_url)
        user, password = self.client.base_url.username, self.client.base_url.password
        basic = base64.b64encode(f"{user}:{password}".encode()).decode() if user or password else ""
        # what must never be shown, also as the Basic auth header httpx makes of the userinfo
        self._secrets = sorted(
            {x for x in (key, password, f"{user}:{password}", basic) if len(x) >= 3}, key=len, reverse=True
        )
        self._halt = threading.Event()
        self.limiter = RateLimiter(cfg.requests_per_minute, cfg.tokens_per_minute, sleep=self._nap)
        self._lock = threading.Lock()  # worker threads share the stats counters
        self._warned: set[int] = set()

    def _nap(self, seconds: float) -> None:
        """time.sleep that ends early, raising Halted, when the run is interrupted."""
        if self._halt.wait(seconds):
            raise Halted

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return " ".join(text.split())

    def _add(self, stats, **amounts) -> None:
        with self._lock:
            for name, value in amounts.items():
                setattr(stats, name, getattr(stats, name) + value)

    def settings(self) -> dict:
        return settings_of(self.cfg, self.seed, self.url)

    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_random_exponential(multiplier=self.cfg.retry_base_s, max=60)(state)
        err = state.outcome.exception() if state.outcome else None
        response = getattr(err, "response", None)
        return max(backoff, min(retry_after(None if response is None else response.headers), MAX_RETRY_AFTER_S))

    def _before_retry(self, state: RetryCallState, stats) -> None:
        with self._lock:
            stats.retries += 1
            stats.retry_reasons[retry_reason(state.outcome.exception() if state.outcome else None)] += 1

    def with_retries(self, fn, stats):
        """fn() retried (see `retryable`); endpoint failures become EndpointError, never showing the key."""
        retrying = Retrying(
            retry=retry_if_exception(retryable),
            wait=self._wait,
            stop=stop_after_attempt(self.cfg.max_retries + 1),
            sleep=self._nap,
            before_sleep=lambda state: self._before_retry(state, stats),
            reraise=True,
        )
        try:
            return retrying(fn)
        except openai.APIStatusError as err:
            status = err.status_code
            if retryable(err):
                raise EndpointError(
                    f"{self.url} kept failing after {self.cfg.max_retries} retries "
                    f"({status} {type(err).__name__}); finished calls are cached, "
                    "rerun to resume"
                ) from None
            if err.code == "insufficient_quota":
                raise EndpointError(
                    f"{self.url}: the account of OPENAI_API_KEY has no quota left (429 "
                    "insufficient_quota); finished calls are cached, rerun after topping it up"
                ) from None
            if status in STAGE_WIDE:
                raise EndpointError(
                    f"{self.url} refused {STAGE_WIDE[status]} ({status}: {self._detail(err)}); "
                    "check OPENAI_API_KEY, generator.model and generator.base_url"
                ) from None
            raise RequestRefused(f"the endpoint refused a request: {status} {self._detail(err)}", status) from None
        except openai.APIConnectionError as err:
            raise EndpointError(
                f"{self.url} kept failing after {self.cfg.max_retries} retries "
                f"({type(err).__name__}: {self.redact(str(err))}); finished calls are cached, "
                "rerun to resume"
            ) from None

    def _detail(self, err: openai.APIStatusError) -> str:
        """The provider's own message, short, on one line, without secrets (never for a 401: it may echo the key)."""
        if err.status_code == 401:
            return "invalid or missing API key"
        body = err.body if isinstance(err.body, dict) else {}
        return self.redact(str(body.get("message") or err.message))[:300]

    def call(self, key: str, request: Request, stats) -> Completion:
        body = chat_body(self.cfg, request, request_seed(self.seed, request))

        def send() -> dict:
            if self._halt.is_set():
                raise Halted
            waited = self.limiter.acquire(estimate_tokens(request, self.cfg.max_new_tokens))
            self._add(stats, rate_limit_wait_s=waited)
            if self._halt.is_set():
                raise Halted
            raw = self.client.chat.completions.with_raw_response.create(**body)
            try:
                data = raw.http_response.json()
            except ValueError:
                data = None
            if isinstance(data, dict) and "error" in data and "choices" not in data:
                raise ErrorBody
            return data if isinstance(data, dict) else {}

        try:
            completion = parse_chat(self.with_retries(send, stats))
        except ErrorBody:
            completion = Completion("", 0, 0, "error_body")
        except RequestRefused as err:
            self._warn(err, request)
            return Completion("", 0, 0, f"http_{err.status}")
        self._add(stats, calls=1, tokens_in=completion.tokens_in, tokens_out=completion.tokens_out)
        return completion

    def _warn(self, err: RequestRefused, request: Request) -> None:
        """One line per refusal status and run: the sample is dropped, the report counts them all."""
        with self._lock:
            first = err.status not in self._warned
            self._warned.add(err.status)
        if first:
            tqdm.write(
                f"gendiv: warning: {err} (sample {request.sample} dropped; every such drop is counted as "
                f"http_{err.status} in the generation report)",
                file=sys.stderr,
            )

    def run(self, units, store, stats) -> None:
        """Answer on worker threads, each storing its answer; at most `concurrency` requests exist.

        After a failure nothing new is started and the rest in flight are kept. On Ctrl-C or
        SIGTERM nothing more is sent, the requests in flight are waited for (their answers
        cached), then the interrupt is raised again.
        """
        items = iter([kr for unit in units for kr in unit])

        def work(key: str, request: Request) -> None:
            completion = self.call(key, request, stats)
            store([(key, request, completion)])

        self._halt.clear()
        pool = ThreadPoolExecutor(max_workers=self.cfg.concurrency)
        running: set = set()
        error: BaseException | None = None
        with _sigterm_as_exit():
            try:
                while True:
                    while error is None and len(running) < self.cfg.concurrency:
                        item = next(items, None)
                        if item is None:
                            break
                        running.add(pool.submit(work, *item))
                    if not running:
                        break
                    done, running = wait(running, return_when=FIRST_COMPLETED)
                    error = error or next((f.exception() for f in done if f.exception() is not None), None)
            except BaseException:
                self._halt.set()
                tqdm.write(
                    f"gendiv: interrupted: sending nothing more; waiting for {len(running)} request(s) "
                    "in flight so that their answers are cached",
                    file=sys.stderr,
                )
                wait(running)
                raise
            finally:
                pool.shutdown(wait=False, cancel_futures=True)
        if error is not None:
            raise error


@contextmanager
def _sigterm_as_exit():
    """During an online round, SIGTERM (kill, DVC, a scheduler) ends the run like Ctrl-C does,
    through the path that waits for and caches the answers in flight (exit status 143)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
