"""The Great Expectations suite over the raw reviews table, as `download` wrote it.

Expectations read derived columns (one value per row, or a per-group figure repeated on each
row of the group), so each failure names a column and shows the offending values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from imdb_sentiment.config import ValidateParams
from imdb_sentiment.data.reviews_table import REVIEW_COLUMNS

REVIEW_DERIVED_COLUMNS = [
    "split_label",
    "group_size",
    "chars",
    "stripped_chars",
    "review_key",
    "labels_per_text",
    "cross_split_duplicate",
]
SPLIT_LABELS = {"train/0", "train/1", "test/0", "test/1"}


def raw_review_frame(reviews: pd.DataFrame) -> pd.DataFrame:
    """The reviews plus derived columns that the expectations read."""
    frame = reviews.copy()
    frame["split_label"] = frame["split"] + "/" + frame["label"].astype(str)
    frame["group_size"] = frame.groupby("split_label")["review_id"].transform("size")
    frame["chars"] = frame["text"].str.len()
    frame["stripped_chars"] = frame["text"].str.strip().str.len()
    # aclImdb numbers reviews per split *and label* folder (train/neg/0_3 and train/pos/0_9 both
    # exist), so the id is unique within a split/label pair, not within a split.
    frame["review_key"] = frame["split_label"] + ":" + frame["review_id"].astype(str)
    # GX's compound-uniqueness expectation misfires on pandas 3 string columns, so the
    # "one label per text" rule is a derived count instead.
    frame["labels_per_text"] = frame.groupby("text")["label"].transform("nunique")
    in_train = frame["text"].isin(frame.loc[frame["split"] == "train", "text"])
    in_test = frame["text"].isin(frame.loc[frame["split"] == "test", "text"])
    frame["cross_split_duplicate"] = (in_train & in_test).astype(np.int64)
    return frame


def raw_review_expectations(cfg: ValidateParams) -> list[Any]:
    import great_expectations as gx
    from great_expectations.expectations.row_conditions import Column

    e = gx.expectations
    n = cfg.reviews_per_split_label
    return [
        # A renamed, missing or extra column means download changed the table's contract.
        e.ExpectTableColumnsToMatchSet(
            column_set=[*REVIEW_COLUMNS, *REVIEW_DERIVED_COLUMNS], exact_match=True
        ),
        # Members from outside train/ and test/ (unsup/, a stray folder) were read as reviews.
        e.ExpectColumnValuesToBeInSet(column="split", value_set=["train", "test"]),
        e.ExpectColumnValuesToBeInSet(column="label", value_set=[0, 1]),
        # A lost label folder, or a partial read: the raw table is never capped (prepare caps),
        # so every split holds both labels with exactly the published count. ("Contain", with
        # the two set checks above, says "equal": GX's Data Docs fail to render a failed
        # "equal set" that saw unexpected values.)
        e.ExpectColumnDistinctValuesToContainSet(
            column="split_label", value_set=sorted(SPLIT_LABELS)
        ),
        e.ExpectColumnValuesToBeBetween(column="group_size", min_value=n, max_value=n),
        # Labels parsed from the wrong folder or file name: aclImdb labels by rating,
        # negative <= 4 stars, positive >= 7; 5 and 6 were left out.
        e.ExpectColumnValuesToBeBetween(
            column="rating", min_value=1, max_value=4, row_condition=Column("label") == 0
        ),
        e.ExpectColumnValuesToBeBetween(
            column="rating", min_value=7, max_value=10, row_condition=Column("label") == 1
        ),
        # Empty or whitespace-only files (a failed decode, a zero-byte member) carry no signal.
        e.ExpectColumnValuesToNotBeNull(column="text"),
        e.ExpectColumnValuesToBeBetween(column="stripped_chars", min_value=1),
        # Too short: a truncated read; too long: reviews run together or a non-review read in.
        e.ExpectColumnValuesToBeBetween(
            column="chars", min_value=cfg.min_chars, max_value=cfg.max_chars
        ),
        # The same file read twice (ids repeat only across label folders, never within one).
        e.ExpectColumnValuesToBeUnique(column="review_key"),
        # One text with two labels teaches the model both answers: the labels are unreliable.
        e.ExpectColumnValuesToBeBetween(column="labels_per_text", max_value=1),
        # aclImdb has a few hundred reviews posted verbatim in both splits; many more mean test
        # reviews leaked into train, and test accuracy would overstate the model.
        e.ExpectColumnSumToBeBetween(
            column="cross_split_duplicate", max_value=cfg.max_cross_split_duplicates
        ),
    ]
