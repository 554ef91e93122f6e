"""The raw-text model's input checks and answers, without a trained model."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest
from mlflow.exceptions import MlflowException

from imdb_sentiment.config import ServeParams
from imdb_sentiment.registry.requests import LEGACY_SERVE, request_caps, review_problem
from imdb_sentiment.registry.text_model import (
    SENTIMENT_LABELS,
    ReviewsRefused,
    check_reviews,
    predict_rows,
    to_sentiments,
)


def test_reviews_are_numbered_from_one_as_the_cli_numbers_them() -> None:
    assert review_problem(["good", "  "]) == "review 2 is empty; pass the review's text"
    assert review_problem([""]) == "review 1 is empty; pass the review's text"
    assert review_problem([]) == "no reviews given"
    assert review_problem(["fine"]) is None


def test_the_server_refuses_a_bad_request_as_invalid_input() -> None:
    with pytest.raises(MlflowException, match="review 1 is empty") as caught:
        check_reviews(["\n"], CAPS)
    assert caught.value.get_http_status_code() == 400
    check_reviews(["a review"], CAPS)


def test_answers_use_the_threshold_inclusively() -> None:
    answers = to_sentiments(np.array([0.2, 0.5, 0.9]), threshold=0.5)
    assert [a.label for a in answers] == ["negative", "positive", "positive"]
    assert [a.probability for a in answers] == [0.2, 0.5, 0.9]
    assert SENTIMENT_LABELS == ("negative", "positive")


CAPS = ServeParams(max_reviews_per_request=3, max_chars_per_review=10)


def test_the_caps_name_the_param_to_raise() -> None:
    assert review_problem(["good"] * 4, CAPS) == (
        "4 reviews in one request; this model takes at most 3 "
        "(serve.max_reviews_per_request): send fewer at once"
    )
    assert review_problem(["good", "x" * 11], CAPS) == (
        "review 2 has 11 characters; this model takes at most 10 "
        "(serve.max_chars_per_review): shorten it"
    )


def test_a_request_at_the_caps_passes() -> None:
    assert review_problem(["x" * 10] * 3, CAPS) is None
    assert review_problem(["x" * 11] * 4) is None  # no caps before a model is loaded


def test_a_refusal_keeps_its_message_when_the_server_rewrites_it() -> None:
    """MLflow's scoring server prefixes the whole input to a refusal's message."""
    with pytest.raises(ReviewsRefused) as caught:
        check_reviews(["a review"] * 4, CAPS)
    refusal = caught.value
    refusal.message = f"Failed to predict data '{['a review'] * 4}'. \nError: {refusal.message}"
    assert refusal.get_http_status_code() == 400
    body = json.loads(refusal.serialize_as_json())
    assert body["message"].startswith("4 reviews in one request;")
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"


def test_versions_logged_before_the_caps_existed_get_the_first_shipped_ones() -> None:
    logged = {"maxlen": 100, "threshold": 0.5, "serve": asdict(CAPS)}
    assert request_caps(logged) == CAPS
    del logged["serve"]
    assert request_caps(logged) == LEGACY_SERVE


def test_rows_are_scored_in_slices_as_one_predict_call_scores_them() -> None:
    import keras

    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential(
        [keras.Input((6,)), layers.Embedding(50, 4), layers.Flatten(), layers.Dense(1, "sigmoid")]
    )
    x = np.random.default_rng(0).integers(0, 50, size=(2345, 6))  # 2 full slices and a part
    expected = model.predict(x, verbose=0).ravel().astype(np.float64)
    got = predict_rows(model, x)
    assert got.dtype == np.float64 and got.shape == (2345,)
    np.testing.assert_array_equal(got, expected)
