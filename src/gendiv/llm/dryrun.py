"""What a generation stage would send, found without sending anything (`gendiv estimate`).

A planning LLM has the stage's settings, so its call keys and units are the real ones, and
the stage's own code drives it (gendiv.llm.collect, the topic pool loop). Rounds whose
answers are all cached play out exactly as in a real run; the first round that needs a call
is recorded and ends the dry run, because what follows depends on answers not yet given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gendiv.llm.base import Request
from gendiv.llm.budget import ESTIMATE_RULE, estimate_prompt_tokens
from gendiv.llm.cache import CallCache, resolve_dir
from gendiv.llm.engine import LLM
from gendiv.llm.report import GenerationStats


class Unanswered(Exception):
    """A round needs calls: the dry run stops there."""


@dataclass
class PlanBackend:
    name: str
    model: str
    unit: int
    fills_batches: bool
    _settings: dict
    count_tokens: object  # Request -> input tokens
    token_rule: str  # how count_tokens counts, for the printout
    planned: list[Request] = field(default_factory=list)

    def settings(self) -> dict:
        return self._settings

    def run(self, units, store, stats) -> None:
        """Record what the real backend would be sent (hf: whole batches), send nothing."""
        self.planned = [r for unit in units for _, r in unit]
        raise Unanswered


def plan_backend(cfg, seed: int, memo: dict) -> PlanBackend:
    """A backend with the settings and units of `cfg`'s real one; `memo` keeps hf backends (without
    weights) for one estimate, as their fingerprint reads every model file."""
    if cfg.backend == "hf":
        if (Path(cfg.model) / "config.json").is_file():
            from gendiv.llm.hf_backend import HFBackend

            if (cfg, seed) not in memo:
                memo[cfg, seed] = HFBackend.from_params(cfg, seed, weights=False)
            hf = memo[cfg, seed]
            return PlanBackend(
                "hf", cfg.model, hf.unit, True, hf.settings(), hf.prompt_tokens, f"tokenizer of {cfg.model}"
            )
        # not built yet: no cached answer can match, tokens by the chars rule
        return PlanBackend(
            "hf",
            cfg.model,
            cfg.batch_size,
            True,
            {"backend": "hf", "model": None},
            estimate_prompt_tokens,
            f"{cfg.model} not built yet: {ESTIMATE_RULE}",
        )
    from gendiv.llm.openai_chat import endpoint_url, settings_of

    return PlanBackend(
        "openai",
        cfg.model,
        1,
        False,
        settings_of(cfg, seed, endpoint_url(cfg)),
        estimate_prompt_tokens,
        ESTIMATE_RULE,
    )


def planning_llm(cfg, seed: int, cache_dir, memo: dict) -> LLM:
    return LLM(plan_backend(cfg, seed, memo), CallCache(resolve_dir(cache_dir)), GenerationStats(), progress=False)


def dry_run(llm: LLM, stage):
    """(stage(llm)'s result or None when it needs calls, the requests of its next round)."""
    try:
        return stage(llm), []
    except Unanswered:
        return None, llm.backend.planned
