"""A generic Keras fit: nothing here knows about reviews or MLflow."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from imdb_sentiment.config import FitParams
from imdb_sentiment.errors import PipelineError

log = logging.getLogger(__name__)


class TrainingDivergedError(PipelineError):
    """The loss became NaN or infinite; the weights are useless."""


@dataclass(frozen=True)
class FitResult:
    history: list[dict[str, float]]  # one entry per epoch: loss, accuracy, val_*, epoch_seconds
    fit_seconds: float  # whole fit, compilation included


class EpochTimer(keras.callbacks.Callback):
    """Adds `epoch_seconds` to each epoch's logs, so History and later callbacks see it."""

    def __init__(self) -> None:
        super().__init__()
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


def fit_model(
    model: keras.Model,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    params: FitParams,
    callbacks: list[keras.callbacks.Callback] | None = None,
) -> FitResult:
    start = time.perf_counter()
    history = model.fit(
        train[0],
        train[1],
        batch_size=params.batch_size,
        epochs=params.epochs,
        validation_data=val,
        # The timer goes first so later callbacks (tracking) can read this epoch's time.
        callbacks=[EpochTimer(), keras.callbacks.TerminateOnNaN(), *(callbacks or [])],
        verbose=2,
    )
    fit_seconds = time.perf_counter() - start
    n_epochs = len(history.history.get("loss", []))
    epochs = [{k: float(v[i]) for k, v in history.history.items()} for i in range(n_epochs)]
    # TerminateOnNaN stops early; either sign means the weights must not be saved.
    if len(epochs) < params.epochs or not all(math.isfinite(e["loss"]) for e in epochs):
        raise TrainingDivergedError(
            "training loss became NaN/inf; lower train.fit.learning_rate or check the data"
        )
    log.info("fit: %d epochs in %.1f s", len(epochs), fit_seconds)
    return FitResult(epochs, fit_seconds)
