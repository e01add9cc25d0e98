"""Generation throughput, each measured against a baseline taken in the same run.

1. hf backend: generated tokens/s with prompts batched (generator.batch_size) versus one
   prompt at a time, same prompts, same settings (no cache).
2. openai backend: wall time of N requests against the local fake server with a fixed
   latency L and concurrency C, as a ratio to the ideal N * L / C.

    python bench/bench_generation.py [--prompts 16] [--batch 16] [--new-tokens 48]
                                     [--requests 200] [--latency 0.05] [--concurrency 8] [--skip-hf]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from gendiv.config import Generator  # noqa: E402
from gendiv.llm import LLM, GenerationStats, Request  # noqa: E402
from gendiv.llm.cache import CallCache  # noqa: E402


def bench_hf(prompts: int, batch: int, new_tokens: int) -> None:
    from gendiv.llm.hf_backend import HFBackend

    msgs = [
        [{"role": "user", "content": f"Write a short story about a {w}."}]
        for w in ("cat", "storm", "market", "train", "garden", "letter", "bridge", "violin")
    ] * (prompts // 8 + 1)
    msgs = msgs[:prompts]
    results = {}
    for size in (1, batch):
        cfg = Generator(backend="hf", model=str(ROOT / "models/base"), batch_size=size, max_new_tokens=new_tokens)
        backend = HFBackend.from_params(cfg, seed=0)
        backend.generate(msgs[:1], seed=0)  # warm-up
        start, tokens = time.perf_counter(), 0
        for i in range(0, len(msgs), size):
            tokens += sum(c.tokens_out for c in backend.generate(msgs[i : i + size], seed=i))
        results[size] = tokens / (time.perf_counter() - start)
        print(f"hf batch {size:>3}: {results[size]:7.1f} generated tokens/s ({tokens} tokens, {len(msgs)} prompts)")
    print(f"hf speed-up batch {batch} vs 1: {results[batch] / results[1]:.2f}x")


def bench_openai(n: int, latency: float, concurrency: int) -> None:
    from openai_server import FakeOpenAI

    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
    from gendiv.llm.openai_backend import OpenAIBackend

    with FakeOpenAI(latency=latency) as srv, tempfile.TemporaryDirectory() as tmp:
        cfg = Generator(
            backend="openai",
            model="fake",
            base_url=srv.base_url,
            concurrency=concurrency,
            requests_per_minute=1_000_000,
            tokens_per_minute=100_000_000,
        )
        llm = LLM(OpenAIBackend(cfg, seed=0), CallCache(tmp), GenerationStats())
        reqs = [Request("bench", "1", [{"role": "user", "content": f"request {i}"}], f"b/{i}") for i in range(n)]
        start = time.perf_counter()
        llm.complete(reqs)
        wall = time.perf_counter() - start
        ideal = n * latency / concurrency
        print(
            f"openai: {n} requests, latency {latency}s, concurrency {concurrency}: {wall:.2f}s wall, "
            f"ideal {ideal:.2f}s, ratio {wall / ideal:.2f} (max in flight {srv.max_in_flight})"
        )
        start = time.perf_counter()
        llm.complete(reqs)
        print(f"openai: the same {n} requests again from the cache: {time.perf_counter() - start:.3f}s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=48)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--skip-hf", action="store_true")
    args = ap.parse_args()
    bench_openai(args.requests, args.latency, args.concurrency)
    if not args.skip_hf:
        bench_hf(args.prompts, args.batch, args.new_tokens)


if __name__ == "__main__":
    main()
