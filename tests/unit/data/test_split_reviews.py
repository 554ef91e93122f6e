"""Prepared splits back to their raw texts: same reviews, same order, val from train."""

from __future__ import annotations

from pathlib import Path

import pytest

from imdb_sentiment.data.prepared import load_encoded_splits
from imdb_sentiment.data.reviews_table import load_reviews, write_reviews
from imdb_sentiment.data.split_reviews import MissingReviewsError, load_split_texts
from imdb_sentiment.stages.prepare import prepare_data
from tests.unit.stages.test_prepare import CFG, reviews_table


def test_each_row_gets_its_own_reviews_text(tmp_path: Path) -> None:
    write_reviews(reviews_table(), tmp_path / "reviews.parquet")
    prepare_data(tmp_path / "reviews.parquet", tmp_path / "prepared", CFG, seed=1)
    splits = load_encoded_splits(tmp_path / "prepared", ["train", "val", "test"])

    texts = load_split_texts(tmp_path / "reviews.parquet", tmp_path / "prepared", list(splits))

    table = load_reviews(tmp_path / "reviews.parquet")
    for name, folder in (("train", "train"), ("val", "train"), ("test", "test")):
        split, got = splits[name], texts[name]
        assert got.labels.tolist() == split.y.tolist()
        for label, review_id, text in zip(split.y, split.review_id, got.texts, strict=True):
            # Review ids repeat across splits and labels: the text names all three.
            row = table[
                (table["split"] == folder)
                & (table["label"] == label)
                & (table["review_id"] == review_id)
            ]
            assert row["text"].tolist() == [text]
            assert f" {folder} " in text


def test_a_table_that_lacks_a_prepared_review_is_a_one_line_error(tmp_path: Path) -> None:
    write_reviews(reviews_table(), tmp_path / "reviews.parquet")
    prepare_data(tmp_path / "reviews.parquet", tmp_path / "prepared", CFG, seed=1)
    fewer = reviews_table(per_label=10).slice(0, 5)  # the train negatives with ids 0..4 only
    write_reviews(fewer, tmp_path / "reviews.parquet")
    with pytest.raises(MissingReviewsError, match=r"train\.npz names reviews .*--force prepare"):
        load_split_texts(tmp_path / "reviews.parquet", tmp_path / "prepared", ["train"])


def test_an_unknown_split_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not prepared splits"):
        load_split_texts(tmp_path / "r.parquet", tmp_path, ["unsup"])
