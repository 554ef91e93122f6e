"""Turn the reviews table into the prepared folder: capped, split, tokenized, encoded."""

from __future__ import annotations

from pathlib import Path

from imdb_sentiment.config import PrepareParams
from imdb_sentiment.data.prepared import PreparedData, write_prepared
from imdb_sentiment.data.reviews_table import load_reviews
from imdb_sentiment.data.sequences import PREPARE_COLUMNS, cap_per_split, prepare_sequences
from imdb_sentiment.memory import check_prepare_memory


def prepare_data(reviews_path: Path, out: Path, cfg: PrepareParams, seed: int) -> PreparedData:
    """Write the prepared folder `out` from the reviews table; `seed` drives cap and split."""
    reviews = load_reviews(reviews_path, PREPARE_COLUMNS)
    reviews = cap_per_split(reviews, cfg.max_reviews_per_split, seed)
    check_prepare_memory(len(reviews), cfg)  # before padding: refused in one line
    data = prepare_sequences(reviews, cfg.max_features, cfg.maxlen, cfg.val_fraction, seed)
    write_prepared(out, data, cfg)
    return data
