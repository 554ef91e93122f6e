"""Drift between the train and test splits: lengths traced to raw reviews, divergences, limits."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from imdb_sentiment.checks.train_test_drift import (
    Drift,
    drift_failures,
    measure_drift,
    review_lengths,
)
from imdb_sentiment.data.prepared import EncodedSplit, PreparedDataError
from tests.unit.checks.validate_params import CFG


def raw_for_lengths() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "split": ["train", "train", "test"],
            "label": np.array([0, 1, 0], np.int8),
            "rating": np.array([1, 10, 2], np.int8),
            "review_id": np.array([0, 0, 0], np.int32),
            "text": ["Bad.<br /><br />Really bad", "one two three four five", "meh"],
        }
    )


def test_review_lengths_follow_the_prepared_rows_by_label_and_id() -> None:
    split = EncodedSplit(np.zeros((2, 3), np.int32), np.array([1, 0], np.int8), np.zeros(2))
    assert review_lengths(raw_for_lengths(), "train", split).tolist() == [5, 3]


def test_review_lengths_reject_rows_missing_from_the_table() -> None:
    split = EncodedSplit(np.zeros((1, 3), np.int32), np.array([1], np.int8), np.array([7]))
    with pytest.raises(PreparedDataError, match="1 prepared rows have no train review"):
        review_lengths(raw_for_lengths(), "train", split)


def test_drift_of_same_tokens_and_lengths_is_zero_and_names_moved_tokens() -> None:
    reviews = pd.DataFrame(
        {
            "split": ["train", "train", "test", "test"],
            "label": np.array([0, 1, 0, 1], np.int8),
            "rating": np.array([1, 10, 1, 10], np.int8),
            "review_id": np.zeros(4, np.int32),
            "text": ["good film", "bad film", "bad film", "good film"],
        }
    )
    vocabulary = {"<pad>": 0, "<start>": 1, "<oov>": 2, "film": 3, "good": 4, "bad": 5}
    x = np.array([[0, 1, 4, 3], [0, 1, 5, 3]], np.int32)
    splits = {
        "train": EncodedSplit(x, np.array([0, 1], np.int8), np.zeros(2, np.int32)),
        "test": EncodedSplit(x[::-1].copy(), np.array([0, 1], np.int8), np.zeros(2, np.int32)),
    }
    drift = measure_drift(reviews, splits, vocabulary, CFG)
    assert drift.js_tokens == 0 and drift.js_lengths == 0 and drift.top_tokens == []
    assert drift.mean_review_tokens == {"train": 2.0, "test": 2.0}

    # Test loses "good": every "good" became "bad".
    test_x = np.where(x == 4, 5, x)
    splits["test"] = dataclasses.replace(splits["test"], x=test_x)
    drift = measure_drift(reviews, splits, vocabulary, CFG)
    assert drift.js_tokens > 0
    assert [t["token"] for t in drift.top_tokens] == ["good", "bad"]
    assert drift.top_tokens[0]["train_frequency"] == 0.25
    assert drift.top_tokens[0]["test_frequency"] == 0.0


def test_drift_failures_name_each_divergence_over_its_limit() -> None:
    def drift(tokens: float, lengths: float) -> Drift:
        return Drift(tokens, lengths, {}, [])

    assert drift_failures(drift(0.5, 0.5), CFG) == []  # at the limit is fine
    [line] = drift_failures(drift(0.51, 0.1), CFG)
    assert line.startswith("js_tokens 0.5100 > validate.max_js_tokens 0.5")
    assert [f.split()[0] for f in drift_failures(drift(0.9, 0.9), CFG)] == [
        "js_tokens",
        "js_lengths",
    ]
