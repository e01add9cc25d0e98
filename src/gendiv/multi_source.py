"""Stages `generate_source` and `mix_sources`: single- and multi-source story sets.

The source-diversity study (second paper, "Synthetic Eggs in Many Baskets") asks whether
data from several generators keeps a fine-tuned model's outputs broader than data from
one. Every generator of `source_diversity.generators` answers the same prompts (those of
Gen-D level `source_diversity.level`), so the single-source sets differ only in their
generator. The multi-source set has the same size, with equal shares: sample i comes from
generator i mod k, so it also covers the same prompts.

  data/sources/story/single/{name}.jsonl     one generator        dataset src_{name}
  data/sources/story/multi.jsonl             equal shares of all  dataset src_multi
"""

from __future__ import annotations

from pathlib import Path

import typer

from gendiv.datasets import SOURCES_DIR
from gendiv.errors import UserError
from gendiv.io import read_jsonl, write_json, write_jsonl
from gendiv.llm.cache import DEFAULT_DIR
from gendiv.params import load_params
from gendiv.topic_guided import write_story_set

SINGLE_DIR = SOURCES_DIR / "story" / "single"


def generate_main(
    name: str = typer.Option(..., help="a source_diversity.generators name"),
    params: Path = typer.Option(Path("params.yaml"), help="params file"),
    cache_dir: Path = typer.Option(DEFAULT_DIR, help="LLM call cache (kept across runs)"),
) -> None:
    """Generate the single-source story set of one generator."""
    p = load_params(params)
    sd = p.source_diversity
    names = [g.name for g in sd.generators]
    if name not in names:
        raise UserError(f"--name {name!r}: not in source_diversity.generators ({', '.join(names)})")
    write_story_set(
        p,
        sd.level,
        sd.generator(name, p.generator),
        p.n_source_samples(),
        SINGLE_DIR / f"{name}.jsonl",
        SINGLE_DIR / f"{name}.report.json",
        f"story-src_{name}",
        cache_dir,
    )


def multi_source(sets: dict[str, list[dict]], n: int) -> list[dict]:
    """n rows, row i from the (i mod k)-th set in params order, so every source has an equal share."""
    names = list(sets)
    short = [name for name in names if len(sets[name]) < -(-n // len(names))]
    if short:
        raise UserError(f"single-source set(s) {short} hold fewer rows than their share of {n}")
    return [{**sets[names[i % len(names)]][i // len(names)], "source": names[i % len(names)]} for i in range(n)]


def mix_main(params: Path = typer.Option(Path("params.yaml"), help="params file")) -> None:
    """Write the multi-source set from the single-source sets."""
    p = load_params(params)
    sets = {}
    for g in p.source_diversity.generators:
        path = SINGLE_DIR / f"{g.name}.jsonl"
        if not path.is_file():
            raise UserError(f"{path} is missing: run `gendiv generate-source --name {g.name}` first")
        sets[g.name] = read_jsonl(path)
    rows = multi_source(sets, p.n_source_samples())
    write_jsonl(SOURCES_DIR / "story" / "multi.jsonl", rows)
    shares = {name: sum(r["source"] == name for r in rows) for name in sets}
    write_json(SOURCES_DIR / "story" / "multi.report.json", {"n_samples": len(rows), "shares": shares})
    print(f"multi-source set: {len(rows)} stories, shares {shares}")


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(generate_main)
