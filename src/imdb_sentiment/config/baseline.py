"""The `baseline` section: the NBSVM reference model (Wang & Manning 2012)."""

from __future__ import annotations

import dataclasses

from imdb_sentiment.config.loading import require as _require

CLASSIFIERS = ("logistic", "svm")  # scikit-learn's LogisticRegression, LinearSVC


@dataclasses.dataclass(frozen=True)
class BaselineParams:
    # Word n-grams from ngram_min to ngram_max tokens (1, 2: unigrams and bigrams).
    ngram_min: int
    ngram_max: int
    # Added to every feature's count in each class before the log-count ratio (Laplace: 1).
    alpha: float
    # The linear model on the log-count-ratio features: logistic regression or an SVM.
    classifier: str
    # Its inverse regularization strength (scikit-learn's C).
    c: float
    # beta in w' = (1 - beta) * mean|w| + beta * w: 1 keeps the classifier's weights, 0.25
    # is the paper's choice for its SVM on full-length reviews.
    interpolation: float
    max_iter: int  # the solver's iterations at most

    def __post_init__(self) -> None:
        _require(self.ngram_min >= 1, "baseline.ngram_min", "an integer >= 1")
        _require(self.ngram_max >= self.ngram_min, "baseline.ngram_max", "an integer >= ngram_min")
        _require(self.alpha > 0, "baseline.alpha", "a number > 0")
        _require(self.classifier in CLASSIFIERS, "baseline.classifier", " or ".join(CLASSIFIERS))
        _require(self.c > 0, "baseline.c", "a number > 0")
        _require(0 <= self.interpolation <= 1, "baseline.interpolation", "a number in [0, 1]")
        _require(self.max_iter >= 1, "baseline.max_iter", "an integer >= 1")
