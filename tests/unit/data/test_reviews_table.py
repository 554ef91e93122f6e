"""The reviews table: written the same way every time, read back checked, in one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from imdb_sentiment.data.reviews_table import (
    REVIEW_COLUMNS,
    REVIEWS_SCHEMA,
    ReviewsTableError,
    load_reviews,
    write_reviews,
)
from imdb_sentiment.data.sequences import PREPARE_COLUMNS

ROWS = {
    "split": ["train", "test"],
    "label": [0, 1],
    "rating": [2, 9],
    "review_id": [7, 8],
    "text": ["bad", "good"],
}


def table(**replace: list) -> pa.Table:
    return pa.table({**ROWS, **replace}, schema=REVIEWS_SCHEMA)


def write_other(path: Path, columns: dict[str, list]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def test_a_written_table_reads_back_whole_with_its_types(tmp_path: Path) -> None:
    path = tmp_path / "raw" / "reviews.parquet"
    write_reviews(table(), path)
    reviews = load_reviews(path)
    assert list(reviews.columns) == list(REVIEW_COLUMNS)
    assert reviews.to_dict("list") == ROWS
    assert reviews["label"].dtype == np.int8 and reviews["rating"].dtype == np.int8
    assert reviews["review_id"].dtype == np.int32
    assert [p.name for p in path.parent.iterdir()] == ["reviews.parquet"]  # no temp file left


def test_the_same_rows_give_the_same_bytes(tmp_path: Path) -> None:
    write_reviews(table(), tmp_path / "a.parquet")
    write_reviews(table(), tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    assert pq.read_schema(tmp_path / "a.parquet").metadata is None  # no pandas metadata


def test_a_table_of_another_schema_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "reviews.parquet"
    with pytest.raises(ValueError, match="must have schema"):
        write_reviews(pa.table(ROWS), path)  # int64 labels, ratings and ids
    assert not path.exists()


def test_a_subset_of_columns_is_read_in_the_order_asked(tmp_path: Path) -> None:
    path = tmp_path / "reviews.parquet"
    write_reviews(table(), path)
    reviews = load_reviews(path, PREPARE_COLUMNS)
    assert list(reviews.columns) == list(PREPARE_COLUMNS)
    assert reviews["text"].tolist() == ["bad", "good"]
    with pytest.raises(ValueError, match=r"\['stars'\] are not columns"):
        load_reviews(path, ["text", "stars"])


@pytest.mark.parametrize(
    "columns",
    [
        {k: v for k, v in ROWS.items() if k != "rating"},  # a missing column
        {**ROWS, "extra": [1, 2]},
        {k: ROWS[k] for k in reversed(ROWS)},  # the right columns in another order
    ],
    ids=["missing", "extra", "reordered"],
)
def test_a_table_with_other_columns_is_one_line_error(tmp_path: Path, columns: dict) -> None:
    path = write_other(tmp_path / "reviews.parquet", columns)
    with pytest.raises(ReviewsTableError, match="has columns") as caught:
        load_reviews(path)
    message = str(caught.value)
    assert "\n" not in message and "dvc repro --force download" in message


def test_a_corrupt_or_missing_table(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 not a table")
    with pytest.raises(ReviewsTableError, match="not a readable parquet table"):
        load_reviews(corrupt)
    # Left to the stage runner, which says to run the upstream stages.
    with pytest.raises(FileNotFoundError):
        load_reviews(tmp_path / "missing.parquet")
