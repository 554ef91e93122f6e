"""The raw reviews behind prepared splits' rows: text and rating, in each split's row order.

`prepare` keeps only token ids cut to `maxlen`, plus (label, review_id); `evaluate`'s slices,
the `promote` gate and the NBSVM baseline need the reviews themselves, read here from the
reviews table. `train` and `val` were both carved from the archive's train folder, `test`
is its test folder; review ids repeat across label folders, so a review is known by
(label, review_id) within its folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from imdb_sentiment.data.prepared import load_encoded_splits
from imdb_sentiment.data.reviews_table import load_reviews
from imdb_sentiment.errors import PipelineError

# The archive folder each prepared split's reviews come from.
ARCHIVE_SPLIT = {"train": "train", "val": "train", "test": "test"}


class MissingReviewsError(PipelineError):
    """A prepared split names reviews that the reviews table lacks."""


MissingTestReviewsError = MissingReviewsError  # the name promote has always exported


@dataclass(frozen=True)
class SplitTexts:
    texts: list[str]  # in the prepared split's row order
    labels: np.ndarray  # (n,) int64


def load_split_rows(reviews: Path, prepared: Path, names: Sequence[str]) -> dict[str, pd.DataFrame]:
    """label, review_id, rating and text of exactly the rows of each prepared split `names`."""
    if unknown := [name for name in names if name not in ARCHIVE_SPLIT]:
        raise ValueError(f"{unknown} are not prepared splits {list(ARCHIVE_SPLIT)}")
    splits = load_encoded_splits(prepared, names)
    table = load_reviews(reviews, ["split", "label", "review_id", "rating", "text"])
    out: dict[str, pd.DataFrame] = {}
    for name in names:
        wanted = pd.DataFrame({"label": splits[name].y, "review_id": splits[name].review_id})
        folder = table[table["split"] == ARCHIVE_SPLIT[name]].drop(columns="split")
        folder = folder.astype(wanted.dtypes.to_dict())
        rows = wanted.merge(folder, on=["label", "review_id"], how="left", validate="one_to_one")
        if len(rows) != len(wanted) or rows["text"].isna().any():
            raise MissingReviewsError(
                f"{prepared / name}.npz names reviews that {reviews} lacks; rerun the "
                "pipeline from prepare (dvc repro --force prepare)"
            )
        out[name] = rows
    return out


def load_split_reviews(reviews: Path, split_file: Path) -> pd.DataFrame:
    """The rows of one prepared split file (e.g. `data/prepared/test.npz`), in its order."""
    return load_split_rows(reviews, split_file.parent, [split_file.stem])[split_file.stem]


def load_split_texts(reviews: Path, prepared: Path, names: Sequence[str]) -> dict[str, SplitTexts]:
    """The texts and labels of the prepared splits `names`, each in its prepared row order."""
    rows = load_split_rows(reviews, prepared, names)
    return {
        name: SplitTexts(split["text"].tolist(), split["label"].to_numpy(dtype=np.int64))
        for name, split in rows.items()
    }


def load_train_texts(reviews: Path) -> set[str]:
    """The exact texts of the archive's train folder (validation included)."""
    table = load_reviews(reviews, ["split", "text"])
    return set(table.loc[table["split"] == "train", "text"])
