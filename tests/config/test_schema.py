"""The schema in gendiv/config/schema.py against the committed params.yaml.

DVC tracks only the values params.yaml holds; a schema default decides silently when a key is
missing. So a default must be the committed value (or the field is required), and every field
says what it means.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from pathlib import Path

import yaml
from pydantic import BaseModel

from gendiv.config import Params

RAW = yaml.safe_load((Path(__file__).resolve().parents[2] / "params.yaml").read_text(encoding="utf-8"))


def _models(annotation) -> list[type[BaseModel]]:
    """The pydantic models inside a field's type (X, X | None, list[X], dict[str, X], Annotated[X, ...])."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _items(annotation, value) -> list:
    """The raw values of the nested models: the value itself, or a list's or dict's entries."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and typing.get_origin(annotation) is dict:
        return list(value.values())
    return [value]


def _mismatches(default, value, key: str) -> Iterator[str]:
    """Where a default (a nested section's too, key by key) differs from params.yaml's value."""
    if isinstance(default, BaseModel) and isinstance(value, dict):
        for name, sub in value.items():
            yield from _mismatches(getattr(default, name), sub, f"{key}.{name}")
    elif default != value or isinstance(default, bool) != isinstance(value, bool):
        yield f"{key}: default {default!r}, params.yaml {value!r}"


def _walk(model: type[BaseModel], raw, prefix: str = "") -> Iterator[tuple[str, list[str]]]:
    """(dotted key, mismatches) of every field with a default that params.yaml sets."""
    for name, field in model.model_fields.items():
        if not isinstance(raw, dict) or name not in raw:
            continue
        key = f"{prefix}{name}"
        if not field.is_required():
            yield key, list(_mismatches(field.get_default(call_default_factory=True), raw[name], key))
        for nested in _models(field.annotation):
            for item in _items(field.annotation, raw[name]):
                yield from _walk(nested, item, f"{key}.")


def _all_models(model: type[BaseModel], seen: dict[str, type[BaseModel]]) -> dict[str, type[BaseModel]]:
    seen[model.__name__] = model
    for field in model.model_fields.values():
        for nested in _models(field.annotation):
            if nested.__name__ not in seen:
                _all_models(nested, seen)
    return seen


def test_every_default_is_the_committed_value():
    compared = dict(_walk(Params, RAW))
    assert {"generator.temperature", "train.lora_r", "self_preference", "self_preference.judge"} <= set(compared)
    assert [m for found in compared.values() for m in found] == []


def test_the_check_catches_a_default_that_disagrees():
    raw = {**RAW, "train": {**RAW["train"], "lora_r": 4}}
    assert dict(_walk(Params, raw))["train.lora_r"] == ["train.lora_r: default 8, params.yaml 4"]


def test_every_field_has_a_description():
    models = _all_models(Params, {})
    assert len(models) >= 15
    undescribed = [
        f"{m.__name__}.{name}"
        for m in models.values()
        for name, field in m.model_fields.items()
        if not (field.description or "").strip()
    ]
    assert undescribed == []
