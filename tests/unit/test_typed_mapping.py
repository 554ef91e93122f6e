"""Frozen dataclasses from parsed YAML: each way a mapping can fail to fit is named."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from imdb_sentiment.typed_mapping import TypedMappingError, build_dataclass


@dataclass(frozen=True)
class Inner:
    rate: float
    cap: int | None


@dataclass(frozen=True)
class Outer:
    name: str
    inner: Inner


def test_builds_nested_dataclasses_and_widens_int_to_float() -> None:
    built = build_dataclass(Outer, {"name": "x", "inner": {"rate": 1, "cap": None}}, "top")
    assert built == Outer("x", Inner(1.0, None))
    assert isinstance(built.inner.rate, float)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([1], "'top' must be a mapping, got list"),
        ({"name": "x"}, r"missing key 'top\.inner' \(Inner\)"),
        ({"name": "x", "inner": {"rate": 1.0}}, r"missing key 'top\.inner\.cap' \(int or null\)"),
        (
            {"name": "x", "inner": {"rate": 1.0, "cap": 2, "cpa": 2}},
            r"unknown key 'top\.inner\.cpa'; allowed keys: cap, rate",
        ),
        ({"name": "x", "inner": {"rate": 1.0, "cap": True}}, r"'top\.inner\.cap' must be int or"),
        ({"name": 3, "inner": {"rate": 1.0, "cap": 2}}, r"'top\.name' must be str, got 3"),
    ],
)
def test_names_the_key_that_does_not_fit(raw: object, message: str) -> None:
    with pytest.raises(TypedMappingError, match=message):
        build_dataclass(Outer, raw, "top")
