"""The sections after training: evaluate, serve, promote, reproduce."""

from __future__ import annotations

import dataclasses

from imdb_sentiment.config.loading import require as _require


@dataclasses.dataclass(frozen=True)
class BehaviourParams:
    # An invariance case (noise, typos, names) passes when the label stays and the positive
    # probability moves by less than this.
    invariance_tolerance: float
    # A directional case ("very good" must not score lower than "good") passes unless the
    # probability moves the wrong way by this much or more.
    direction_tolerance: float

    def __post_init__(self) -> None:
        for key in ("invariance_tolerance", "direction_tolerance"):
            _require(0 <= getattr(self, key) < 1, f"evaluate.behaviour.{key}", "a number in [0, 1)")


@dataclasses.dataclass(frozen=True)
class EvaluateParams:
    batch_size: int
    # Probability at or above which a review is called positive.
    threshold: float
    behaviour: BehaviourParams  # the template checks (modeling/behaviour.py)

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
    # Even then it is refused if, on some slice of the test reviews, McNemar's exact test
    # (Holm-corrected across the slices) says it is worse at this level...
    slice_alpha: float
    # ...or if one behaviour check's pass rate falls by more than this below the champion's.
    max_behaviour_drop: float

    def __post_init__(self) -> None:
        _require(0 < self.alpha < 1, "promote.alpha", "a number in (0, 1)")
        _require(0 <= self.min_accuracy_gain < 1, "promote.min_accuracy_gain", "a number in [0, 1)")
        _require(0 < self.slice_alpha < 1, "promote.slice_alpha", "a number in (0, 1)")
        drop = self.max_behaviour_drop
        _require(0 <= drop <= 1, "promote.max_behaviour_drop", "a number in [0, 1]")


@dataclasses.dataclass(frozen=True)
class ReproduceParams:
    # `imdb-sentiment reproduce` off the exact rule (a GPU, another backend or other package
    # versions): how far each test metric may stray (counts: as a share of the test reviews).
    metric_tolerance: float

    def __post_init__(self) -> None:
        tolerance = self.metric_tolerance
        _require(0 <= tolerance < 1, "reproduce.metric_tolerance", "a number in [0, 1)")
