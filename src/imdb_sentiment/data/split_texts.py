"""The raw review texts of prepare's splits: what a model that reads text trains and scores on.

`prepare` keeps only token ids, cut to `maxlen`; a model of its own tokenization (the NBSVM
baseline) needs the whole texts of exactly the same reviews. A prepared row names its review
by (label, review_id) within the archive split it came from: `train` and `val` were both
carved from the archive's train folder, `test` is its test folder.
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


@dataclass(frozen=True)
class SplitTexts:
    texts: list[str]  # in the prepared split's row order
    labels: np.ndarray  # (n,) int64


def load_split_texts(reviews: Path, prepared: Path, names: Sequence[str]) -> dict[str, SplitTexts]:
    """The texts and labels of the prepared splits `names`, each in its prepared row order."""
    unknown = [name for name in names if name not in ARCHIVE_SPLIT]
    if unknown:
        raise ValueError(f"{unknown} are not prepared splits {list(ARCHIVE_SPLIT)}")
    splits = load_encoded_splits(prepared, names)
    table = load_reviews(reviews, ["split", "label", "review_id", "text"])
    out: dict[str, SplitTexts] = {}
    for name in names:
        split = splits[name]
        wanted = pd.DataFrame({"label": split.y, "review_id": split.review_id})
        folder = table[table["split"] == ARCHIVE_SPLIT[name]].drop(columns="split")
        folder = folder.astype({"label": wanted["label"].dtype, "review_id": np.int32})
        rows = wanted.merge(folder, on=["label", "review_id"], how="left", validate="one_to_one")
        if len(rows) != len(wanted) or rows["text"].isna().any():
            raise MissingReviewsError(
                f"{prepared / name}.npz names reviews that {reviews} lacks; rerun the "
                "pipeline from prepare (dvc repro --force prepare)"
            )
        out[name] = SplitTexts(rows["text"].tolist(), rows["label"].to_numpy(dtype=np.int64))
    return out
