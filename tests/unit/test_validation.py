"""The GX suites pass on good data and catch each kind of damage they exist for."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from imdb_sentiment.validation import (
    raw_review_expectations,
    raw_review_frame,
    run_suites,
    sequence_expectations,
    sequence_frame,
)

N = 4  # reviews per split and label


def good_reviews() -> pd.DataFrame:
    rows = [
        (split, label, 9 if label else 2, i, f"review {split} {label} {i}")
        for split in ("train", "test")
        for label in (0, 1)
        for i in range(N)
    ]
    return pd.DataFrame(rows, columns=["split", "label", "rating", "review_id", "text"])


def check_raw(frame: pd.DataFrame, tmp_path: Path) -> list[str]:
    [result] = run_suites(
        {"raw_reviews": (raw_review_frame(frame), raw_review_expectations(N))}, tmp_path / "docs"
    )
    assert result.success == (not result.failures)
    return result.failures


def test_good_reviews_pass_and_render_data_docs(tmp_path: Path) -> None:
    assert check_raw(good_reviews(), tmp_path) == []
    assert (tmp_path / "docs" / "index.html").is_file()


def _set(row: int, column: str, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def damage(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row, column] = value
        return frame

    return damage


@pytest.mark.parametrize(
    ("damage", "expectation"),
    [
        (_set(0, "rating", 8), "expect_column_values_to_be_between"),  # negative with 8 stars
        (_set(N, "rating", 3), "expect_column_values_to_be_between"),  # positive with 3 stars
        (_set(1, "text", "   \n"), "stripped_chars"),
        (_set(1, "review_id", 0), "review_key"),
        (_set(2, "label", 2), "expect_column_values_to_be_in_set"),
        (lambda f: f.drop(index=[0]).reset_index(drop=True), "group_size"),
        (lambda f: f[~((f.split == "test") & (f.label == 1))], "split_label"),
        (_set(3, "split", "dev"), "expect_column_values_to_be_in_set"),
    ],
    ids=[
        "neg-rating",
        "pos-rating",
        "blank-text",
        "duplicate-id",
        "bad-label",
        "short-count",
        "missing-group",
        "unknown-split",
    ],
)
def test_raw_suite_catches(
    damage: Callable[[pd.DataFrame], pd.DataFrame], expectation: str, tmp_path: Path
) -> None:
    failures = check_raw(damage(good_reviews()), tmp_path)
    assert failures, "damaged data passed validation"
    assert any(expectation in line for line in failures), failures


META = {"counts": {"train": 6, "val": 2, "test": 4}, "maxlen": 5, "max_features": 10}


def good_sequences() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    out = {}
    for name, n in META["counts"].items():
        x = rng.integers(1, 10, size=(n, 5), dtype=np.int32)
        x[:, :2] = 0  # some padding is normal
        out[name] = (x, np.arange(n, dtype=np.int8) % 2)
    return out


def check_sequences(splits: dict, tmp_path: Path, meta: dict = META) -> list[str]:
    [result] = run_suites(
        {"sequences": (sequence_frame(splits), sequence_expectations(meta))}, tmp_path / "docs"
    )
    return result.failures


def test_good_sequences_pass(tmp_path: Path) -> None:
    assert check_sequences(good_sequences(), tmp_path) == []


def test_sequence_suite_catches_each_problem(tmp_path: Path) -> None:
    splits = good_sequences()
    x, y = splits["train"]
    x = x.copy()
    x[0, -1] = 10  # == max_features: would overflow the Embedding
    x[1, :] = 0  # an all-padding row
    x[2, -1] = -1
    splits["train"] = (x, y)
    splits["val"] = (splits["val"][0], np.array([0, 3], dtype=np.int8))
    failures = " ".join(check_sequences(splits, tmp_path))
    for column in ("max_id", "non_pad", "min_id", "label"):
        assert f"'column': '{column}'" in failures, column


def test_sequence_suite_catches_width_and_count(tmp_path: Path) -> None:
    splits = good_sequences()
    splits["test"] = (splits["test"][0][:3, :4], splits["test"][1][:3])
    failures = " ".join(check_sequences(splits, tmp_path))
    assert "'column': 'width'" in failures
    assert "'column': 'split_size'" in failures
