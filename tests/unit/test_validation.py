"""The GX suites pass on good data and catch each kind of damage they exist for; drift."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from imdb_sentiment.checks.expectations import (
    raw_review_expectations,
    raw_review_frame,
    run_suites,
    sequence_expectations,
    sequence_frame,
    summarize_sequences,
)
from imdb_sentiment.config import ValidateParams
from imdb_sentiment.data.sequences import EncodedSplit, PreparedDataError

N = 4  # reviews per split and label

CFG = ValidateParams(
    reviews_per_split_label=N,
    min_chars=10,
    max_chars=200,
    max_cross_split_duplicates=2,
    max_pad_fraction=0.5,
    max_oov_rate=0.2,
    label_balance_tolerance=0.1,
    max_js_tokens=0.5,
    max_js_lengths=0.5,
    length_bin_width=5,
    length_bin_limit=50,
    top_moved_tokens=3,
)


def good_reviews() -> pd.DataFrame:
    rows = [
        (split, label, 9 if label else 2, i, f"review {split} {label} {i}")
        for split in ("train", "test")
        for label in (0, 1)
        for i in range(N)  # the same ids under both labels, as in aclImdb's folders
    ]
    frame = pd.DataFrame(rows, columns=["split", "label", "rating", "review_id", "text"])
    # As in aclImdb: a review posted in both splits (within the cap), and one posted twice
    # in the same split, each time with the same label.
    frame.loc[2 * N, "text"] = frame.loc[0, "text"]
    frame.loc[N + 3, "text"] = frame.loc[N + 2, "text"]
    return frame


def check_raw(frame: pd.DataFrame, tmp_path: Path) -> list[str]:
    [result] = run_suites(
        {"raw_reviews": (raw_review_frame(frame), raw_review_expectations(CFG))}, tmp_path / "docs"
    )
    assert result.success == (not result.failures)
    return result.failures


def test_good_reviews_pass_and_render_data_docs(tmp_path: Path) -> None:
    assert check_raw(good_reviews(), tmp_path) == []
    assert (tmp_path / "docs" / "index.html").is_file()


def test_raw_frame_counts_cross_split_duplicates_and_labels_per_text() -> None:
    frame = raw_review_frame(good_reviews())
    assert frame["cross_split_duplicate"].sum() == 2  # one text, a copy in each split
    assert frame["labels_per_text"].max() == 1


def _set(row: int, column: str, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def damage(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row, column] = value
        return frame

    return damage


def _copy_text(source: int, *targets: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def damage(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[list(targets), "text"] = frame.loc[source, "text"]
        return frame

    return damage


def _leak_test_into_train(frame: pd.DataFrame) -> pd.DataFrame:
    for i in range(1, N):  # test/1/i copies train/1/i: three more shared texts, six more rows
        frame.loc[3 * N + i, "text"] = frame.loc[N + i, "text"]
    return frame


RAW_DAMAGE = {
    "neg-rating": (_set(0, "rating", 8), "expect_column_values_to_be_between"),
    "pos-rating": (_set(N, "rating", 3), "expect_column_values_to_be_between"),
    "missing-text": (_set(1, "text", None), "expect_column_values_to_not_be_null"),
    # Long enough to pass the length bounds: only the blank check can catch it.
    "whitespace-text": (_set(1, "text", " \n\t" * 10), "'column': 'stripped_chars'"),
    "too-short": (_set(1, "text", "Awful."), "'column': 'chars'"),
    "too-long": (_set(1, "text", "word " * 41), "'column': 'chars'"),
    "duplicate-id": (_set(1, "review_id", 0), "'column': 'review_key'"),
    "label-conflict": (_copy_text(1, N + 1), "'column': 'labels_per_text'"),
    "cross-split-leak": (_leak_test_into_train, "'column': 'cross_split_duplicate'"),
    "bad-label": (_set(2, "label", 2), "expect_column_values_to_be_in_set"),
    "short-count": (lambda f: f.drop(index=[0]).reset_index(drop=True), "'column': 'group_size'"),
    "missing-group": (
        lambda f: f[~((f.split == "test") & (f.label == 1))],
        "'column': 'split_label'",
    ),
    "unknown-split": (_set(3, "split", "dev"), "expect_column_values_to_be_in_set"),
}


@pytest.mark.parametrize(("damage", "expectation"), RAW_DAMAGE.values(), ids=RAW_DAMAGE.keys())
def test_raw_suite_catches(
    damage: Callable[[pd.DataFrame], pd.DataFrame], expectation: str, tmp_path: Path
) -> None:
    failures = check_raw(damage(good_reviews()), tmp_path)
    assert failures, "damaged data passed validation"
    assert any(expectation in line for line in failures), failures


def test_cross_split_failure_reports_the_count(tmp_path: Path) -> None:
    failures = check_raw(_leak_test_into_train(good_reviews()), tmp_path)
    [line] = [f for f in failures if "cross_split_duplicate" in f]
    assert line.endswith("observed 8")  # 4 shared texts, a copy in each split


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
