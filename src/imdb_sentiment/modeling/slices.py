"""Slices of the test reviews that overall accuracy hides: length, rating band, leaked text.

`evaluate` reports accuracy per slice (`reports/slices.json`); the `promote` gate compares
champion and challenger on each. A slice is a boolean mask over the test reviews, defined
from the reviews alone (text, rating, the train texts, the model's row length), never from
a model's predictions, so both models are judged on the same slices. Nothing here tokenizes:
the callers pass each review's length.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# Star-rating bands of aclImdb: 1-4 are the negative reviews, 7-10 the positive ones.
RATING_BANDS = {
    "rating.1-2": (1, 2),
    "rating.3-4": (3, 4),
    "rating.7-8": (7, 8),
    "rating.9-10": (9, 10),
}
IN_TRAIN = "text.in_train"


@dataclass(frozen=True)
class ReviewSlices:
    """Named boolean masks over the same reviews (docs/evaluation.md says what each holds)."""

    masks: dict[str, np.ndarray]  # name -> (n,) bool
    # Upper bounds, in tokens, of length quartiles 1-3: q1 <= cuts[0] < q2 <= cuts[1] ...
    length_quartile_cuts: list[float]


def define_slices(
    texts: Sequence[str],
    lengths: np.ndarray,
    ratings: np.ndarray,
    train_texts: Collection[str],
    maxlen: int,
) -> ReviewSlices:
    """Length (fits in `maxlen` or truncated; quartiles), rating band, and text seen in train.

    `lengths` are the reviews' lengths as the model's input counts them (start mark included,
    `data.tokenizer.encoded_lengths`), before padding or truncation.
    """
    lengths = np.asarray(lengths)
    masks: dict[str, np.ndarray] = {
        "length.fits": lengths <= maxlen,
        "length.truncated": lengths > maxlen,
    }
    cuts = np.quantile(lengths, [0.25, 0.5, 0.75]) if len(lengths) else np.zeros(3)
    band = np.searchsorted(cuts, lengths, side="left")  # 0..3: the quartile each falls in
    for q in range(4):
        masks[f"length.q{q + 1}"] = band == q
    ratings = np.asarray(ratings)
    for name, (low, high) in RATING_BANDS.items():
        masks[name] = (ratings >= low) & (ratings <= high)
    masks[IN_TRAIN] = np.array([text in train_texts for text in texts], dtype=bool)
    return ReviewSlices(masks, [float(cut) for cut in cuts])


def slice_accuracy(slices: ReviewSlices, labels: np.ndarray, predicted: np.ndarray) -> dict:
    """Per slice: count and accuracy (None for an empty slice). Numbers only: DVC shows them."""
    correct = np.asarray(predicted).ravel() == np.asarray(labels).ravel()
    report: dict[str, Any] = {}
    for name, mask in slices.masks.items():
        count = int(mask.sum())
        accuracy = float(correct[mask].mean()) if count else None
        report[name] = {"count": count, "accuracy": accuracy}
    return report


def slice_metrics(report: dict[str, dict[str, Any]]) -> dict[str, float]:
    """`test_slice/<name>.accuracy` for MLflow (empty slices have none; counts stay in the file).

    The `/` puts them in a chart section of their own in the MLflow UI, and the `test_`
    prefix sorts them after the training metrics in its metric lists.
    """
    return {
        f"test_slice/{name}.accuracy": entry["accuracy"]
        for name, entry in report.items()
        if entry["accuracy"] is not None
    }
