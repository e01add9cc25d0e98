"""The LLM layer behind both generation pipelines.

One interface (`LLM.complete`) over two backends (a local transformers model, or any
OpenAI-compatible endpoint), with a crash-safe call cache, retries, rate limits, and a
driver (`collect`) that re-asks for outputs that do not parse.
"""

from gendiv.llm.base import Completion, Request, Template
from gendiv.llm.collect import Group, Reject, answer_text, check_answer, collect
from gendiv.llm.engine import LLM, open_llm
from gendiv.llm.report import GenerationStats

__all__ = [
    "LLM",
    "Completion",
    "GenerationStats",
    "Group",
    "Reject",
    "answer_text",
    "check_answer",
    "Request",
    "Template",
    "collect",
    "open_llm",
]
