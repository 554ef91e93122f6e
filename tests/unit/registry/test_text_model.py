"""The raw-text model's input checks and answers, without a trained model."""

from __future__ import annotations

import numpy as np
import pytest
from mlflow.exceptions import MlflowException

from imdb_sentiment.registry.text_model import (
    SENTIMENT_LABELS,
    check_reviews,
    review_problem,
    to_sentiments,
)


def test_reviews_are_numbered_from_one_as_the_cli_numbers_them() -> None:
    assert review_problem(["good", "  "]) == "review 2 is empty; pass the review's text"
    assert review_problem([""]) == "review 1 is empty; pass the review's text"
    assert review_problem([]) == "no reviews given"
    assert review_problem(["fine"]) is None


def test_the_server_refuses_a_bad_request_as_invalid_input() -> None:
    with pytest.raises(MlflowException, match="review 1 is empty") as caught:
        check_reviews(["\n"])
    assert caught.value.get_http_status_code() == 400
    check_reviews(["a review"])


def test_answers_use_the_threshold_inclusively() -> None:
    answers = to_sentiments(np.array([0.2, 0.5, 0.9]), threshold=0.5)
    assert [a.label for a in answers] == ["negative", "positive", "positive"]
    assert [a.probability for a in answers] == [0.2, 0.5, 0.9]
    assert SENTIMENT_LABELS == ("negative", "positive")
