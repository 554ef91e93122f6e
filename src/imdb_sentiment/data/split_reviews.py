"""The raw reviews behind a prepared split's rows: text and rating, in the split's order.

The prepared arrays keep only token ids and (label, review_id); `evaluate`'s slices and the
`promote` gate need the reviews themselves, read here from the reviews table.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from imdb_sentiment.data.prepared import load_encoded_splits
from imdb_sentiment.data.reviews_table import load_reviews
from imdb_sentiment.errors import PipelineError


class MissingTestReviewsError(PipelineError):
    """The test split names reviews that the reviews table lacks."""


def load_split_reviews(reviews: Path, split_file: Path) -> pd.DataFrame:
    """label, review_id, rating and text of exactly the rows of `split_file`, in its order.

    `split_file` is a prepared split of the archive's test folder (`test.npz`). Review ids
    repeat across label folders, so a review is known by (label, review_id).
    """
    split = load_encoded_splits(split_file.parent, [split_file.stem])[split_file.stem]
    wanted = pd.DataFrame({"label": split.y, "review_id": split.review_id})
    table = load_reviews(reviews, ["split", "label", "review_id", "rating", "text"])
    table = table[table["split"] == "test"].drop(columns="split")
    table["label"] = table["label"].astype(wanted["label"].dtype)
    table["review_id"] = table["review_id"].astype(wanted["review_id"].dtype)
    rows = wanted.merge(table, on=["label", "review_id"], how="left", validate="one_to_one")
    if rows["text"].isna().any() or len(rows) != len(wanted):
        raise MissingTestReviewsError(
            f"{split_file} names reviews that {reviews} lacks; rerun the pipeline (dvc repro)"
        )
    return rows


def load_train_texts(reviews: Path) -> set[str]:
    """The exact texts of the archive's train folder (validation included)."""
    table = load_reviews(reviews, ["split", "text"])
    return set(table.loc[table["split"] == "train", "text"])
