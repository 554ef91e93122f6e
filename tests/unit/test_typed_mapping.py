"""Frozen dataclasses from parsed YAML: each way a mapping can fail to fit is named."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from imdb_sentiment.typed_mapping import TypedMappingError, build_dataclass, read_yaml_mapping


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


BOMB = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: [*c, *c, *c, *c, *c, *c, *c, *c, *c]
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BOMB, "line 1: YAML anchors and aliases (&name, *name) are not allowed; write each"),
        ("base: &b {seed: 1}\nother: *b\n", "line 1: YAML anchors and aliases"),
        ("train:\n  <<: *missing\n", "line 2: YAML anchors and aliases"),
        ("a: [1, 2\n", "line 2, column 1: invalid YAML (expected ',' or ']', but got"),
        ("- a\n- b\n", "expected a mapping of sections at the top level"),
    ],
)
def test_yaml_files_are_read_without_anchors_or_aliases(
    text: str, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(TypedMappingError) as caught:
        read_yaml_mapping(path)
    assert str(caught.value).startswith(message), str(caught.value)


def test_a_plain_yaml_mapping_reads_as_before(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("base:\n  seed: 42\nprepare: {maxlen: 100, cap: null}\n")
    assert read_yaml_mapping(path) == {
        "base": {"seed": 42},
        "prepare": {"maxlen": 100, "cap": None},
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [("1e-4", 1e-4), ("-2.5E+3", -2500.0), ("1_000", 1000), ("1e4x", "1e4x"), ("e5", "e5")],
)
def test_exponent_floats_read_as_yaml_1_2_numbers(tmp_path: Path, text: str, value: object) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(f"fit: {{epsilon: {text}}}\n")
    assert read_yaml_mapping(path)["fit"]["epsilon"] == value
    assert type(read_yaml_mapping(path)["fit"]["epsilon"]) is type(value)


def test_a_huge_bad_value_is_quoted_as_a_short_prefix() -> None:
    with pytest.raises(TypedMappingError) as caught:
        build_dataclass(Inner, {"rate": "x" * 10_000_000, "cap": 1}, "top")
    message = str(caught.value)
    assert message == f"'top.rate' must be float, got '{'x' * 79}... (10,000,002 characters)"
