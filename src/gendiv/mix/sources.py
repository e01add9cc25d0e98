"""Stage `mix_sources`: the multi-source story set, equal shares of the single-source sets.

The single-source sets (`gendiv generate-source`, gendiv.generate.source) answer the same
prompts, so sample i taken from generator i mod k keeps the multi-source set on those prompts.

  data/sources/story/multi/                  equal shares of all  dataset src_multi
"""

from __future__ import annotations

from pathlib import Path

import typer

from gendiv.cards import params_section, write_set
from gendiv.config import load_params
from gendiv.errors import UserError
from gendiv.io import read_jsonl, write_json
from gendiv.layout import dataset_path, generation_report_path


def multi_source(sets: dict[str, list[dict]], n: int) -> list[dict]:
    """n rows, row i from the (i mod k)-th set in params order, so every source has an equal share
    (each row keeps its `source`, src_<generator>)."""
    names = list(sets)
    short = [name for name in names if len(sets[name]) < -(-n // len(names))]
    if short:
        raise UserError(f"single-source set(s) {short} hold fewer rows than their share of {n}")
    return [sets[names[i % len(names)]][i // len(names)] for i in range(n)]


def mix_main(params: Path = typer.Option(Path("params.yaml"), help="params file")) -> None:
    """Write the multi-source set from the single-source sets."""
    p = load_params(params)
    sets = {}
    for g in p.source_diversity.generators:
        path = dataset_path("story", f"src_{g.name}")
        if not path.is_file():
            raise UserError(f"{path} is missing: run `gendiv generate-source --name {g.name}` first")
        sets[f"src_{g.name}"] = read_jsonl(path)
    rows = write_set(
        "story",
        "src_multi",
        multi_source(sets, p.n_source_samples()),
        "gendiv mix-sources",
        params_section(p, "seed", "data.story.n_train", "source_diversity"),
    )
    shares = {name: sum(r["source"] == name for r in rows) for name in sets}
    write_json(generation_report_path("story", "src_multi"), {"n_samples": len(rows), "shares": shares})
    print(f"multi-source set: {len(rows)} stories, shares {shares}")


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(mix_main)
