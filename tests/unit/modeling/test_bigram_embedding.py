"""Bigram features: each position's vector is its word's plus its (previous, word) pair's."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np
import pytest

from imdb_sentiment.config import ConfigError
from imdb_sentiment.modeling.bigram_embedding import BigramEmbedding
from imdb_sentiment.modeling.model import build_model, load_model
from imdb_sentiment.modeling.pair_hash import pair_buckets
from tests.unit.modeling.test_model import KERAS_EXAMPLE_MODEL

BIGRAMS = dataclasses.replace(KERAS_EXAMPLE_MODEL, bigram_buckets=1000)


@pytest.mark.parametrize("xp", [keras.ops, np], ids=["keras", "numpy"])
def test_pair_ids_hash_the_previous_word_and_the_word(xp: object) -> None:
    """The layer (keras.ops, int32) and numpy_forward (numpy) share this formula."""
    ids = np.array([[0, 0, 5, 7, 5], [3, 5, 7, 46339, 46339]], dtype="int32")
    vocab, buckets = 46340, 101
    got = keras.ops.convert_to_numpy(pair_buckets(ids, vocab, buckets, xp))
    for row, words in zip(got, ids.tolist(), strict=True):
        previous = [0, *words[:-1]]  # the first word follows padding
        assert row.tolist() == [
            (p * vocab + w) % buckets for p, w in zip(previous, words, strict=True)
        ]
    # The largest ids allowed do not overflow int32: results stay in [0, buckets).
    assert got.min() >= 0 and got.max() < buckets


def test_zero_initialized_pairs_add_nothing_until_trained_and_survive_a_save(
    tmp_path: Path,
) -> None:
    """bigram_init zeros: before training each position is its word's vector alone (a
    bucket no train pair reached stays so); the saved model rebuilds with the same setting."""
    params = dataclasses.replace(BIGRAMS, bigram_init="zeros", lstm_units=4, filters=4)
    model = build_model(params, 50, 30)
    layer = model.layers[1]
    ids = np.arange(30, dtype="int32")[None] % 50
    words = keras.ops.convert_to_numpy(layer.words)[ids]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(ids)), words)
    uniform = build_model(dataclasses.replace(params, bigram_init="uniform"), 50, 30).layers[1]
    assert np.abs(keras.ops.convert_to_numpy(uniform.pairs)).max() > 0.01
    model.save(tmp_path / "m.keras")
    assert load_model(tmp_path / "m.keras").layers[1].get_config()["pairs_initializer"] == "zeros"


def test_bigram_init_is_named_when_unknown() -> None:
    with pytest.raises(ConfigError, match=r"'train\.model\.bigram_init' must be uniform or zeros"):
        dataclasses.replace(BIGRAMS, bigram_init="ones")


def test_a_word_gets_another_vector_after_another_word() -> None:
    layer = BigramEmbedding(input_dim=10, output_dim=4, buckets=97)
    not_good, very_good = layer(np.array([[2, 5]])), layer(np.array([[3, 5]]))
    # "good" (id 5) reads differently after "not" (2) than after "very" (3) ...
    assert not np.allclose(not_good[0, 1], very_good[0, 1])
    words, pairs = (keras.ops.convert_to_numpy(w) for w in layer.weights)
    # ... by exactly the pair table's row: word vector + pair vector.
    np.testing.assert_allclose(not_good[0, 1], words[5] + pairs[(2 * 10 + 5) % 97], rtol=1e-6)


def test_bigram_buckets_swap_the_embedding_and_add_its_table() -> None:
    model = build_model(BIGRAMS, max_features=20000, maxlen=100)
    plain = build_model(KERAS_EXAMPLE_MODEL, max_features=20000, maxlen=100)
    assert isinstance(model.layers[1], BigramEmbedding)
    assert model.count_params() == plain.count_params() + 1000 * 128
    assert [type(x) for x in model.layers[2:]] == [type(x) for x in plain.layers[2:]]


def test_a_saved_bigram_model_loads_and_predicts_the_same(tmp_path: Path) -> None:
    model = build_model(dataclasses.replace(BIGRAMS, lstm_units=4, filters=4), 50, 30)
    ids = np.random.default_rng(0).integers(0, 50, (6, 30)).astype("int32")
    model.save(tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras", compile=False)
    assert isinstance(loaded.layers[1], BigramEmbedding) and loaded.layers[1].buckets == 1000
    np.testing.assert_array_equal(loaded.predict(ids, verbose=0), model.predict(ids, verbose=0))


def test_bad_bigram_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"train\.model\.bigram_buckets' must be 0 \(off\)"):
        dataclasses.replace(KERAS_EXAMPLE_MODEL, bigram_buckets=-1)
    with pytest.raises(ConfigError, match=r"max_features=46341 is too large.*<= 46340"):
        build_model(BIGRAMS, max_features=46341, maxlen=100)


def test_bigram_init_other_than_uniform_needs_a_pair_table() -> None:
    words_only = dataclasses.replace(BIGRAMS, bigram_buckets=0)
    with pytest.raises(
        ConfigError, match=r"bigram_init' must be uniform when .*bigram_buckets is 0"
    ):
        dataclasses.replace(words_only, bigram_init="zeros")
