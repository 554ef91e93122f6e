"""`predict_reviews`: one-line errors that say how to get a model to predict with."""

from __future__ import annotations

from pathlib import Path

import pytest

from imdb_sentiment.registry.predict import PredictError, predict_reviews
from imdb_sentiment.tracking.names import CHAMPION_URI
from imdb_sentiment.tracking.store import connect


def test_no_champion_says_to_run_the_pipeline(tmp_path: Path) -> None:
    store = connect(f"sqlite:///{tmp_path / 'mlflow.db'}", cwd=tmp_path)
    with pytest.raises(PredictError) as caught:
        predict_reviews(store, CHAMPION_URI, ["a review"])
    message = str(caught.value)
    assert message.startswith(f"cannot load {CHAMPION_URI} (") and "\n" not in message
    assert message.endswith(
        "run `dvc repro` in the project to train and promote one, or pass --model-uri"
    )


def test_another_missing_model_says_to_check_the_uri(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(PredictError, match=r"check the URI and MLFLOW_TRACKING_URI$"):
        predict_reviews(uri, "models:/imdb-sentiment/7", ["a review"])


def test_an_empty_review_is_refused_before_any_model_loads() -> None:
    with pytest.raises(PredictError, match=r"^review 2 is empty; pass the review.s text$"):
        predict_reviews("sqlite:///nowhere/none.db", CHAMPION_URI, ["good", " "])
