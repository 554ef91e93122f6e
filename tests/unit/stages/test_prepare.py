"""prepare_data: from the reviews table to the prepared folder, capped and split by the seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from imdb_sentiment.config import PrepareParams
from imdb_sentiment.data.prepared import load_encoded_splits, read_meta
from imdb_sentiment.data.reviews_table import REVIEWS_SCHEMA, ReviewsTableError, write_reviews
from imdb_sentiment.stages.prepare import prepare_data

CFG = PrepareParams(max_features=20, maxlen=6, val_fraction=0.25, max_reviews_per_split=8)


def reviews_table(per_label: int = 10) -> pa.Table:
    rows = [
        (split, label, 9 if label else 2, i, f"{'good' if label else 'bad'} {split} film {i}")
        for split in ("train", "test")
        for label in (0, 1)
        for i in range(per_label)
    ]
    return pa.table([list(column) for column in zip(*rows, strict=True)], schema=REVIEWS_SCHEMA)


def test_the_folder_holds_what_prepare_data_returns(tmp_path: Path) -> None:
    write_reviews(reviews_table(), tmp_path / "reviews.parquet")
    data = prepare_data(tmp_path / "reviews.parquet", tmp_path / "prepared", CFG, seed=1)
    meta = read_meta(tmp_path / "prepared")
    assert meta["counts"] == {"train": 6, "val": 2, "test": 8}  # capped at 8 per split
    loaded = load_encoded_splits(tmp_path / "prepared", meta["counts"])
    for name, split in data.splits.items():
        np.testing.assert_array_equal(loaded[name].x, split.x)
        np.testing.assert_array_equal(loaded[name].review_id, split.review_id)
    again = prepare_data(tmp_path / "reviews.parquet", tmp_path / "again", CFG, seed=1)
    np.testing.assert_array_equal(again.splits["val"].review_id, data.splits["val"].review_id)


def test_a_table_without_its_columns_prepares_nothing(tmp_path: Path) -> None:
    pq.write_table(reviews_table().drop_columns(["rating"]), tmp_path / "reviews.parquet")
    with pytest.raises(ReviewsTableError, match="has columns"):
        prepare_data(tmp_path / "reviews.parquet", tmp_path / "prepared", CFG, seed=1)
    assert not (tmp_path / "prepared").exists()
