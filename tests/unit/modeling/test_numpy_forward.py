"""The numpy forward pass gives Keras' probabilities, and refuses what it does not implement."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np
import pytest

from imdb_sentiment.modeling.model import build_model
from imdb_sentiment.modeling.numpy_forward import UnsupportedModelError, load_numpy_model
from tests.conftest import TINY_MODEL

TINY = dataclasses.replace(TINY_MODEL, filters=6, lstm_units=5)
MAX_FEATURES, MAXLEN = 40, 20


def saved(model: keras.Model, path: Path, seed: int = 0) -> Path:
    """`model` with large random weights (saturating gates, not ~0.5 everywhere), saved."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, 0.6, w.shape).astype("float32") for w in model.weights])
    model.save(path)
    return path


def token_ids(rows: int = 64) -> np.ndarray:
    ids = np.random.default_rng(1).integers(0, MAX_FEATURES, (rows, MAXLEN)).astype("int32")
    ids[:8, :12] = 0  # front padding, as prepare writes short reviews
    return ids


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"bidirectional": True},
        {"pooling": "max"},
        {"bidirectional": True, "pooling": "max", "unroll": True},
        {"spatial_dropout": 0.3},
        {"bigram_buckets": 7},  # fewer buckets than pairs: collisions must hash alike
    ],
    ids=[
        "keras-example",
        "bidirectional",
        "max-pooling",
        "bidirectional-max",
        "spatial-dropout",
        "bigrams",
    ],
)
def test_probabilities_match_keras_to_1e_6(tmp_path: Path, variant: dict) -> None:
    model = build_model(dataclasses.replace(TINY, **variant), MAX_FEATURES, MAXLEN)
    path = saved(model, tmp_path / "model.keras")
    ids = token_ids()
    expected = keras.saving.load_model(path, compile=False).predict(ids, verbose=0).ravel()
    got = load_numpy_model(path).predict(ids, batch_size=7)  # batches must not matter
    assert got.shape == expected.shape and got.dtype == np.float64
    assert expected.max() - expected.min() > 0.05  # inputs that matter, not 0.5 everywhere
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_layers_of_one_class_are_found_by_keras_saved_names(tmp_path: Path) -> None:
    inputs = keras.Input(shape=(MAXLEN,), dtype="int32")
    x = keras.layers.Embedding(MAX_FEATURES, 4)(inputs)
    x = keras.layers.GlobalMaxPooling1D()(x)
    x = keras.layers.Dense(3, activation="tanh")(x)  # saved as "dense", the next as "dense_1"
    outputs = keras.layers.Dense(1, activation="sigmoid")(x)
    path = saved(keras.Model(inputs, outputs), tmp_path / "model.keras")
    expected = keras.saving.load_model(path).predict(token_ids(), verbose=0).ravel()
    np.testing.assert_allclose(load_numpy_model(path).predict(token_ids()), expected, atol=1e-6)


def test_a_bidirectional_sequence_keeps_time_order(tmp_path: Path) -> None:
    """build_model max-pools a bidirectional sequence (order-blind); an LSTM after it is not."""
    inputs = keras.Input(shape=(MAXLEN,), dtype="int32")
    x = keras.layers.Embedding(MAX_FEATURES, 4)(inputs)
    x = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True))(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.LSTM(2)(x))
    path = saved(keras.Model(inputs, outputs), tmp_path / "model.keras")
    expected = keras.saving.load_model(path).predict(token_ids(), verbose=0).ravel()
    np.testing.assert_allclose(load_numpy_model(path).predict(token_ids()), expected, atol=1e-6)


def test_a_layer_it_does_not_implement_is_refused_by_name(tmp_path: Path) -> None:
    inputs = keras.Input(shape=(MAXLEN,), dtype="int32")
    x = keras.layers.Embedding(MAX_FEATURES, 4)(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GRU(3)(x))
    path = saved(keras.Model(inputs, outputs), tmp_path / "model.keras")
    with pytest.raises(UnsupportedModelError, match="layer GRU"):
        load_numpy_model(path)


def test_mean_max_pooling_is_left_to_keras(tmp_path: Path) -> None:
    # Two poolings of one sequence, concatenated: a branched graph, which predict scores
    # through the pyfunc instead.
    model = build_model(dataclasses.replace(TINY, pooling="mean_max"), MAX_FEATURES, MAXLEN)
    with pytest.raises(UnsupportedModelError):
        load_numpy_model(saved(model, tmp_path / "model.keras"))


def test_a_mixed_precision_model_is_refused(tmp_path: Path) -> None:
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_model(TINY, MAX_FEATURES, MAXLEN)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    path = saved(model, tmp_path / "model.keras")
    with pytest.raises(UnsupportedModelError, match="computes in mixed_float16"):
        load_numpy_model(path)


def test_a_file_that_is_not_a_keras_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.keras"
    path.write_text("not a zip")
    with pytest.raises(UnsupportedModelError, match="not a Keras 3 model file"):
        load_numpy_model(path)
