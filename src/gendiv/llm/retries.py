"""How the OpenAI-compatible backends treat a failed request, and the errors they raise.

Which failures are retried (what the official client retries: 408, 409, 429, 5xx, timeouts,
connection errors; not a 429 `insufficient_quota`, which no wait cures; plus a 200 whose
body is an error), what each retry is counted as, how long the server asks to wait, and
which statuses no request can get past (they stop the stage). The retrying itself
(tenacity, backoff with full jitter, the messages) is OpenAIBackend.with_retries; the batch
backend raises the same EndpointError.
"""

from __future__ import annotations

import email.utils
import time

import openai

from gendiv.errors import UserError

MAX_RETRY_AFTER_S = 60.0
STAGE_WIDE = {401: "the API key", 403: "permission for this request", 404: "the model or URL"}


class EndpointError(UserError):
    """The endpoint refused the request or kept failing; finished calls stay cached."""


class RequestRefused(EndpointError):
    """A non-retryable 4xx for one request (online mode drops that sample instead of stopping)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class ErrorBody(Exception):
    """A 200 whose body is an error, not a completion (some proxies do this): retried."""


class Halted(Exception):
    """The run was interrupted: a worker does not send (or re-send) its request."""


def retryable(err: BaseException) -> bool:
    """What the official client retries (timeouts, connection errors, 408, 409, 429, 5xx), plus
    error bodies; a 429 for an exhausted quota is final."""
    if isinstance(err, (openai.APIConnectionError, ErrorBody)):
        return True
    if isinstance(err, openai.APIStatusError):
        if err.status_code == 429 and err.code == "insufficient_quota":
            return False
        return err.status_code in (408, 409, 429) or err.status_code >= 500
    return False


def retry_reason(err: BaseException | None) -> str:
    if isinstance(err, openai.APITimeoutError):
        return "timeout"
    if isinstance(err, openai.APIConnectionError):
        return "connection"
    if isinstance(err, ErrorBody):
        return "error_body"
    return str(getattr(err, "status_code", "other"))


def retry_after(headers, now: float | None = None) -> float:
    """Seconds the server asks to wait: `retry-after-ms`, else `Retry-After` as seconds or an HTTP date."""
    if headers is None:
        return 0.0
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            return max(0.0, float(headers.get(name)) / scale)
        except (TypeError, ValueError):
            continue
    try:
        when = email.utils.parsedate_to_datetime(headers.get("retry-after"))
    except (TypeError, ValueError, IndexError):
        return 0.0
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
