"""`LLM.complete`: answer a list of requests from the cache, calling the backend for the rest.

Requests are cut into fixed units in list order (hf: one batch; openai: one request). A
unit is sent only if one of its requests is not cached, and then whole, so what a call
returns never depends on what happened to be cached (resumed runs equal fresh ones).
With `generator.max_cost_usd` set, units are sent in runs that fit the cap at their worst
(see gendiv.llm.budget); the first unit that does not fit stops the stage.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from tqdm import tqdm

from gendiv.llm.base import Completion, Request, call_key
from gendiv.llm.budget import Budget
from gendiv.llm.cache import DEFAULT_DIR, CallCache, resolve_dir
from gendiv.llm.report import GenerationStats

Store = Callable[[list[tuple[str, Request, Completion]]], None]


class Backend(Protocol):
    name: str
    model: str
    unit: int

    def settings(self) -> dict:
        """Everything besides the request that determines the answer (part of every key)."""

    def run(self, units: list[list[tuple[str, Request]]], store: Store, stats: GenerationStats) -> None:
        """Answer every unit, calling `store` as soon as answers are final (from any thread)."""


class LLM:
    def __init__(
        self,
        backend: Backend,
        cache: CallCache,
        stats: GenerationStats,
        budget: Budget | None = None,
        progress: bool = True,
    ):
        self.backend, self.cache, self.stats, self.budget, self.progress = backend, cache, stats, budget, progress

    @property
    def label(self) -> str:
        return f"{self.backend.name}:{self.backend.model}"

    def complete(self, requests: list[Request], desc: str = "generating") -> list[Completion]:
        settings = self.backend.settings()
        keys = [call_key(settings, r) for r in requests]
        cached = self.cache.get_many(keys)
        pending = {k for k in keys if k not in cached}
        self.stats.cache_hits += len(keys) - sum(1 for k in keys if k in pending)
        if self.budget is not None:
            self.budget.charge(cached.values(), new=False)
        unit = max(1, self.backend.unit)
        units = [list(zip(keys[i : i + unit], requests[i : i + unit])) for i in range(0, len(keys), unit)]
        todo = [u for u in units if any(k in pending for k, _ in u)]
        if todo:
            with tqdm(
                total=len(keys),
                initial=len(keys) - len(pending),
                desc=desc,
                unit="call",
                mininterval=1.0,
                dynamic_ncols=True,
                disable=not self.progress,
            ) as bar:
                lock = threading.Lock()  # openai workers store their own answers

                def store(done: list[tuple[str, Request, Completion]]) -> None:
                    with lock:
                        self.cache.put_many(
                            (
                                k,
                                c,
                                {
                                    "template": r.template,
                                    "version": r.version,
                                    "sample": r.sample,
                                    "attempt": r.attempt,
                                },
                            )
                            for k, r, c in done
                        )
                        fresh = [k for k, _, _ in done if k in pending]
                        if self.budget is not None:
                            self.budget.charge((c for k, _, c in done if k in pending), new=True)
                        pending.difference_update(fresh)
                        bar.update(len(fresh))

                for part in self._within_budget(todo):
                    self.backend.run(part, store, self.stats)
        found = self.cache.get_many(keys)
        missing = [k for k in keys if k not in found]
        if missing:
            raise RuntimeError(f"backend {self.label} left {len(missing)} request(s) unanswered")
        out = [found[k] for k in keys]
        self.stats.tokens_in_all += sum(c.tokens_in for c in out)
        self.stats.tokens_out_all += sum(c.tokens_out for c in out)
        self.stats.served_models.update(c.model for c in out if c.model)
        self.stats.fingerprints.update(c.fingerprint for c in out if c.fingerprint)
        return out

    def _within_budget(self, todo: list):
        """The units to send, in runs whose worst case fits what is left of the cap (one run without a cap)."""
        if self.budget is None or not self.budget.active:
            yield todo
            return
        while todo:
            n = self.budget.affordable(todo)
            if not n:
                raise self.budget.exceeded(todo)
            yield todo[:n]
            todo = todo[n:]


def open_llm(cfg, seed: int, stats: GenerationStats, cache_dir: Path | str | None = DEFAULT_DIR) -> LLM:
    """The backend named in params (`generator` section) behind a cache in `cache_dir`."""
    cache_dir = resolve_dir(cache_dir)
    if cfg.backend == "hf":
        from gendiv.llm.hf_backend import HFBackend

        backend: Backend = HFBackend.from_params(cfg, seed)
    elif cfg.batch_api:
        from gendiv.llm.batch import BatchBackend

        backend = BatchBackend(cfg, seed, cache_dir=Path(cache_dir))
    else:
        from gendiv.llm.openai_backend import OpenAIBackend

        backend = OpenAIBackend(cfg, seed)
    return LLM(backend, CallCache(cache_dir), stats, Budget(cfg))
