"""`gendiv apply-profile`: switch scale by merging a profile's keys into params.yaml.

A profile (profiles/*.yaml) lists only the keys it changes, or all of them. The merge keeps
params.yaml's comments (ruamel round-trip) and validates the result before writing, so a
bad profile leaves params.yaml untouched.
"""

from __future__ import annotations

import io
from pathlib import Path

import typer
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedSeq

from gendiv.config import PARAMS_FILE, validate
from gendiv.errors import UserError
from gendiv.io import atomic_open


def _merge(base, overlay, path: str = "") -> None:
    for key, value in overlay.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in base:
            raise UserError(f"profile sets {where}, which params.yaml does not have")
        if isinstance(value, dict) and isinstance(base[key], dict):
            _merge(base[key], value, where)
        elif isinstance(value, list):
            seq = CommentedSeq(value)
            seq.fa.set_flow_style()  # keep lists on one line, as params.yaml writes them
            base[key] = seq
        else:
            base[key] = value


def apply_profile(profile: Path, params: Path = Path(PARAMS_FILE)) -> None:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.representer.add_representer(type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null"))
    doc = yaml.load(params.read_text(encoding="utf-8"))
    overlay = YAML(typ="safe").load(profile.read_text(encoding="utf-8")) or {}
    _merge(doc, overlay)
    buf = io.StringIO()
    yaml.dump(doc, buf)
    text = buf.getvalue()
    validate(YAML(typ="safe").load(text), root=params.resolve().parent, source=f"{params} + {profile}")
    with atomic_open(params) as fh:
        fh.write(text)


def main(profile: Path = typer.Argument(..., help="profiles/NAME.yaml"), params: Path = Path(PARAMS_FILE)) -> None:
    """Merge a profile's keys into params.yaml (validated first; comments kept)."""
    if not profile.is_file():
        raise UserError(f"{profile}: no such profile (see profiles/)")
    apply_profile(profile, params)
    print(f"{params}: applied {profile}")


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(main)


def param_comments(path: Path) -> dict[str, str]:
    """The first line of each key's inline comment in a params file, by dotted key.

    params.yaml states every deviation from the paper next to its value; the report quotes
    these comments as the reasons, so a reason is written (and reviewed) in one place.
    """
    from ruamel.yaml.comments import CommentedMap

    def comment(node, key) -> str | None:
        item = node.ca.items.get(key) or []
        tokens = item[2:3] + (item[1][-1:] if len(item) > 1 and isinstance(item[1], list) else [])
        for token in tokens:
            text = (getattr(token, "value", None) or "").strip()
            if text.startswith("#"):
                return text.lstrip("#").strip().splitlines()[0]
        return None

    def walk(node, prefix: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in node.items():
            if isinstance(value, CommentedMap):
                out |= walk(value, f"{prefix}{key}.")
            elif (text := comment(node, key)) is not None:
                out[f"{prefix}{key}"] = text
        return out

    return walk(YAML().load(path.read_text(encoding="utf-8")), "")
