"""Frozen dataclasses from parsed YAML, strictly: every key known, present and of its type.

Nothing here knows about params.yaml's sections (config.py declares them); a mapping that
does not fit raises TypedMappingError naming the dotted key and what it allows.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


class TypedMappingError(ValueError):
    """A mapping has an unknown, missing or mistyped key for the dataclass it must build."""


def build_dataclass(cls: type[T], raw: Any, where: str) -> T:
    """`cls(**raw)`, nested dataclasses included, after checking `raw` key by key.

    `where` is the dotted name of `raw` (e.g. "train"), used in messages. An int is accepted
    where a float is expected, never a bool where an int is.
    """
    if not isinstance(raw, dict):
        raise TypedMappingError(f"'{where}' must be a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    # A list, not a set: with several mistyped keys, the first in declaration order is named.
    fields = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise TypedMappingError(
            f"unknown key '{where}.{unknown[0]}'; allowed keys: {', '.join(sorted(fields))}"
        )
    missing = sorted(set(fields) - set(raw))
    if missing:
        key = missing[0]
        raise TypedMappingError(
            f"missing key '{where}.{key}' ({_describe(_allowed_types(hints[key]))})"
        )
    values = {key: _coerce(hints[key], raw[key], f"{where}.{key}") for key in fields}
    return cls(**values)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return build_dataclass(hint, value, where)  # type: ignore[arg-type]
    allowed = _allowed_types(hint)
    if value is None and type(None) in allowed:
        return None
    # bool is an int subclass in Python; `epochs: true` must not pass as 1.
    if isinstance(value, bool) and bool not in allowed:
        raise TypedMappingError(f"'{where}' must be {_describe(allowed)}, got {value!r}")
    if float in allowed and isinstance(value, int):
        return float(value)
    if not isinstance(value, tuple(allowed)):
        raise TypedMappingError(f"'{where}' must be {_describe(allowed)}, got {value!r}")
    return value


def _allowed_types(hint: Any) -> list[type]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return list(typing.get_args(hint))
    return [hint]


def _describe(allowed: list[type]) -> str:
    return " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
