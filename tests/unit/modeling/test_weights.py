"""The weights digest: the same weights, the same digest, however often they are saved."""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from imdb_sentiment.modeling.model import build_model
from imdb_sentiment.modeling.weights import WeightsUnreadableError, arrays_md5, weights_md5
from tests.conftest import TINY_MODEL


def saved_model(path: Path) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = build_model(TINY_MODEL, 20, 24)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.save(path)
    return model


def test_two_saves_of_the_same_weights_give_one_digest(tmp_path: Path) -> None:
    model = saved_model(tmp_path / "a.keras")
    model.save(tmp_path / "b.keras")
    assert weights_md5(tmp_path / "a.keras") == weights_md5(tmp_path / "b.keras")


def test_any_changed_weight_changes_the_digest(tmp_path: Path) -> None:
    model = saved_model(tmp_path / "a.keras")
    weights = model.get_weights()
    weights[-1] = weights[-1] + np.float32(1e-7)
    model.set_weights(weights)
    model.save(tmp_path / "b.keras")
    assert weights_md5(tmp_path / "a.keras") != weights_md5(tmp_path / "b.keras")


def test_the_optimizer_state_is_not_part_of_it(tmp_path: Path) -> None:
    model = saved_model(tmp_path / "a.keras")
    x, y = np.ones((4, 24), dtype=np.int32), np.ones((4, 1), dtype=np.float32)
    model.fit(x, y, epochs=1, verbose=0)  # moves the weights and the optimizer's moments
    trained = weights_md5_of(model, tmp_path / "b.keras")
    model.optimizer.variables[-1].assign(np.zeros(model.optimizer.variables[-1].shape))
    assert weights_md5_of(model, tmp_path / "c.keras") == trained


def weights_md5_of(model: keras.Model, path: Path) -> str:
    model.save(path)
    return weights_md5(path)


def test_order_dtype_and_shape_all_count() -> None:
    a, b = np.arange(4, dtype=np.float32), np.ones(4, dtype=np.float32)
    assert arrays_md5([a, b]) != arrays_md5([b, a])
    assert arrays_md5([a]) != arrays_md5([a.astype(np.float64)])
    assert arrays_md5([a]) != arrays_md5([a.reshape(2, 2)])


def test_a_file_that_is_no_keras_archive_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "model.keras"
    path.write_bytes(b"not a zip")
    with pytest.raises(WeightsUnreadableError, match=r"not a \.keras archive with weights"):
        weights_md5(path)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{}")
    with pytest.raises(WeightsUnreadableError):
        weights_md5(path)
