"""Slices of the test reviews: each mask from the reviews alone, accuracy per mask."""

from __future__ import annotations

import numpy as np
import pytest

from imdb_sentiment.data.tokenizer import encoded_lengths
from imdb_sentiment.modeling.slices import define_slices, slice_accuracy, slice_metrics

TEXTS = [
    "Good.",  # 2 tokens with the start mark
    "A fine film.<br /><br />Loved it",  # 6
    "one two three four five six seven",  # 8
    "one two three four five six seven eight nine ten",  # 11
]
RATINGS = np.array([1, 4, 8, 10])


def test_slices_split_by_maxlen_quartile_rating_and_train_text() -> None:
    slices = define_slices(
        TEXTS, encoded_lengths(TEXTS), RATINGS, {"Good.", "not in test"}, maxlen=8
    )
    masks = {name: mask.tolist() for name, mask in slices.masks.items()}
    assert masks["length.fits"] == [True, True, True, False]
    assert masks["length.truncated"] == [False, False, False, True]
    assert [masks[f"length.q{q}"].index(True) for q in (1, 2, 3, 4)] == [0, 1, 2, 3]
    assert masks["rating.1-2"] == [True, False, False, False]
    assert masks["rating.3-4"] == [False, True, False, False]
    assert masks["rating.7-8"] == [False, False, True, False]
    assert masks["rating.9-10"] == [False, False, False, True]
    assert masks["text.in_train"] == [True, False, False, False]
    assert slices.length_quartile_cuts == [5.0, 7.0, 8.75]


def test_quartiles_cover_every_review_once() -> None:
    rng = np.random.default_rng(0)
    texts = [" ".join(["w"] * int(n)) for n in rng.integers(1, 400, size=200)]
    slices = define_slices(texts, encoded_lengths(texts), np.full(200, 5), set(), maxlen=100)
    quartiles = np.stack([slices.masks[f"length.q{q}"] for q in (1, 2, 3, 4)])
    assert (quartiles.sum(axis=0) == 1).all()
    assert all(40 <= n <= 60 for n in quartiles.sum(axis=1))
    # Ratings 5 and 6 are in no band (aclImdb has none): every band is empty.
    assert not any(slices.masks[f"rating.{b}"].any() for b in ("1-2", "3-4", "7-8", "9-10"))


def test_accuracy_per_slice_and_none_for_an_empty_slice() -> None:
    slices = define_slices(TEXTS, encoded_lengths(TEXTS), RATINGS, set(), maxlen=8)
    labels = np.array([0, 0, 1, 1])
    predicted = np.array([0, 1, 1, 0])  # wrong on the 2nd and the 4th (truncated) review
    report = slice_accuracy(slices, labels, predicted)
    assert report["length.fits"]["count"] == 3
    assert report["length.fits"]["accuracy"] == pytest.approx(2 / 3)
    assert report["length.truncated"] == {"count": 1, "accuracy": 0.0}
    assert report["text.in_train"] == {"count": 0, "accuracy": None}
    metrics = slice_metrics(report)
    assert metrics["test_slice/length.truncated.accuracy"] == 0.0
    assert metrics["test_slice/length.fits.accuracy"] == pytest.approx(2 / 3)
    assert "test_slice/text.in_train.accuracy" not in metrics
