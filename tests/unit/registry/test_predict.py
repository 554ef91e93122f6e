"""`predict_reviews`: one-line errors that say how to get a model; the pyfunc where numpy cannot."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from imdb_sentiment.config import ServeParams
from imdb_sentiment.registry.predict import PredictError, predict_reviews
from imdb_sentiment.tracking.names import CHAMPION_URI
from imdb_sentiment.tracking.store import connect
from tests.conftest import TINY_MODEL


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


@pytest.mark.slow
def test_a_model_the_numpy_pass_does_not_cover_is_scored_by_the_pyfunc(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Mixed precision: the numpy pass refuses it, the pyfunc answers, with its answers."""
    import json

    import keras

    from imdb_sentiment.modeling.model import build_model
    from imdb_sentiment.registry.text_model import TextModelFiles, load_text_model, log_text_model

    words = ["good", "great", "bad", "awful", "film", "plot"]
    vocab = tmp_path / "vocab.json"
    vocab.write_text(json.dumps({w: i for i, w in enumerate(words, start=3)}))
    params = dataclasses.replace(TINY_MODEL, dropout=0.0)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_model(params, max_features=len(words) + 3, maxlen=12)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model.save(tmp_path / "model.keras")
    store = connect(f"sqlite:///{tmp_path / 'mlflow.db'}", cwd=tmp_path)
    run_id = store.client.create_run(store.experiment_id).info.run_id
    serve = ServeParams(max_reviews_per_request=10, max_chars_per_review=1000)
    files = TextModelFiles(tmp_path / "model.keras", vocab, 12, 0.5, serve)
    model_uri = log_text_model(store, run_id, files, tmp_path)
    reviews = ["good great film", "awful bad plot, bad film", "unknown words only"]

    with caplog.at_level("INFO", logger="imdb_sentiment.registry.predict"):
        answers = predict_reviews(store, model_uri, reviews)

    assert "scoring with Keras (layer Embedding computes in mixed_float16)" in caplog.text
    served = load_text_model(store.uri, model_uri).predict(reviews)
    assert [label for label, _ in answers] == [s.label for s in served]
    assert [p for _, p in answers] == pytest.approx([s.probability for s in served], abs=1e-6)
