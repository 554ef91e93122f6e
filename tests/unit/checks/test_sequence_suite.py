"""The sequence suite passes on good arrays and catches each kind of damage it exists for."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from imdb_sentiment.checks.expectations import run_suites
from imdb_sentiment.checks.sequence_suite import (
    sequence_expectations,
    sequence_frame,
    summarize_sequences,
)
from imdb_sentiment.data.prepared import EncodedSplit, PreparedDataError
from tests.unit.checks.validate_params import CFG

META = {"counts": {"train": 6, "val": 2, "test": 4}, "maxlen": 5, "max_features": 10}


def good_sequences() -> dict[str, EncodedSplit]:
    """Pre-padded, start-marked rows: some padded, some truncated, one an exact fit."""
    rng = np.random.default_rng(0)
    ids = {"train": np.arange(6), "val": np.array([1, 0]), "test": np.arange(4)}
    out = {}
    for name, n in META["counts"].items():
        x = rng.integers(3, 10, size=(n, 5), dtype=np.int32)
        x[0, :2] = [0, 1]  # padded: the whole review, so it opens with START
        x[1, 0] = 1  # exactly maxlen long: START, then words
        x[-1, 3] = 2  # an out-of-vocabulary word; rows without START were truncated
        y = (np.arange(n) % 2).astype(np.int8)
        # val shares ids with train, but never with the same label: different reviews.
        out[name] = EncodedSplit(x, y, ids[name].astype(np.int32))
    return out


def check_sequences(splits: dict[str, EncodedSplit], tmp_path: Path) -> list[str]:
    [result] = run_suites(
        {"sequences": (sequence_frame(splits), sequence_expectations(META, CFG))},
        tmp_path / "docs",
    )
    assert result.success == (not result.failures)
    return result.failures


def test_good_sequences_pass(tmp_path: Path) -> None:
    assert check_sequences(good_sequences(), tmp_path) == []


def _edit(split: str, edit: Callable[[EncodedSplit], EncodedSplit]) -> Callable[[dict], dict]:
    def damage(splits: dict[str, EncodedSplit]) -> dict[str, EncodedSplit]:
        return {**splits, split: edit(splits[split])}

    return damage


def _row(split: str, row: int, values: list[int]) -> Callable[[dict], dict]:
    def edit(s: EncodedSplit) -> EncodedSplit:
        x = s.x.copy()
        x[row] = values
        return dataclasses.replace(s, x=x)

    return _edit(split, edit)


def _field(split: str, field: str, fn: Callable[[np.ndarray], np.ndarray]) -> Callable:
    return _edit(split, lambda s: dataclasses.replace(s, **{field: fn(getattr(s, field))}))


def _take(split: str, rows: slice) -> Callable[[dict], dict]:
    return _edit(split, lambda s: EncodedSplit(s.x[rows], s.y[rows], s.review_id[rows]))


SEQUENCE_DAMAGE = {
    "id-past-embedding": (_row("train", 3, [5, 5, 5, 5, 10]), "'column': 'max_id'"),
    "negative-id": (_row("train", 3, [5, 5, 5, 5, -1]), "'column': 'min_id'"),
    "all-padding": (_row("train", 3, [0, 0, 0, 0, 0]), "'column': 'non_pad'"),
    "bad-label": (_field("val", "y", lambda y: np.array([0, 3], np.int8)), "in_set"),
    "wrong-width": (_field("test", "x", lambda x: x[:, 1:]), "'column': 'width'"),
    "short-count": (_take("test", slice(0, 3)), "'column': 'split_size'"),
    "missing-start": (_row("train", 0, [0, 0, 5, 5, 5]), "'column': 'first_id'"),
    "misplaced-start": (_row("train", 3, [5, 5, 1, 5, 5]), "'column': 'misplaced_starts'"),
    "post-padding": (_row("train", 0, [1, 5, 5, 0, 0]), "'column': 'inner_pads'"),
    "mostly-padding": (
        _field("test", "x", lambda x: np.tile([0, 0, 0, 1, 5], (len(x), 1))),
        "'column': 'pad_fraction'",
    ),
    "oov-heavy": (
        _field("train", "x", lambda x: np.where(x >= 3, 2, x)),
        "'column': 'split_oov_rate'",
    ),
    "unbalanced": (_field("train", "y", lambda y: np.ones_like(y)), "'column': 'label'"),
    # val's first review (label 0) is train's first review (label 0, id 0).
    "train-val-leak": (
        _field("val", "review_id", lambda r: np.array([0, 0], np.int32)),
        "'column': 'review_key'",
    ),
}


@pytest.mark.parametrize(
    ("damage", "expectation"), SEQUENCE_DAMAGE.values(), ids=SEQUENCE_DAMAGE.keys()
)
def test_sequence_suite_catches(
    damage: Callable[[dict], dict], expectation: str, tmp_path: Path
) -> None:
    failures = check_sequences(damage(good_sequences()), tmp_path)
    assert failures, "damaged sequences passed validation"
    assert any(expectation in line for line in failures), failures


def test_per_split_failures_name_the_split(tmp_path: Path) -> None:
    failures = check_sequences(SEQUENCE_DAMAGE["unbalanced"][0](good_sequences()), tmp_path)
    assert any("where split == 'train' failed; observed 1.0" in line for line in failures)


def test_summary_matches_the_arrays() -> None:
    splits = {
        "train": EncodedSplit(
            np.array([[0, 1, 2, 3], [1, 3, 3, 3]]), np.array([0, 1]), np.array([0, 1])
        ),
        "test": EncodedSplit(np.array([[0, 0, 1, 2]]), np.array([1]), np.array([0])),
    }
    summary = summarize_sequences(sequence_frame(splits))
    # OOV over all word positions of a split (1 of 5 in train), not a mean of row rates.
    assert summary["oov_rate"] == {"train": pytest.approx(0.2), "test": 1.0}
    assert summary["pad_fraction"] == {"train": 0.125, "test": 0.5}
    assert summary["positive_share"] == {"train": 0.5, "test": 1.0}


def test_sequence_frame_rejects_arrays_that_do_not_line_up() -> None:
    split = EncodedSplit(np.zeros((3, 4), np.int32), np.zeros(2, np.int8), np.arange(3))
    with pytest.raises(PreparedDataError, match=r"train: x \(3, 4\), y \(2,\)"):
        sequence_frame({"train": split})
