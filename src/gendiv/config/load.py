"""The one place where params.yaml is read and validated.

Every stage calls `load_params()` first, so a bad value fails before anything is
written. DVC's `exp run -S` silently adds misspelled keys, hence `extra="forbid"` and
a "did you mean" hint. Errors name the dotted key, the value and what is allowed.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from gendiv.config.checks import check_environment
from gendiv.config.schema import PARAMS_FILE, PATTERN_HELP, TASKS, Params, redact
from gendiv.errors import ParamsError, UserError


def _known_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names valid at `loc` (used for 'did you mean' on unknown keys)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if isinstance(current, type) else None
        if field is None:
            return []
        annotation = field.annotation
        current = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if current is None:
            return []
    return list(current.model_fields)


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_CREDENTIAL_KEY = re.compile(r"key|token|secret|password|passwd|credential|auth", re.IGNORECASE)


def _format_errors(err: ValidationError, source: str) -> str:
    lines = [f"{source} is invalid ({err.error_count()} problem(s)); nothing was written:"]
    for e in err.errors():
        loc = tuple(p for p in e["loc"])
        key = _dotted(loc) or "(top level)"
        if e["type"] == "extra_forbidden":
            known = _known_keys(Params, loc)
            hint = difflib.get_close_matches(str(loc[-1]), known, n=1)
            suggestion = f"; did you mean '{_dotted(loc[:-1] + (hint[0],))}'?" if hint else ""
            if _CREDENTIAL_KEY.search(str(loc[-1])):
                suggestion = (
                    "; credentials never go in params.yaml (DVC records it in dvc.lock): set them in "
                    "the environment, e.g. OPENAI_API_KEY"
                )
            lines.append(f"  - {key}: unknown key{suggestion} (allowed here: {', '.join(sorted(known))})")
        elif e["type"] == "missing":
            lines.append(f"  - {key}: required key is missing")
        else:
            msg = e["msg"].removeprefix("Value error, ")
            if e["type"] == "value_error":
                lines.append(f"  - {msg}" if not loc or msg.startswith(_dotted(loc[:1])) else f"  - {key}: {msg}")
            else:
                allowed = PATTERN_HELP.get((e.get("ctx") or {}).get("pattern"), msg)
                lines.append(f"  - {key} = {redact(e['input'])}: {allowed}")
    return "\n".join(lines)


class _Loader(yaml.SafeLoader):
    """YAML as DVC reads it (1.2 floats such as 1e-4), with duplicate keys an error, not the last one winning."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.MarkedYAMLError(
                    problem=f"duplicate key {key!r} (first at line {seen[key]})", problem_mark=key_node.start_mark
                )
            seen.setdefault(key, key_node.start_mark.line + 1)
        return super().construct_mapping(node, deep)


_Loader.add_implicit_resolver(  # exponent floats that YAML 1.1 reads as strings ("1e-4", "2E5")
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def validate(raw: dict, root: Path | str = ".", source: str = PARAMS_FILE) -> Params:
    """Validate a params mapping; raise ParamsError naming every bad key."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: expected a mapping of keys, got {type(raw).__name__}")
    try:
        params = Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError(_format_errors(err, source)) from None
    check_environment(params, Path(root))
    return params


def load_params(path: Path | str = PARAMS_FILE) -> Params:
    """Read and validate params.yaml; relative paths in it are relative to its folder."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: file not found")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except UnicodeDecodeError:
        raise ParamsError(f"{path}: not UTF-8 text") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ParamsError(f"{where}: not valid YAML: {err.problem or err.context}") from None
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {str(err).splitlines()[0]}") from None
    return validate(raw, root=path.resolve().parent, source=str(path))


def require_task(task: str) -> str:
    """A stage's --task argument, or a user error naming the allowed values."""
    if task not in TASKS:
        raise UserError(f"--task {task!r}: expected one of {', '.join(TASKS)}")
    return task


def require_level(p: Params, level: int) -> int:
    """A stage's --level argument: one of the levels params.yaml builds."""
    if level not in p.levels:
        raise UserError(f"--level {level}: not in levels = {p.levels}")
    return level
