"""The promote stage's glue: the test reviews by (label, id), skipping in temporary copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from imdb_sentiment.config import BehaviourParams, PromoteParams
from imdb_sentiment.stages.promote import (
    MissingTestReviewsError,
    in_temporary_copy,
    load_test_reviews,
    promote_or_skip,
)


def write_test_split(path: Path, y: list[int], review_id: list[int]) -> None:
    x = np.zeros((len(y), 4), dtype=np.int32)
    np.savez(path, x=x, y=np.array(y, dtype=np.int8), review_id=np.array(review_id, np.int32))


def test_test_reviews_follow_the_prepared_split_by_label_and_id(tmp_path: Path) -> None:
    # Review id 0 exists in both label folders: only (label, id) tells them apart.
    reviews = pd.DataFrame(
        {
            "split": ["train", "test", "test", "test"],
            "label": np.array([1, 0, 1, 1], dtype=np.int8),
            "rating": np.array([9, 2, 8, 7], dtype=np.int8),
            "review_id": np.array([0, 0, 0, 1], dtype=np.int32),
            "text": ["train text", "neg zero", "pos zero", "pos one"],
        }
    )
    reviews.to_parquet(tmp_path / "reviews.parquet", index=False)
    split = tmp_path / "test.npz"
    write_test_split(split, y=[1, 0, 1], review_id=[1, 0, 0])
    texts, labels = load_test_reviews(tmp_path / "reviews.parquet", split)
    assert texts == ["pos one", "neg zero", "pos zero"]
    assert labels.tolist() == [1, 0, 1]

    write_test_split(split, y=[1], review_id=[7])
    with pytest.raises(MissingTestReviewsError, match="names reviews that"):
        load_test_reviews(tmp_path / "reviews.parquet", split)
    write_test_split(split, y=[1], review_id=[0])  # the train review with that label and id
    reviews[reviews["split"] == "train"].to_parquet(tmp_path / "reviews.parquet", index=False)
    with pytest.raises(MissingTestReviewsError):
        load_test_reviews(tmp_path / "reviews.parquet", split)


def test_a_dvc_temporary_copy_is_told_from_the_checkout(tmp_path: Path) -> None:
    (tmp_path / ".dvc").mkdir()
    temp_copy = tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc123"
    temp_copy.mkdir(parents=True)
    assert in_temporary_copy(temp_copy)
    assert not in_temporary_copy(tmp_path)


def test_a_temporary_copy_skips_the_gate_without_touching_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp_copy = tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc123"
    temp_copy.mkdir(parents=True)
    monkeypatch.chdir(temp_copy)
    dead = "http://127.0.0.1:9"  # never asked: a skip needs no server
    model = {"run_id": "r1", "model_uri": "models:/m-1", "test_accuracy": 0.9}
    cfg = PromoteParams(
        alpha=0.05, min_accuracy_gain=0.002, slice_alpha=0.05, max_behaviour_drop=0.1
    )
    behaviour = BehaviourParams(invariance_tolerance=0.1, direction_tolerance=0.01)
    missing = (tmp_path / "none.parquet", tmp_path / "none.npz")
    report = promote_or_skip(dead, model, *missing, cfg, behaviour)
    assert report["decision"] == "skipped" and report["run_id"] == "r1"
    assert "dvc exp apply" in report["reason"]
