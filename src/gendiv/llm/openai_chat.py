"""The chat-completions request and answer as an OpenAI-compatible endpoint spells them.

The request body, the parsing of an answer into a Completion (every answer that is not text
gets its own finish reason), the endpoint's URL without credentials, and the settings that
key every cached call. The online backend (openai_backend.py), the Batch API backend
(batch.py, whose request lines carry the same bodies) and the dry run (dryrun.py, which keys
calls without a client or an API key) all use these, so a call is keyed and read one way.
"""

from __future__ import annotations

import openai

from gendiv.llm.base import Completion, Request


def chat_body(cfg, request: Request, seed: int) -> dict:
    return {
        "model": cfg.model,
        "messages": request.messages,
        "temperature": cfg.temperature,
        "top_p": cfg.top_p,
        "max_tokens": cfg.max_new_tokens,
        "n": 1,
        "seed": seed,
    }


def parse_chat(data: dict) -> Completion:
    """A chat completion as a Completion; what is not an answer gets its own finish reason
    (no_choices, null_content, malformed_response; see gendiv.llm.collect.answer_text)."""
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    served = (
        data.get("model") if isinstance(data.get("model"), str) else None,
        data.get("system_fingerprint") if isinstance(data.get("system_fingerprint"), str) else None,
    )
    tokens = tuple(
        n if isinstance(n, int) and n >= 0 else 0 for n in (usage.get("prompt_tokens"), usage.get("completion_tokens"))
    )
    choices = data.get("choices")
    if not isinstance(choices, list) or not isinstance((choices or [{}])[0], dict):
        return Completion("", *tokens, "malformed_response", *served)
    if not choices:
        return Completion("", *tokens, "no_choices", *served)
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    reason = choices[0].get("finish_reason")
    if content is None:
        return Completion("", *tokens, "content_filter" if reason == "content_filter" else "null_content", *served)
    if not isinstance(content, str):
        return Completion("", *tokens, "malformed_response", *served)
    return Completion(content, *tokens, str(reason or "unknown"), *served)


def public_url(url) -> str:
    """An endpoint URL without userinfo or trailing slash: for cache keys and messages."""
    return str(url.copy_with(username=None, password=None)).rstrip("/")


def settings_of(cfg, seed: int, url: str) -> dict:
    """The part of every call key besides the request (see gendiv.llm.base.call_key)."""
    return {
        "backend": "openai",
        "model": cfg.model,
        "base_url": url,
        "temperature": cfg.temperature,
        "top_p": cfg.top_p,
        "max_tokens": cfg.max_new_tokens,
        "seed": seed,
    }


def endpoint_url(cfg) -> str:
    """The URL a client of these params would use (base_url, else OPENAI_BASE_URL, else OpenAI's),
    found without the API key and without a request (for `gendiv estimate`)."""
    return public_url(openai.OpenAI(api_key="unused", base_url=cfg.base_url).base_url)
