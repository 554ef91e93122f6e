"""The reviews table (`data/raw/reviews.parquet`): its schema, its writer and its checked reader.

`download` writes it from the archive; `prepare` and `validate` read it. A table that is not
the one `download` writes fails the reader in one line that says how to rebuild it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from imdb_sentiment.errors import PipelineError
from imdb_sentiment.files import atomic_path

REVIEWS_SCHEMA = pa.schema(
    [
        ("split", pa.string()),  # "train" or "test", as the archive's folders
        ("label", pa.int8()),  # 0 negative, 1 positive
        ("rating", pa.int8()),  # stars, 1..10
        ("review_id", pa.int32()),  # unique within a split and label folder, not a split
        ("text", pa.string()),
    ]
)
REVIEW_COLUMNS = tuple(REVIEWS_SCHEMA.names)
_READ_BATCH_ROWS = 2048  # about 2.6 MB of review text
_READ_BUFFER_BYTES = 1 << 20
_REBUILD = "rebuild it with `dvc repro --force download`"


class ReviewsTableError(PipelineError):
    """The reviews table is unreadable or not the one `download` writes."""


def write_reviews(table: pa.Table, path: Path) -> None:
    """Write `table` to `path` atomically; it must have `REVIEWS_SCHEMA`."""
    if not table.schema.equals(REVIEWS_SCHEMA):
        raise ValueError(f"the reviews table must have schema {REVIEWS_SCHEMA}, got {table.schema}")
    with atomic_path(path) as tmp:
        # No pandas metadata and fixed options: the same rows always give the same bytes.
        pq.write_table(table, tmp, compression="zstd", use_dictionary=["split"])


def load_reviews(path: Path, columns: Sequence[str] = REVIEW_COLUMNS) -> pd.DataFrame:
    """`columns` of the reviews table at `path`, in that order.

    Read in batches: reading the table whole holds the compressed and the decoded text
    besides the final column, about 200 MB at peak instead of 100 MB.
    """
    unknown = [name for name in columns if name not in REVIEW_COLUMNS]
    if unknown:
        raise ValueError(f"{unknown} are not columns of the reviews table {list(REVIEW_COLUMNS)}")
    try:
        table = pq.ParquetFile(path, pre_buffer=False, buffer_size=_READ_BUFFER_BYTES)
        found = table.schema_arrow.names
        if found != list(REVIEW_COLUMNS):
            raise ReviewsTableError(
                f"{path} has columns {found}, expected {list(REVIEW_COLUMNS)}; {_REBUILD}"
            )
        schema = pa.schema([table.schema_arrow.field(name) for name in columns])
        batches = table.iter_batches(batch_size=_READ_BATCH_ROWS, columns=list(columns))
        return pa.Table.from_batches(list(batches), schema=schema).to_pandas()
    except FileNotFoundError:
        raise
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise ReviewsTableError(
            f"{path} is not a readable parquet table ({exc.__class__.__name__}); {_REBUILD}"
        ) from exc
