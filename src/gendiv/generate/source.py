"""Stage `generate_source`: one generator's single-source story set.

The source-diversity study (second paper, "Synthetic Eggs in Many Baskets") asks whether
data from several generators keeps a fine-tuned model's outputs broader than data from
one. Every generator of `source_diversity.generators` answers the same prompts (those of
Gen-D level `source_diversity.level`), so the single-source sets differ only in their
generator. The multi-source set (`gendiv mix-sources`, gendiv.mix.sources) has the same size,
with equal shares: sample i comes from generator i mod k, so it also covers the same prompts.

  data/sources/story/single/{name}/          one generator        dataset src_{name}
"""

from __future__ import annotations

from pathlib import Path

import typer

from gendiv.cards import params_section
from gendiv.config import load_params
from gendiv.errors import UserError
from gendiv.generate.story import write_story_set
from gendiv.layout import dataset_dir
from gendiv.llm.cache import DEFAULT_DIR


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
        f"src_{name}",
        dataset_dir("story", f"src_{name}"),
        f"gendiv generate-source --name {name}",
        params_section(p, "seed", "data.story.n_train", "generator", "story_gen", "source_diversity"),
        cache_dir,
    )


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(generate_main)
