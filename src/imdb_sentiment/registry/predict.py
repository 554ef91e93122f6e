"""Score review texts with a raw-text model from the store: `imdb-sentiment predict`."""

from __future__ import annotations

from imdb_sentiment.errors import PipelineError
from imdb_sentiment.tracking.names import CHAMPION_URI
from imdb_sentiment.tracking.store import TrackingStore


class PredictError(PipelineError):
    """The reviews or the model cannot be used as given."""


def predict_reviews(
    store_or_uri: TrackingStore | str, model_uri: str, reviews: list[str]
) -> list[tuple[str, float]]:
    """(label, probability of positive) per review, from the raw-text model at `model_uri`."""
    # Loaded here, not at import: the CLI parses its arguments without MLflow and Keras.
    from imdb_sentiment.registry.text_model import (
        ReviewsRefused,
        TextModelLoadError,
        load_text_model,
        review_problem,
    )

    problem = review_problem(reviews)
    if problem is not None:
        raise PredictError(problem)
    uri = store_or_uri if isinstance(store_or_uri, str) else store_or_uri.uri
    try:
        model = load_text_model(uri, model_uri)
    except TextModelLoadError as exc:
        hint = (
            "run `dvc repro` in the project to train and promote one, or pass --model-uri"
            if model_uri == CHAMPION_URI
            else "check the URI and MLFLOW_TRACKING_URI"
        )
        raise PredictError(f"cannot load {model_uri} ({exc}); {hint}") from exc
    try:
        answers = model.predict(reviews)
    except ReviewsRefused as exc:  # the model's own caps (params.yaml `serve` when logged)
        raise PredictError(exc.message) from None
    return [(answer.label, answer.probability) for answer in answers]
