"""Score review texts with a raw-text model from the store: `imdb-sentiment predict`.

A shell command scores a handful of reviews, so starting up is most of its cost. It reads the
model's files from the store and runs the Keras model's forward pass in numpy
(`modeling/numpy_forward.py`), which gives the served pyfunc's probabilities to 1e-6 without
importing a Keras backend (TensorFlow alone takes longer to import than the whole command).
A model the numpy pass does not cover, or whose tokenizer this code no longer reproduces, is
loaded as the pyfunc instead: slower, same answer.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from imdb_sentiment.errors import PipelineError
from imdb_sentiment.tracking.names import CHAMPION_URI
from imdb_sentiment.tracking.store import TrackingStore

if TYPE_CHECKING:
    from imdb_sentiment.config import ServeParams
    from imdb_sentiment.registry.text_model import BundledKerasModel, Sentiment, TextEncoder

log = logging.getLogger(__name__)


class PredictError(PipelineError):
    """The reviews or the model cannot be used as given."""


def predict_reviews(
    store_or_uri: TrackingStore | str, model_uri: str, reviews: list[str]
) -> list[tuple[str, float]]:
    """(label, probability of positive) per review, from the raw-text model at `model_uri`."""
    # Loaded here, not at import: the CLI parses its arguments without MLflow.
    from imdb_sentiment.registry.requests import review_problem
    from imdb_sentiment.registry.text_model import ReviewsRefused, TextModelLoadError

    problem = review_problem(reviews)
    if problem is not None:
        raise PredictError(problem)
    uri = store_or_uri if isinstance(store_or_uri, str) else store_or_uri.uri
    try:
        with tempfile.TemporaryDirectory(prefix="imdb-sentiment-predict-") as scratch:
            answers = score_reviews(uri, model_uri, reviews, Path(scratch))
    except ReviewsRefused as exc:  # the model's own caps (params.yaml `serve` when logged)
        raise PredictError(exc.message) from None
    except TextModelLoadError as exc:
        hint = (
            "run `dvc repro` in the project to train and promote one, or pass --model-uri"
            if model_uri == CHAMPION_URI
            else "check the URI and MLFLOW_TRACKING_URI"
        )
        reason = str(exc).removeprefix(f"{model_uri}: ")  # the URI is said once
        raise PredictError(f"cannot load {model_uri} ({reason}); {hint}") from exc
    return [(answer.label, answer.probability) for answer in answers]


def score_reviews(uri: str, model_uri: str, reviews: list[str], scratch: Path) -> list[Sentiment]:
    """The model's answers: through numpy when it covers the model, else the pyfunc (Keras)."""
    from imdb_sentiment.modeling.numpy_forward import UnsupportedModelError, load_numpy_model
    from imdb_sentiment.registry.text_model import (
        check_reviews,
        download_keras_model,
        load_text_model,
        to_sentiments,
    )

    bundled = download_keras_model(uri, model_uri, scratch)
    try:
        model = load_numpy_model(bundled.keras_file)
        encoder, threshold, caps = read_encoder(bundled)
    except UnsupportedModelError as exc:
        log.info("%s: scoring with Keras (%s)", model_uri, exc)
        return load_text_model(uri, model_uri).predict(reviews)  # checks its caps itself
    check_reviews(reviews, caps)  # the pyfunc's request caps, as the server applies them
    return to_sentiments(model.predict(encoder.encode(reviews)), threshold)


def read_encoder(bundled: BundledKerasModel) -> tuple[TextEncoder, float, ServeParams]:
    """The model's tokenizer, threshold and request caps, if this process encodes as training did.

    The pyfunc tokenizes with the copy of this package it was logged with; the numpy path
    with the installed one, so it is used only while both encode the self-test alike.
    """
    from imdb_sentiment.modeling.numpy_forward import UnsupportedModelError
    from imdb_sentiment.registry.text_model import encoder_matches, read_serving_files

    try:
        files = read_serving_files(bundled.artifacts)
    except (OSError, LookupError, TypeError, ValueError) as exc:  # the pyfunc will say why
        raise UnsupportedModelError(f"unreadable serving files ({exc})") from exc
    if not encoder_matches(files.encoder, files.self_test):
        raise UnsupportedModelError("its tokenizer differs from this imdb_sentiment's")
    return files.encoder, files.threshold, files.caps
