"""The raw-text model: review strings in, sentiment out, through `prepare`'s own tokenizer.

The Keras model takes padded token ids; users have text. This MLflow pyfunc model bundles
the Keras model, the vocabulary and the tokenizer code (`imdb_sentiment.data.tokenizer`, the module
`prepare` encodes with), so `mlflow models serve`, `imdb-sentiment predict` and
`mlflow.pyfunc.load_model` all turn a review into the ids training saw.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pydantic
import yaml
from mlflow.exceptions import MlflowException
from mlflow.models.model import MLMODEL_FILE_NAME as MLMODEL_FILE
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from imdb_sentiment.config import ServeParams
from imdb_sentiment.data.tokenizer import encode_texts
from imdb_sentiment.errors import PipelineError, first_line
from imdb_sentiment.files import read_json, write_json
from imdb_sentiment.modeling.runtime import backend_requirements
from imdb_sentiment.registry.requests import LEGACY_SERVE, request_caps, review_problem
from imdb_sentiment.tracking.store import TrackingStore, fluent_run, fluent_uri

SENTIMENT_LABELS = ("negative", "positive")  # index = the label the model predicts
MODEL_NAME = "text_model"  # the artifact path of the pyfunc model within its run
# Reviews the logged model is shown with; their encodings are also a self-test (see below).
EXAMPLE_REVIEWS = [
    "A moving story with wonderful acting. I'd watch it again!",
    "Dull, predictable and far too long.<br /><br />Don't bother.",
]
_PACKAGE_DIR = Path(__file__).parents[1]  # the whole imdb_sentiment package travels with the model
_REQUIREMENTS_FILE = "requirements.txt"  # the pins `pip_requirements` gave, one per line
_PREDICT_BATCH = 1000  # bounds memory for large requests; the answer does not depend on it


class TextModelLoadError(PipelineError):
    """The raw-text model cannot be loaded from its URI."""


class Sentiment(pydantic.BaseModel):
    """One review's answer."""

    probability: float  # of the positive class
    label: str  # "positive" if probability >= the threshold evaluate used, else "negative"


@dataclass(frozen=True)
class TextEncoder:
    """What turns review text into model input: the vocabulary and the row length."""

    vocabulary: Mapping[str, int]
    maxlen: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return encode_texts(texts, self.vocabulary, self.maxlen)


def check_reviews(reviews: list[str], caps: ServeParams) -> None:
    """Refuse what no answer would make sense for, with an error the server turns into a 400.

    MLflow has already checked that every item is a string (from the type hints).
    """
    problem = review_problem(reviews, caps)
    if problem is not None:
        raise ReviewsRefused(problem)


class ReviewsRefused(MlflowException):
    """A request the model will not answer: a 400 whose message is only what went wrong.

    MLflow's scoring server rewrites a refusal's message to `Failed to predict data '<the
    whole input>'. Error: ...`, so a request refused for its size would come back whole (a
    20 MB request, a 20 MB answer). This message keeps its first value.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)

    @property
    def message(self) -> str:
        return self.__dict__["_message"]

    @message.setter
    def message(self, value: str) -> None:
        self.__dict__.setdefault("_message", value)


class ReviewSentimentModel(mlflow.pyfunc.PythonModel):
    """A list of reviews in, a `Sentiment` per review out.

    The type hints are the signature: MLflow derives a string-list input and a
    {probability, label} output from them and, unlike a column schema, refuses
    non-strings (numbers, nulls, nested lists) instead of casting them to text. A DataFrame
    with a single `text` column is accepted as the list of its values.
    """

    def load_context(self, context: Any) -> None:
        # The serving process's backend: a .keras file loads in any.
        from imdb_sentiment.modeling.model import load_model

        files = read_serving_files(context.artifacts)
        self._encoder, self._threshold, self._caps = files.encoder, files.threshold, files.caps
        check_encoder(self._encoder, files.self_test)
        self._model = load_model(context.artifacts["keras_model"], compile=False)

    def predict(
        self, model_input: list[str], params: dict[str, Any] | None = None
    ) -> list[Sentiment]:
        check_reviews(model_input, self._caps)
        x = self._encoder.encode(model_input)
        return to_sentiments(predict_rows(self._model, x), self._threshold)


def predict_within_caps(model: mlflow.pyfunc.PyFuncModel, texts: list[str]) -> list[Sentiment]:
    """Every review of `texts`, sent in requests the model's own caps accept, as a client of
    its server would: the gate scores 25,000 test reviews through a 1,000-review cap."""
    caps = getattr(model.unwrap_python_model(), "_caps", LEGACY_SERVE)  # older code: no caps
    step = caps.max_reviews_per_request
    return [s for i in range(0, len(texts), step) for s in model.predict(texts[i : i + step])]


def predict_rows(model: Any, x: np.ndarray) -> np.ndarray:
    """P(positive) per row of `x`, `_PREDICT_BATCH` rows at a time, as float64.

    `predict_on_batch` runs the compiled step that `model.predict` runs, to the same bits,
    without the input pipeline and callbacks `predict` builds on every call: those took
    0.2 s a call on 2 CPU cores, more than scoring 100 reviews (docs/benchmarks.md).
    """
    parts = [
        np.asarray(model.predict_on_batch(x[start : start + _PREDICT_BATCH])).ravel()
        for start in range(0, len(x), _PREDICT_BATCH)
    ]
    return np.concatenate(parts).astype(np.float64)


def to_sentiments(proba: np.ndarray, threshold: float) -> list[Sentiment]:
    return [
        Sentiment(probability=float(p), label=SENTIMENT_LABELS[int(p >= threshold)])
        for p in proba.tolist()
    ]


def set_text_model() -> None:
    """Declare the model MLflow rebuilds on load: what `model_code.py` runs."""
    from mlflow.models import set_model

    set_model(ReviewSentimentModel())


def self_test(encoder: TextEncoder) -> list[dict[str, Any]]:
    """The example reviews with their ids under the tokenizer the model is logged with."""
    ids = encoder.encode(EXAMPLE_REVIEWS).tolist()
    return [{"text": t, "ids": row} for t, row in zip(EXAMPLE_REVIEWS, ids, strict=True)]


@dataclass(frozen=True)
class ServingFiles:
    """What a logged model's serving.json and vocab.json say (written by `log_text_model`)."""

    encoder: TextEncoder
    threshold: float
    caps: ServeParams
    self_test: list[dict[str, Any]]  # reviews and the ids training's tokenizer gave them


def read_serving_files(artifacts: Mapping[str, Any]) -> ServingFiles:
    """The serving files of a logged model, from its artifact paths (`config`, `vocab`)."""
    config = read_json(artifacts["config"])
    encoder = TextEncoder(read_json(artifacts["vocab"]), int(config["maxlen"]))
    return ServingFiles(
        encoder, float(config["threshold"]), request_caps(config), config["self_test"]
    )


def check_encoder(encoder: TextEncoder, expected: list[dict[str, Any]]) -> None:
    """Refuse to serve with a tokenizer that encodes differently from training's.

    A process that imported another version of this package first (the bundled copy only
    wins in a fresh one) would otherwise skew silently.
    """
    if not encoder_matches(encoder, expected):
        raise MlflowException(
            "this model's tokenizer differs from the imdb_sentiment code loaded in this "
            "process; load the model in a fresh process or with the commit it was trained at"
        )


def encoder_matches(encoder: TextEncoder, expected: list[dict[str, Any]]) -> bool:
    """Whether `encoder` gives the self-test reviews the ids training's tokenizer gave."""
    got = encoder.encode([case["text"] for case in expected]).tolist()
    return bool(got == [case["ids"] for case in expected])


@dataclass(frozen=True)
class TextModelFiles:
    """What the raw-text model is built from."""

    keras_model: Path  # the trained model, .keras
    vocab: Path  # prepare's vocab.json
    maxlen: int  # the row length the Keras model takes
    threshold: float  # evaluate's decision threshold
    serve: ServeParams  # what one request may hold


def log_text_model(store: TrackingStore, run_id: str, files: TextModelFiles, workdir: Path) -> str:
    """Log the raw-text model into run `run_id`; returns its model URI.

    Like `mlflow.start_run`'s block, this ends the run (FINISHED, or FAILED on an exception).
    """
    encoder = TextEncoder(read_json(files.vocab), files.maxlen)
    config = workdir / "serving.json"
    write_json(
        config,
        {
            "maxlen": files.maxlen,
            "threshold": files.threshold,
            "serve": asdict(files.serve),
            "self_test": self_test(encoder),
        },
    )
    artifacts = {"keras_model": files.keras_model, "vocab": files.vocab, "config": config}
    with fluent_run(store, run_id):
        info = mlflow.pyfunc.log_model(
            name=MODEL_NAME,
            python_model=str(_PACKAGE_DIR / "registry" / "model_code.py"),
            artifacts={name: str(path) for name, path in artifacts.items()},
            # The package travels with the model: an old version keeps the tokenizer it
            # learned with.
            code_paths=[str(_PACKAGE_DIR)],
            input_example=EXAMPLE_REVIEWS,  # the signature comes from predict's type hints
            pip_requirements=serving_requirements(),
        )
    return str(info.model_uri)


def load_text_model(uri: str, model_uri: str) -> mlflow.pyfunc.PyFuncModel:
    """The raw-text model at `model_uri` (`models:/...`, `runs:/...`) of the store at `uri`."""
    try:
        with fluent_uri(uri):
            return mlflow.pyfunc.load_model(model_uri)
    except (MlflowException, OSError) as exc:
        raise TextModelLoadError(first_line(exc)) from exc


@dataclass(frozen=True)
class BundledKerasModel:
    """The Keras model file a raw-text model serves, and the packages it was logged with."""

    keras_file: Path
    requirements: dict[str, str]  # package -> pinned version, from requirements.txt
    artifacts: dict[str, Path]  # log_text_model's artifacts: keras_model, vocab, config


def download_keras_model(uri: str, model_uri: str, dest: Path) -> BundledKerasModel:
    """Download the raw-text model at `model_uri` into `dest`; its Keras file, as logged."""
    try:
        with fluent_uri(uri):
            local = Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=str(dest)))
        flavor = yaml.safe_load((local / MLMODEL_FILE).read_text(encoding="utf-8"))
        logged = flavor["flavors"]["python_function"]["artifacts"]
        artifacts = {name: local / entry["path"] for name, entry in logged.items()}
        keras_file = artifacts["keras_model"]
        lines = (local / _REQUIREMENTS_FILE).read_text(encoding="utf-8").splitlines()
    except (
        MlflowException,
        OSError,
        LookupError,
        TypeError,
        AttributeError,
        yaml.YAMLError,
    ) as exc:
        raise TextModelLoadError(f"{model_uri}: {first_line(exc)}") from exc
    pins = dict(line.strip().partition("==")[::2] for line in lines if "==" in line)
    return BundledKerasModel(keras_file, pins, artifacts)


def serving_requirements() -> list[str]:
    """Pinned packages the model needs to load and predict; stated, not inferred (slow)."""
    extra = [f"{name}=={importlib.metadata.version(name)}" for name in ("numpy", "pydantic")]
    return [*backend_requirements(), *extra]
