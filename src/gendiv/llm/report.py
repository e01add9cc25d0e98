"""Counters of one generation stage, written as its generation report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


def usd(cfg, tokens_in: int, tokens_out: int) -> float | None:
    """Estimated USD of these tokens at the list prices in params (Batch API: half); None for a
    local hf model, which costs no money."""
    if cfg.backend != "openai":
        return None
    factor = 0.5 if cfg.batch_api else 1.0
    return round(factor * (tokens_in * cfg.price_in_per_mtok + tokens_out * cfg.price_out_per_mtok) / 1e6, 6)


@dataclass
class GenerationStats:
    calls: int = 0  # answered requests in this run (hf: every row of a run batch); retries not included
    cache_hits: int = 0  # requests answered from the call cache
    retries: int = 0  # openai: re-sent requests after 408 / 409 / 429 / 5xx / timeouts / error bodies
    retry_reasons: Counter = field(default_factory=Counter)  # the retries by cause ("429", "timeout", ...)
    rate_limit_wait_s: float = 0.0
    tokens_in: int = 0  # tokens of the calls made in this run
    tokens_out: int = 0
    tokens_in_all: int = 0  # tokens of every completion used (cached or not)
    tokens_out_all: int = 0
    rejects: Counter = field(default_factory=Counter)
    dropped: int = 0  # samples given up after generator.max_rejects re-asks
    filled: int = 0  # extra sample indices drawn to replace dropped samples
    unused: int = 0  # hf: spare attempts that filled a batch but were not needed
    batches: list = field(default_factory=list)  # openai Batch API ids used
    served_models: Counter = field(default_factory=Counter)  # openai: the response's `model`, per answer used
    fingerprints: Counter = field(default_factory=Counter)  # openai: the response's `system_fingerprint`

    def as_dict(self, cfg) -> dict:
        """Plain-JSON report; cost is estimated from list prices in params (openai only)."""
        return {
            "backend": cfg.backend,
            "model": cfg.model,
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "retries": self.retries,
            "retry_reasons": dict(sorted(self.retry_reasons.items())),
            "rate_limit_wait_s": round(self.rate_limit_wait_s, 3),
            "rejects": dict(sorted(self.rejects.items())),
            "rejects_total": sum(self.rejects.values()),
            "dropped_samples": self.dropped,
            "filled_samples": self.filled,
            "unused_answers": self.unused,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "tokens_in_all": self.tokens_in_all,
            "tokens_out_all": self.tokens_out_all,
            "estimated_cost_usd": usd(cfg, self.tokens_in, self.tokens_out),
            "estimated_cost_usd_all": usd(cfg, self.tokens_in_all, self.tokens_out_all),
            "batch_ids": list(self.batches),
            "served_models": dict(sorted(self.served_models.items())),
            "system_fingerprints": dict(sorted(self.fingerprints.items())),
        }
