"""An ensemble of conv-LSTMs saved as one Keras model that averages their probabilities.

Members are trained apart (each its own seed, its own fit); averaging is the only thing that
joins them, so the saved file loads, predicts and serves as a single conv-LSTM does.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import keras
import numpy as np
from keras import layers

from imdb_sentiment.modeling.fit import FitResult


def average_members(members: Sequence[keras.Model]) -> keras.Model:
    """One model: token ids in, the mean of the members' positive-class probabilities out.

    It holds copies of the members with their weights as they are now, without their
    optimizers: Keras would save each member's Adam state (twice its weights) in the file.
    Not compiled: it only predicts (a compiled one would warn at every load that its
    optimizer's saved state does not match).
    """
    inputs = keras.Input(shape=members[0].inputs[0].shape[1:], dtype="int32", name="token_ids")
    probabilities = [_weights_only(member)(inputs) for member in members]
    # float32 as each member's output: see build_model.
    mean = layers.Average(dtype="float32", name="positive_probability")(probabilities)
    return keras.Model(inputs, mean, name="conv_lstm_ensemble")


def score(model: keras.Model, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Binary cross-entropy and accuracy of `model` on (x, y), as Keras' fit reports them
    (probabilities clipped to [1e-7, 1 - 1e-7], positive above 0.5)."""
    p = np.clip(model.predict(x, verbose=0).ravel().astype(np.float64), 1e-7, 1 - 1e-7)
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log1p(-p))
    return float(loss), float(np.mean((p > 0.5) == y))


def _weights_only(member: keras.Model) -> keras.Model:
    # Rebuilt from its config: same layers and name, and uncompiled (clone_model compiles).
    copy = type(member).from_config(member.get_config())
    copy.set_weights(member.get_weights())
    return copy


def mean_history(histories: Sequence[list[dict[str, float]]]) -> list[dict[str, float]]:
    """Per epoch, each figure's mean over the members that trained that epoch.

    Early stopping may end members at different epochs; a later row averages the rest.
    """
    rows = []
    for epoch in range(max(len(h) for h in histories)):
        ran = [h[epoch] for h in histories if len(h) > epoch]
        rows.append({k: statistics.fmean(row[k] for row in ran) for k in ran[0]})
    return rows


def ensemble_result(results: list[FitResult], val_loss: float, val_accuracy: float) -> FitResult:
    """The ensemble as one fit: members' mean per epoch, its own val figures as the kept row.

    Train loss and accuracy are the members' means at their kept epochs (the ensemble is not
    rescored on train); `model_epoch` is the latest epoch a member kept.
    """
    kept = {
        "loss": statistics.fmean(r.model_row["loss"] for r in results),
        "accuracy": statistics.fmean(r.model_row["accuracy"] for r in results),
        "val_loss": val_loss,
        "val_accuracy": val_accuracy,
    }
    return FitResult(
        history=mean_history([r.history for r in results]),
        fit_seconds=sum(r.fit_seconds for r in results),
        initial_epoch=sum(r.initial_epoch for r in results),
        model_epoch=max(r.model_epoch for r in results),
        kept=kept,
    )
