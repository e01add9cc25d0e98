"""Token counts of a prompt before it is sent, and the `generator.max_cost_usd` cap.

Remote APIs: the prompt is not tokenized here (the provider's tokenizer is not local).
`estimate_prompt_tokens` uses OpenAI's rule of thumb, 4 characters a token for English
text, plus 3 tokens per message and 3 for the reply's priming (OpenAI cookbook, "How to
count tokens with tiktoken"): what `gendiv estimate` prints. The cap must not be passed,
so it checks against `prompt_tokens_bound` instead: UTF-8 bytes plus the same overhead, an
upper bound for byte-level BPE tokenizers (a token holds at least one byte).
"""

from __future__ import annotations

import math

from gendiv.errors import UserError
from gendiv.llm.report import usd

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 3
REPLY_PRIMING = 3
ESTIMATE_RULE = f"{CHARS_PER_TOKEN} chars/token + {TOKENS_PER_MESSAGE}/message + {REPLY_PRIMING}"  # for printouts


def estimate_prompt_tokens(request) -> int:
    """Typical input tokens of a chat request (see the module docstring)."""
    chars = sum(len(m["content"]) for m in request.messages)
    return math.ceil(chars / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * len(request.messages) + REPLY_PRIMING


def prompt_tokens_bound(request) -> int:
    """At most this many input tokens (see the module docstring)."""
    size = sum(len(m["content"].encode("utf-8")) for m in request.messages)
    return size + TOKENS_PER_MESSAGE * len(request.messages) + REPLY_PRIMING


class BudgetExceeded(UserError):
    """The next call could pass generator.max_cost_usd; every answer so far is cached."""


class Budget:
    """generator.max_cost_usd over one stage run: the estimated cost of every answer the stage
    uses (cached ones at their recorded tokens, new ones at an upper bound before they are sent
    and at their reported tokens once answered) never passes the cap. Counting cached answers
    makes the cap a limit on what the stage's data costs, so a rerun with the same cap stops
    where the last one did and a rerun with a higher cap goes on from there."""

    def __init__(self, cfg):
        self.cfg, self.cap = cfg, cfg.max_cost_usd
        self.active = self.cap is not None and usd(cfg, 0, 0) is not None  # a local model costs nothing
        self.spent, self.answers, self.new = 0.0, 0, 0

    def charge(self, completions, new: bool) -> None:
        for c in completions:
            self.spent += usd(self.cfg, c.tokens_in, c.tokens_out) or 0.0
            self.answers += 1
            self.new += new

    def worst(self, unit) -> float:
        """The most a unit of (key, request) can cost: bounded prompt, max_new_tokens answers."""
        tokens_in = sum(prompt_tokens_bound(r) for _, r in unit)
        return usd(self.cfg, tokens_in, self.cfg.max_new_tokens * len(unit)) or 0.0

    def affordable(self, units: list) -> int:
        """How many leading units fit under the cap together, at their worst."""
        total, n = self.spent, 0
        for unit in units:
            total += self.worst(unit)
            if total > self.cap:
                break
            n += 1
        return n

    def exceeded(self, units: list) -> BudgetExceeded:
        left = sum(len(u) for u in units)
        return BudgetExceeded(
            f"generator.max_cost_usd = {self.cap:g}: the next call could bring this stage's estimated cost to "
            f"${self.spent + self.worst(units[0]):.4f} (so far ${self.spent:.4f} for {self.answers} answers, "
            f"{self.new} of them new in this run); stopped before {left} more call(s) of this round, every answer "
            "is cached: rerun with a higher generator.max_cost_usd to go on (`gendiv estimate` shows what is left)"
        )
