"""Any OpenAI-compatible chat endpoint through the official `openai` client.

The client's own retries are off; tenacity retries 429 / 5xx / timeouts / connection
errors with exponential backoff and full jitter (honouring Retry-After), so every retry is
counted. Requests run on `generator.concurrency` threads under a requests/tokens-per-minute
limiter; each answer is cached as soon as it arrives.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import openai
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from gendiv.cli import UserError
from gendiv.llm.base import Completion, Request, request_seed
from gendiv.llm.ratelimit import RateLimiter

RETRYABLE = (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError,
             openai.APIConnectionError)


class EndpointError(UserError):
    """The endpoint refused the request or kept failing; finished calls stay cached."""


def api_key() -> str:
    key = os.environ.get("OPENAI_API_KEY")
    if not key:
        raise UserError("generator.backend = openai needs the OPENAI_API_KEY environment variable "
                        "(the key is never read from params.yaml)")
    return key


def estimate_tokens(request: Request, max_tokens: int) -> int:
    """Rough prompt size (4 characters a token) plus the completion cap, for the TPM limiter."""
    return sum(len(m["content"]) for m in request.messages) // 4 + max_tokens


def chat_body(cfg, request: Request, seed: int) -> dict:
    return {"model": cfg.model, "messages": request.messages, "temperature": cfg.temperature,
            "top_p": cfg.top_p, "max_tokens": cfg.max_new_tokens, "n": 1, "seed": seed}


def parse_chat(data: dict) -> Completion:
    """A chat completion as a Completion; a body without a message reads as empty text."""
    choices = data.get("choices") or []
    usage = data.get("usage") or {}
    message = (choices[0].get("message") or {}) if choices else {}
    text = message.get("content") if isinstance(message.get("content"), str) else ""
    reason = (choices[0].get("finish_reason") if choices else None) or "malformed_response"
    return Completion(text, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0),
                      str(reason))


class OpenAIBackend:
    name = "openai"
    unit = 1

    def __init__(self, cfg, seed: int):
        self.cfg, self.seed, self.model = cfg, seed, cfg.model
        self.client = openai.OpenAI(api_key=api_key(), base_url=cfg.base_url, max_retries=0,
                                    timeout=cfg.timeout_s)
        self.limiter = RateLimiter(cfg.requests_per_minute, cfg.tokens_per_minute)
        self._lock = threading.Lock()   # worker threads share the stats counters

    def _add(self, stats, **amounts) -> None:
        with self._lock:
            for name, value in amounts.items():
                setattr(stats, name, getattr(stats, name) + value)

    def settings(self) -> dict:
        c = self.cfg
        return {"backend": self.name, "model": c.model, "base_url": c.base_url, "temperature": c.temperature,
                "top_p": c.top_p, "max_tokens": c.max_new_tokens, "seed": self.seed}

    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_random_exponential(multiplier=self.cfg.retry_base_s, max=60)(state)
        err = state.outcome.exception() if state.outcome else None
        response = getattr(err, "response", None)
        try:
            after = float(response.headers.get("retry-after", 0)) if response is not None else 0.0
        except ValueError:
            after = 0.0
        return max(backoff, min(after, 60.0))

    def with_retries(self, fn, stats):
        """fn() retried on 429 / 5xx / timeouts; endpoint failures become EndpointError."""
        retrying = Retrying(retry=retry_if_exception_type(RETRYABLE), wait=self._wait,
                            stop=stop_after_attempt(self.cfg.max_retries + 1),
                            before_sleep=lambda _state: self._add(stats, retries=1), reraise=True)
        try:
            return retrying(fn)
        except RETRYABLE as err:
            raise EndpointError(f"{self.cfg.base_url or 'api.openai.com'} kept failing after "
                                f"{self.cfg.max_retries} retries ({type(err).__name__}: {err}); finished "
                                "calls are cached, rerun to resume") from None
        except openai.APIStatusError as err:
            raise EndpointError(f"the endpoint refused a request: {err.status_code} {err.message}") from None

    def call(self, key: str, request: Request, stats) -> Completion:
        body = chat_body(self.cfg, request, request_seed(self.seed, request))

        def send() -> dict:
            waited = self.limiter.acquire(estimate_tokens(request, self.cfg.max_new_tokens))
            self._add(stats, rate_limit_wait_s=waited)
            raw = self.client.chat.completions.with_raw_response.create(**body)
            try:
                data = raw.http_response.json()
            except ValueError:
                data = {}
            return data if isinstance(data, dict) else {}

        completion = parse_chat(self.with_retries(send, stats))
        self._add(stats, calls=1, tokens_in=completion.tokens_in, tokens_out=completion.tokens_out)
        return completion

    def run(self, units, store, stats) -> None:
        """Answer on worker threads; after a failure, keep (and cache) what is in flight, then raise."""
        items = [kr for unit in units for kr in unit]
        error: BaseException | None = None
        with ThreadPoolExecutor(max_workers=self.cfg.concurrency) as pool:
            futures = {pool.submit(self.call, k, r, stats): (k, r) for k, r in items}
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                finished = []
                for fut in done:
                    key, request = futures.pop(fut)
                    if fut.exception() is None:
                        finished.append((key, request, fut.result()))
                    elif error is None:
                        error = fut.exception()
                        for other in futures:
                            other.cancel()
                store(finished)
                futures = {f: kr for f, kr in futures.items() if not f.cancelled()}
        if error is not None:
            raise error
