"""The Great Expectations suite over the prepared sequences, checked against `meta.json`.

Expectations read derived columns (one statistic per sequence, or a per-split aggregate
repeated on each row of the split), so each failure names a column and shows the values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from imdb_sentiment.config import ValidateParams
from imdb_sentiment.data.prepared import EncodedSplit, PreparedDataError
from imdb_sentiment.data.tokenizer import OOV, PAD, START


def sequence_frame(splits: Mapping[str, EncodedSplit]) -> pd.DataFrame:
    """One row per sequence with the statistics the expectations read."""
    frame = pd.concat([_sequence_rows(n, s) for n, s in splits.items()], ignore_index=True)
    by_split = frame.groupby("split")
    frame["split_size"] = by_split["label"].transform("size")
    # A rate over all word positions of the split, not a mean of per-row rates.
    frame["split_oov_rate"] = by_split["oov"].transform("sum") / by_split["words"].transform(
        "sum"
    ).clip(lower=1)
    return frame


def _sequence_rows(name: str, split: EncodedSplit) -> pd.DataFrame:
    x = split.x
    if x.ndim != 2 or x.shape[1] == 0 or not len(x) == len(split.y) == len(split.review_id):
        raise PreparedDataError(
            f"{name}: x {x.shape}, y {split.y.shape}, review_id {split.review_id.shape}; "
            "expected (n, maxlen), (n,), (n,): rerun prepare"
        )
    n, width = x.shape
    is_pad = x == PAD
    non_pad = width - is_pad.sum(axis=1)
    first = (~is_pad).argmax(axis=1)  # first non-pad position; 0 for an all-padding row
    first_id = x[np.arange(n), first]
    labels = split.y.astype(np.int64)
    return pd.DataFrame(
        {
            "split": name,
            "label": labels,
            "review_key": [
                f"{label}:{rid}" for label, rid in zip(labels, split.review_id, strict=True)
            ],
            "width": np.full(n, width),
            "min_id": x.min(axis=1),
            "max_id": x.max(axis=1),
            "non_pad": non_pad,
            "pad_fraction": 1 - non_pad / width,
            "first_id": first_id,
            "misplaced_starts": (x == START).sum(axis=1) - (first_id == START),
            "inner_pads": np.where(non_pad > 0, width - non_pad - first, 0),
            "oov": (x == OOV).sum(axis=1),
            "words": (x >= OOV).sum(axis=1),  # positions holding a word: not pad, not start
        }
    )


def sequence_expectations(meta: dict[str, Any], cfg: ValidateParams) -> list[Any]:
    import great_expectations as gx
    from great_expectations.expectations.row_conditions import Column

    e = gx.expectations
    tolerance = cfg.label_balance_tolerance
    per_split = []
    for name, count in meta["counts"].items():
        in_split = Column("split") == name
        per_split += [
            # Rows lost or duplicated between prepare's bookkeeping and its arrays.
            e.ExpectColumnValuesToBeBetween(
                column="split_size", min_value=count, max_value=count, row_condition=in_split
            ),
            # Mostly padding: the tokenizer lost words, or maxlen far exceeds the reviews.
            e.ExpectColumnMeanToBeBetween(
                column="pad_fraction", max_value=cfg.max_pad_fraction, row_condition=in_split
            ),
            # Many unknown words: the vocabulary does not match the tokenizer or the text.
            e.ExpectColumnMeanToBeBetween(
                column="split_oov_rate", max_value=cfg.max_oov_rate, row_condition=in_split
            ),
            # A cap or split that favoured one label: accuracy would no longer mean much.
            e.ExpectColumnMeanToBeBetween(
                column="label",
                min_value=0.5 - tolerance,
                max_value=0.5 + tolerance,
                row_condition=in_split,
            ),
        ]
    return [
        e.ExpectColumnDistinctValuesToEqualSet(column="split", value_set=sorted(meta["counts"])),
        *per_split,
        e.ExpectColumnValuesToBeInSet(column="label", value_set=[0, 1]),
        # Sequences of another maxlen than the model's input.
        e.ExpectColumnValuesToBeBetween(
            column="width", min_value=meta["maxlen"], max_value=meta["maxlen"]
        ),
        # Ids outside [0, max_features) would index past the Embedding table.
        e.ExpectColumnValuesToBeBetween(column="min_id", min_value=0),
        e.ExpectColumnValuesToBeBetween(column="max_id", max_value=meta["max_features"] - 1),
        e.ExpectColumnValuesToBeBetween(column="non_pad", min_value=1),
        # Encoding as keras.datasets.imdb: a padded row holds the whole review, so it starts
        # with START; a row without padding was truncated at the front and may not. START
        # anywhere else means words numbered from 1 (the index_from mistake).
        e.ExpectColumnValuesToBeInSet(
            column="first_id", value_set=[START], row_condition=Column("pad_fraction") > 0
        ),
        e.ExpectColumnValuesToBeBetween(column="misplaced_starts", max_value=0),
        # Padding after a word: padded at the end, though the model expects "pre" padding.
        e.ExpectColumnValuesToBeBetween(column="inner_pads", max_value=0),
        # A review in both train and val (or twice in train) makes validation scores optimistic.
        # Keyed by label too: aclImdb ids repeat across label folders.
        e.ExpectColumnValuesToBeUnique(
            column="review_key", row_condition=Column("split").is_in(["train", "val"])
        ),
    ]


def summarize_sequences(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per-split figures the sequence suite checks, as plain numbers for a metrics file."""
    by_split = frame.groupby("split", sort=False)
    stats = {
        "oov_rate": by_split["oov"].sum() / by_split["words"].sum().clip(lower=1),
        "pad_fraction": by_split["pad_fraction"].mean(),
        "positive_share": by_split["label"].mean(),
    }
    return {key: {str(k): float(v) for k, v in s.items()} for key, s in stats.items()}
