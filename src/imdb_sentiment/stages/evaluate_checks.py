"""evaluate's checks beyond overall accuracy: accuracy per slice and behaviour pass rates."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imdb_sentiment.config import EvaluateParams
from imdb_sentiment.data.split_reviews import load_split_reviews
from imdb_sentiment.files import read_json, write_json
from imdb_sentiment.modeling.behaviour import behaviour_metrics, run_checks, threshold_predictor
from imdb_sentiment.modeling.slices import slice_accuracy, slice_metrics
from imdb_sentiment.registry.text_model import TextEncoder
from imdb_sentiment.stages.review_slices import slices_of_test_reviews
from imdb_sentiment.tracking.store import TrackingStore, log_artifact, log_metrics

SLICES_FILE = "slices.json"
BEHAVIOUR_FILE = "behaviour.json"


@dataclass(frozen=True)
class ModelChecks:
    slices: dict[str, Any]  # reports/slices.json
    behaviour: dict[str, Any]  # reports/behaviour.json


@dataclass(frozen=True)
class CheckInputs:
    reviews: Path  # download's reviews table: the test reviews' text and rating
    test: Path  # prepare's test split, whose rows `proba` scores
    vocab: Path  # prepare's vocab.json, to encode the behaviour templates


def run_model_checks(
    model: Any, proba: np.ndarray, maxlen: int, inputs: CheckInputs, cfg: EvaluateParams
) -> ModelChecks:
    """Slices of the test split's predictions `proba`; behaviour checks of the Keras `model`.

    The templates are encoded as serving encodes text (`TextEncoder`), so the pass rates are
    the raw-text model's.
    """
    rows = load_split_reviews(inputs.reviews, inputs.test)
    slices = slices_of_test_reviews(rows, inputs.reviews, maxlen)
    predicted = (np.asarray(proba).ravel() >= cfg.threshold).astype(np.int64)
    labels = rows["label"].to_numpy(dtype=np.int64)
    encoder = TextEncoder(read_json(inputs.vocab), maxlen)

    def proba_of(texts: list[str]) -> np.ndarray:
        return model.predict(encoder.encode(texts), batch_size=cfg.batch_size, verbose=0)

    behaviour = run_checks(threshold_predictor(proba_of, cfg.threshold), maxlen, cfg.behaviour)
    return ModelChecks(
        {
            "maxlen": maxlen,
            "length_quartile_cuts": slices.length_quartile_cuts,
            "slices": slice_accuracy(slices, labels, predicted),
        },
        {"checks": behaviour},
    )


def log_model_checks(store: TrackingStore, run_id: str, checks: ModelChecks) -> None:
    """`slice.*` and `behaviour.*` metrics, and both reports under `evaluation/`."""
    log_metrics(store, run_id, slice_metrics(checks.slices["slices"]))
    log_metrics(store, run_id, behaviour_metrics(checks.behaviour["checks"]))
    with tempfile.TemporaryDirectory() as tmp:
        write_json(Path(tmp) / SLICES_FILE, checks.slices)
        write_json(Path(tmp) / BEHAVIOUR_FILE, checks.behaviour)
        log_artifact(store, run_id, Path(tmp), "evaluation")
