"""Frozen dataclasses from YAML, strictly: every key known, present and of its type.

Nothing here knows about params.yaml's sections (config/ declares them); a mapping that
does not fit raises TypedMappingError naming the dotted key and what it allows. The YAML
itself is read without anchors and aliases: a few lines of them expand into gigabytes (a
"billion laughs"), and a params file has no need for them.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")
QUOTE_LIMIT = 80  # characters of a bad value an error message quotes


class TypedMappingError(ValueError):
    """A mapping has an unknown, missing or mistyped key for the dataclass it must build."""


class _NoAliasLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing anchors (`&name`) and aliases (`*name`, `<<: *name`)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise TypedMappingError(
                f"line {event.start_mark.line + 1}: YAML anchors and aliases (&name, *name) "
                "are not allowed; write each value out"
            )
        return super().compose_node(parent, index)


# YAML 1.1 (PyYAML) reads 1e-4 as a string, YAML 1.2 (DVC's parser, so `dvc exp run -S`) as
# the number: read it as a number here too, so `adam_epsilon: 1e-4` means what it says.
_NoAliasLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def read_yaml_value(text: str) -> Any:
    """One YAML scalar or collection from `text`, read as params files are."""
    return yaml.load(text, Loader=_NoAliasLoader)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """The mapping in the YAML file at `path`, read without anchors or aliases.

    Raises TypedMappingError, in one short line, for invalid YAML, an anchor or alias, or a
    document that is not a mapping.
    """
    with path.open(encoding="utf-8") as fh:
        try:
            data = yaml.load(fh, Loader=_NoAliasLoader)  # a SafeLoader: no Python objects
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            raise TypedMappingError(f"{where}invalid YAML ({exc.problem}); fix it") from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise TypedMappingError(f"invalid YAML ({quote(str(exc))}); fix it") from None
    if not isinstance(data, dict):
        raise TypedMappingError("expected a mapping of sections at the top level")
    return data


def quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """`repr(value)`, cut to `limit` characters: a bad 10 MB value is not a 10 MB message."""
    return shorten(repr(value), limit)


def shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    """`text` cut to `limit` characters, saying how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def flatten_dataclass(instance: Any, prefix: str = "") -> dict[str, Any]:
    """`{"train.fit.epochs": 2, ...}`: each value of a nested dataclass, in field order."""
    flat: dict[str, Any] = {}
    for field in dataclasses.fields(instance):
        name, value = f"{prefix}{field.name}", getattr(instance, field.name)
        if dataclasses.is_dataclass(value):
            flat.update(flatten_dataclass(value, f"{name}."))
        else:
            flat[name] = value
    return flat


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
        raise TypedMappingError(f"'{where}' must be {_describe(allowed)}, got {quote(value)}")
    if float in allowed and isinstance(value, int):
        return float(value)
    if not isinstance(value, tuple(allowed)):
        raise TypedMappingError(f"'{where}' must be {_describe(allowed)}, got {quote(value)}")
    return value


def _allowed_types(hint: Any) -> list[type]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return list(typing.get_args(hint))
    return [hint]


def _describe(allowed: list[type]) -> str:
    return " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
