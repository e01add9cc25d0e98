"""Requests, completions, prompt templates and the call key that identifies a call."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Template:
    """A versioned prompt; bump `version` whenever the wording changes (it is in every key).

    `shots` are rendered (user, assistant) example turns placed before the request: small
    models copy a format shown as their own earlier answers far more reliably than one
    described in words.
    """

    id: str
    version: str
    user: str
    system: str | None = None

    def messages(self, shots: tuple[tuple[str, str], ...] = (), **fields) -> list[dict]:
        msgs = [{"role": "system", "content": self.system}] if self.system else []
        for user, assistant in shots:
            msgs += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        return msgs + [{"role": "user", "content": self.user.format(**fields)}]


@dataclass(frozen=True)
class Request:
    """One call: `sample` names the sample it is for, so identical prompts stay distinct.

    `complete(text so far)`: true once the answer holds all that its parser reads, so a
    backend may stop generating it there (the local hf model does; the parsed value is the
    same, so it is not part of the call key).
    """

    template: str
    version: str
    messages: list[dict] = field(hash=False)
    sample: str
    attempt: int = 0
    complete: Callable[[str], bool] | None = field(default=None, hash=False, compare=False, repr=False)


@dataclass(frozen=True)
class Completion:
    """One answer. `model` / `fingerprint`: what the endpoint says served it (openai only).

    `finish_reason` is the provider's ("stop", "length", "content_filter", ...) or one set
    here for answers that carry no usable text: "null_content", "no_choices", "error_body",
    "malformed_response", or "http_<status>" for a request the endpoint refused (see
    `gendiv.llm.collect.answer_text`).
    """

    text: str
    tokens_in: int
    tokens_out: int
    finish_reason: str
    model: str | None = None
    fingerprint: str | None = None

    def to_json(self) -> dict:
        served = {k: v for k, v in (("model", self.model), ("fingerprint", self.fingerprint)) if v is not None}
        return {
            "text": self.text,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "finish_reason": self.finish_reason,
            **served,
        }

    @classmethod
    def from_json(cls, d: dict) -> Completion:
        return cls(
            d["text"],
            int(d["tokens_in"]),
            int(d["tokens_out"]),
            d["finish_reason"],
            d.get("model"),
            d.get("fingerprint"),
        )


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def call_key(settings: dict, request: Request) -> str:
    """sha256 over everything that determines the answer (see LLM backends' `settings`)."""
    payload = {
        "settings": settings,
        "template": request.template,
        "version": request.version,
        "messages": request.messages,
        "sample": request.sample,
        "attempt": request.attempt,
    }
    return hashlib.sha256(canonical(payload).encode("utf-8")).hexdigest()


def derived_seed(seed: int, key: str) -> int:
    """A 31-bit seed from the global seed and a call key (for sampling reproducibly)."""
    return int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:8], 16) & 0x7FFFFFFF


def request_seed(seed: int, request: Request) -> int:
    """The sampling seed an API request carries: global seed + the request alone.

    Not the call key: that also holds the endpoint URL and the client's settings, so the same
    params sent through another URL (a proxy, a local port) or in batch mode would sample
    differently.
    """
    return derived_seed(seed, call_key({}, request))
