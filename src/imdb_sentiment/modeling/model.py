"""The conv-LSTM classifier from the classic Keras IMDB example, in backend-neutral Keras 3."""

from __future__ import annotations

import math
from pathlib import Path

import keras
from keras import layers

from imdb_sentiment.config import ConfigError, FitParams, ModelParams, RuntimeParams
from imdb_sentiment.modeling.bigram_embedding import MAX_INPUT_DIM, BigramEmbedding

# The layers whose weights are lookup tables (word and word-pair vectors).
EMBEDDINGS = (layers.Embedding, BigramEmbedding)


def build_model(
    params: ModelParams, max_features: int, maxlen: int, name: str = "conv_lstm"
) -> keras.Model:
    # Shorter sequences leave the LSTM at most a step or two after convolution and pooling
    # (none at all below kernel_size + pool_size - 1, where Keras fails deep in a shape error).
    if maxlen < params.kernel_size * params.pool_size:
        raise ConfigError(
            f"params.yaml: prepare.maxlen={maxlen} is too short for train.model.kernel_size="
            f"{params.kernel_size} x pool_size={params.pool_size}; allowed: maxlen >= "
            f"{params.kernel_size * params.pool_size}"
        )
    inputs = keras.Input(shape=(maxlen,), dtype="int32", name="token_ids")
    x = _embedding(params, max_features)(inputs)  # (batch, maxlen, emb)
    if params.spatial_dropout > 0:  # no layer at 0: the Keras example's random draws stay
        x = layers.SpatialDropout1D(params.spatial_dropout)(x)
    x = layers.Dropout(params.dropout)(x)
    x = layers.Conv1D(params.filters, params.kernel_size, padding="valid", activation="relu")(x)
    x = layers.MaxPooling1D(params.pool_size)(x)  # (batch, (maxlen-k+1)//pool, filters)
    every_step = params.pooling != "last"
    lstm = layers.LSTM(params.lstm_units, unroll=params.unroll, return_sequences=every_step)
    x = layers.Bidirectional(lstm)(x) if params.bidirectional else lstm(x)
    if params.pooling == "max":
        x = layers.GlobalMaxPooling1D()(x)  # (batch, steps, units) -> (batch, units)
    elif params.pooling == "mean_max":  # -> (batch, 2 * units)
        pooled = [layers.GlobalAveragePooling1D()(x), layers.GlobalMaxPooling1D()(x)]
        x = layers.Concatenate()(pooled)
    # float32 output whatever the dtype policy: a half-precision sigmoid saturates and its
    # log-loss underflows.
    outputs = layers.Dense(1, activation="sigmoid", dtype="float32", name="positive_probability")(x)
    return keras.Model(inputs, outputs, name=name)


def _embedding(params: ModelParams, max_features: int) -> layers.Layer:
    if params.bigram_buckets == 0:  # the Keras example
        return layers.Embedding(max_features, params.embedding_dim)
    if max_features > MAX_INPUT_DIM:
        raise ConfigError(
            f"params.yaml: prepare.max_features={max_features} is too large for "
            f"train.model.bigram_buckets; allowed: max_features <= {MAX_INPUT_DIM} "
            "(or bigram_buckets: 0)"
        )
    dims = (max_features, params.embedding_dim, params.bigram_buckets)
    return BigramEmbedding(*dims, pairs_initializer=params.bigram_init)


def load_model(path: Path, compile: bool = True) -> keras.Model:
    """A model `build_model` made and Keras saved; its custom layer is registered above."""
    return keras.saving.load_model(path, compile=compile)


def learning_rate(
    params: FitParams, train_rows: int | None
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The optimizer's rate: a number, or for `linear` a schedule over every training step.

    The line spans `schedule_epochs` epochs if set, else `epochs`.

    A schedule is evaluated inside the train step, so it needs no batch callback (which would
    make Keras wait on every step) and resumes from the optimizer's saved step count.
    """
    if params.lr_schedule == "constant":
        return params.learning_rate
    if train_rows is None:
        raise ValueError("a linear learning-rate schedule needs the number of training rows")
    epochs = params.schedule_epochs or params.epochs
    steps = math.ceil(train_rows / params.batch_size) * epochs
    return keras.optimizers.schedules.PolynomialDecay(params.learning_rate, steps, 0.0)


def compile_model(
    model: keras.Model,
    params: FitParams,
    runtime: RuntimeParams | None = None,
    train_rows: int | None = None,
) -> None:
    """Adam + binary cross-entropy; `runtime` adds the speed settings (Keras' own if None).

    `train_rows` (the whole train split, all replicas together) sizes a linear schedule.
    """
    speed = {}
    if runtime is not None:
        speed = {
            "jit_compile": runtime.jit_compile,
            "steps_per_execution": runtime.steps_per_execution,
        }
    optimizer = keras.optimizers.Adam(
        learning_rate=learning_rate(params, train_rows),
        epsilon=params.adam_epsilon,
        weight_decay=params.embedding_weight_decay or None,
        use_ema=params.ema_momentum is not None,
        ema_momentum=params.ema_momentum or 0.99,  # Keras' default; unused without use_ema
    )
    if params.embedding_weight_decay:  # the lookup tables only: rows seen once decay away
        others = [layer for layer in model.layers if not isinstance(layer, EMBEDDINGS)]
        optimizer.exclude_from_weight_decay(
            var_list=[v for o in others for v in o.trainable_weights]
        )
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"], **speed)
