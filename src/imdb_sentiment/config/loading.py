"""Reading params.yaml strictly: the error type, the check helper, a section as a dataclass."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from imdb_sentiment.errors import PipelineError
from imdb_sentiment.typed_mapping import (
    TypedMappingError,
    build_dataclass,
    read_yaml_mapping,
    read_yaml_value,
)

T = TypeVar("T")


class ConfigError(PipelineError, ValueError):
    """A params.yaml section does not match what the code expects."""


def require(ok: bool, key: str, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"params.yaml: '{key}' must be {allowed}")


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """The params file's sections, read strictly (`typed_mapping.read_yaml_mapping`)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found; run from the repository root")
    try:
        return read_yaml_mapping(path)
    except TypedMappingError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def load_section(params: dict[str, Any], name: str, cls: type[T]) -> T:
    """Build the dataclass `cls` from `params[name]`, rejecting anything unexpected."""
    if name not in params:
        raise ConfigError(f"params.yaml: missing section '{name}'")
    try:
        return build_dataclass(cls, params[name], name)
    except TypedMappingError as exc:
        raise ConfigError(f"params.yaml: {exc}") from None


def override_params(params: dict[str, Any], assignments: Iterable[str]) -> dict[str, Any]:
    """A copy of `params` with each `dotted.key=value` set, the value read as YAML (as
    `dvc exp run -S` does); the key must already be in params.yaml."""
    params = copy.deepcopy(params)
    for assignment in assignments:
        key, equals, raw = assignment.partition("=")
        *parents, leaf = key.split(".")
        section: Any = params
        for part in parents:
            section = section.get(part) if isinstance(section, dict) else None
        if not equals or not isinstance(section, dict) or leaf not in section:
            raise ConfigError(f"cannot set {assignment}: no such param {key}; see params.yaml")
        section[leaf] = read_yaml_value(raw)
    return params
