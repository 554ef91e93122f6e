"""The raw-review suite passes on a good table and catches each kind of damage it exists for."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from imdb_sentiment.checks.expectations import run_suites
from imdb_sentiment.checks.raw_review_suite import raw_review_expectations, raw_review_frame
from imdb_sentiment.data.reviews_table import REVIEW_COLUMNS
from tests.unit.checks.validate_params import CFG, N


def good_reviews() -> pd.DataFrame:
    rows = [
        (split, label, 9 if label else 2, i, f"review {split} {label} {i}")
        for split in ("train", "test")
        for label in (0, 1)
        for i in range(N)  # the same ids under both labels, as in aclImdb's folders
    ]
    frame = pd.DataFrame(rows, columns=list(REVIEW_COLUMNS))
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
