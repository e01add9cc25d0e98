"""Stage `generator_models`: the extra local generators of the source-diversity study.

Each `models.generators` entry is a GGUF in a PyPI package, converted once into a plain
float32 model directory (like the base model), so generation stages load it offline.
The stage also writes models/generators/manifest.json, so its output exists (and DVC can
track it) when the pool has no local models, as at paper scale.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from gendiv.config import load_params
from gendiv.io import write_json
from gendiv.layout import GENERATOR_MODELS_DIR
from gendiv.prepare.base_model import check_replaceable, load_gguf, save_model

OUT_DIR = GENERATOR_MODELS_DIR


def main(params: Path = typer.Option(Path("params.yaml"), help="params file")) -> None:
    """Convert every models.generators entry into its model directory."""
    p = load_params(params)
    root = params.resolve().parent
    (root / OUT_DIR).mkdir(parents=True, exist_ok=True)
    for spec in p.models.generators.values():
        check_replaceable(root / spec.dir)  # before any (long) conversion
    manifest = {}
    for name, spec in p.models.generators.items():
        target = save_model(*load_gguf(spec.gguf_package, spec.gguf_file, f"models.generators.{name}"), root / spec.dir)
        manifest[name] = json.loads((target / "origin.json").read_text(encoding="utf-8")) | {"dir": spec.dir}
        typer.echo(f"{name}: written to {spec.dir}")
    write_json(root / OUT_DIR / "manifest.json", manifest)


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(main)
