"""The conv-LSTM: the Keras example's layers and sizes, and the variants params.yaml offers."""

from __future__ import annotations

import dataclasses

import keras
import pytest

from imdb_sentiment.config import ConfigError, ModelParams
from imdb_sentiment.modeling.model import build_model

KERAS_EXAMPLE_MODEL = ModelParams(
    embedding_dim=128,
    bigram_buckets=0,
    bigram_init="uniform",
    dropout=0.25,
    spatial_dropout=0.0,
    filters=64,
    kernel_size=5,
    pool_size=4,
    lstm_units=70,
    unroll=False,
    bidirectional=False,
    pooling="last",
)


def test_keras_example_architecture_and_parameter_count() -> None:
    model = build_model(KERAS_EXAMPLE_MODEL, max_features=20000, maxlen=100)
    kinds = [layer.__class__.__name__ for layer in model.layers]
    assert kinds == [
        "InputLayer",
        "Embedding",
        "Dropout",
        "Conv1D",
        "MaxPooling1D",
        "LSTM",
        "Dense",
    ]
    embedding = 20000 * 128
    conv = 5 * 128 * 64 + 64
    lstm = 4 * 70 * (64 + 70 + 1)
    dense = 70 + 1
    assert model.count_params() == embedding + conv + lstm + dense
    assert model.output_shape == (None, 1)


def test_bidirectional_runs_a_second_lstm_backwards() -> None:
    both = dataclasses.replace(KERAS_EXAMPLE_MODEL, bidirectional=True)
    model = build_model(both, max_features=20000, maxlen=100)
    one = build_model(KERAS_EXAMPLE_MODEL, max_features=20000, maxlen=100)
    lstm = 4 * 70 * (64 + 70 + 1)
    # A second LSTM, and the classifier reads both final states (140 inputs, not 70).
    assert model.count_params() == one.count_params() + lstm + 70
    assert any(isinstance(layer, keras.layers.Bidirectional) for layer in model.layers)


def test_max_pooling_reads_every_lstm_step_with_the_same_weights() -> None:
    pooled = build_model(dataclasses.replace(KERAS_EXAMPLE_MODEL, pooling="max"), 20000, 100)
    last = build_model(KERAS_EXAMPLE_MODEL, 20000, 100)
    assert pooled.count_params() == last.count_params()  # pooling adds no weights
    assert any(isinstance(layer, keras.layers.GlobalMaxPooling1D) for layer in pooled.layers)
    assert not any(isinstance(layer, keras.layers.GlobalMaxPooling1D) for layer in last.layers)
    with pytest.raises(ConfigError, match=r"train\.model\.pooling' must be last or max or mean"):
        dataclasses.replace(KERAS_EXAMPLE_MODEL, pooling="mean")


def test_too_short_maxlen_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"prepare\.maxlen=19 is too short.*maxlen >= 20"):
        build_model(KERAS_EXAMPLE_MODEL, max_features=100, maxlen=19)
    assert build_model(KERAS_EXAMPLE_MODEL, max_features=100, maxlen=20).output_shape == (None, 1)


def test_mean_max_pooling_feeds_the_classifier_both_summaries_of_every_step() -> None:
    params = dataclasses.replace(KERAS_EXAMPLE_MODEL, pooling="mean_max")
    model = build_model(params, 20000, 100)
    last = build_model(KERAS_EXAMPLE_MODEL, 20000, 100)
    assert model.count_params() == last.count_params() + 70  # the Dense reads 140 inputs
    kinds = {layer.__class__.__name__ for layer in model.layers}
    assert {"GlobalAveragePooling1D", "GlobalMaxPooling1D", "Concatenate"} <= kinds
    both = build_model(dataclasses.replace(params, bidirectional=True), 20000, 100)
    assert both.get_layer("positive_probability").input.shape == (None, 4 * 70)
    assert model.output_shape == (None, 1)


def test_spatial_dropout_adds_a_layer_only_when_set() -> None:
    dropped = build_model(dataclasses.replace(KERAS_EXAMPLE_MODEL, spatial_dropout=0.4), 20000, 100)
    layer = dropped.layers[2]
    assert isinstance(layer, keras.layers.SpatialDropout1D) and layer.rate == 0.4
    assert dropped.count_params() == build_model(KERAS_EXAMPLE_MODEL, 20000, 100).count_params()
    # At 0 the Keras example's layers stay exactly as they were (checked above).
    for bad in (-0.1, 1.0):
        with pytest.raises(ConfigError, match=r"train\.model\.spatial_dropout' must be a number"):
            dataclasses.replace(KERAS_EXAMPLE_MODEL, spatial_dropout=bad)
