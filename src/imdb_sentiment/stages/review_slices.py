"""The slices of the test reviews, one definition for the two stages that judge by them.

`evaluate` reports accuracy per slice and the gate in `promote` compares the challenger with
the champion per slice: both must cut the test reviews the same way.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from imdb_sentiment.data.split_reviews import load_train_texts
from imdb_sentiment.data.tokenizer import encoded_lengths
from imdb_sentiment.modeling.slices import ReviewSlices, define_slices


def slices_of_test_reviews(rows: pd.DataFrame, reviews: Path, maxlen: int) -> ReviewSlices:
    """Slices of the test split's `rows` (`load_split_reviews`), for a model of `maxlen`.

    `reviews` is download's table, for the train texts the test reviews may repeat.
    """
    texts = rows["text"].tolist()
    ratings = rows["rating"].to_numpy()
    return define_slices(texts, encoded_lengths(texts), ratings, load_train_texts(reviews), maxlen)
