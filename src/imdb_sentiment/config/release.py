"""The sections after training: evaluate, serve, promote, reproduce."""

from __future__ import annotations

import dataclasses

from imdb_sentiment.config.loading import require as _require


@dataclasses.dataclass(frozen=True)
class EvaluateParams:
    batch_size: int
    # Probability at or above which a review is called positive.
    threshold: float

    def __post_init__(self) -> None:
        _require(self.batch_size > 0, "evaluate.batch_size", "a positive integer")
        _require(0 < self.threshold < 1, "evaluate.threshold", "a number in (0, 1)")


@dataclasses.dataclass(frozen=True)
class ServeParams:
    # What one request to the raw-text model may hold; `evaluate` bakes both into the model it
    # logs, so `mlflow models serve` and `imdb-sentiment predict` refuse more with one line.
    max_reviews_per_request: int
    max_chars_per_review: int

    def __post_init__(self) -> None:
        reviews, chars = self.max_reviews_per_request, self.max_chars_per_review
        _require(reviews > 0, "serve.max_reviews_per_request", "a positive integer")
        _require(chars > 0, "serve.max_chars_per_review", "a positive integer")


@dataclasses.dataclass(frozen=True)
class PromoteParams:
    # McNemar's exact test on the paired test predictions must give p below this...
    alpha: float
    # ...and the challenger's test accuracy must beat the champion's by at least this.
    min_accuracy_gain: float

    def __post_init__(self) -> None:
        _require(0 < self.alpha < 1, "promote.alpha", "a number in (0, 1)")
        _require(0 <= self.min_accuracy_gain < 1, "promote.min_accuracy_gain", "a number in [0, 1)")


@dataclasses.dataclass(frozen=True)
class ReproduceParams:
    # `imdb-sentiment reproduce` off the exact rule (a GPU, another backend or other package
    # versions): how far each test metric may stray (counts: as a share of the test reviews).
    metric_tolerance: float

    def __post_init__(self) -> None:
        tolerance = self.metric_tolerance
        _require(0 <= tolerance < 1, "reproduce.metric_tolerance", "a number in [0, 1)")
