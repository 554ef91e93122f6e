"""Word vectors plus hashed word-pair vectors: the conv-LSTM's input with bigram features."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops

from imdb_sentiment.modeling.pair_hash import MAX_INPUT_DIM, pair_buckets


@keras.saving.register_keras_serializable(package="imdb_sentiment")
class BigramEmbedding(layers.Layer):
    """Embedding(input_dim, output_dim) plus a (buckets, output_dim) table of word pairs.

    Each position's vector is its word's plus its (previous word, word) pair's, so phrases
    such as "not good" or "at best" get weights of their own, as NBSVM's bigram features do;
    the convolution and the LSTM above are unchanged. One layer, not two embeddings and an
    add, so the saved model stays a chain numpy_forward can run.
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        buckets: int,
        pairs_initializer: str = "uniform",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not 0 < input_dim <= MAX_INPUT_DIM:
            raise ValueError(f"input_dim {input_dim} outside (0, {MAX_INPUT_DIM}]")
        self.input_dim, self.output_dim, self.buckets = input_dim, output_dim, buckets
        self.pairs_initializer = pairs_initializer

    def build(self, input_shape: Any) -> None:
        # Keras' Embedding default initializer for words. Pairs: the same, or zeros, so that a
        # bucket no train pair reached adds nothing rather than noise to a test review.
        self.words = self.add_weight((self.input_dim, self.output_dim), "uniform", name="words")
        shape = (self.buckets, self.output_dim)
        self.pairs = self.add_weight(shape, self.pairs_initializer, name="pairs")

    def call(self, inputs: Any) -> Any:
        ids = ops.cast(inputs, "int32")
        pairs = pair_buckets(ids, self.input_dim, self.buckets, ops)
        vectors = ops.take(self.words, ids, axis=0) + ops.take(self.pairs, pairs, axis=0)
        return ops.cast(vectors, self.compute_dtype)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (*input_shape, self.output_dim)

    def get_config(self) -> dict[str, Any]:
        dims = {"input_dim": self.input_dim, "output_dim": self.output_dim}
        pairs = {"buckets": self.buckets, "pairs_initializer": self.pairs_initializer}
        return {**super().get_config(), **dims, **pairs}
