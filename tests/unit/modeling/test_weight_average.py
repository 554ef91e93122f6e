"""train.fit.ema_momentum: the kept model is the moving average of the weights, step by step."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest

from imdb_sentiment.modeling.fit import fit_model
from imdb_sentiment.modeling.model import build_model, compile_model
from tests.conftest import TINY_FIT
from tests.unit.modeling.test_fit import TINY_MODEL, toy_data


class StepWeights(keras.callbacks.Callback):
    """The raw trainable weights after every train step."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[list[np.ndarray]] = []

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.steps.append([np.array(v) for v in self.model.trainable_variables])


def fit_recorded(momentum: float | None, epochs: int = 2):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model = build_model(TINY_MODEL, max_features=20, maxlen=12)
    fit = dataclasses.replace(
        TINY_FIT, batch_size=16, epochs=epochs, learning_rate=0.05, ema_momentum=momentum
    )
    compile_model(model, fit)
    val = toy_data(32, rng)
    recorder = StepWeights()
    result = fit_model(model, toy_data(64, rng), val, fit, callbacks=[recorder])
    return model, result, recorder.steps, val


def test_the_model_ends_on_the_average_of_every_steps_weights() -> None:
    """average = weights after step 1, then m x average + (1 - m) x weights each step."""
    momentum = 0.8
    model, result, steps, val = fit_recorded(momentum)
    average = steps[0]
    for weights in steps[1:]:
        pairs = zip(average, weights, strict=True)
        average = [momentum * a + (1 - momentum) * w for a, w in pairs]
    for kept, expected in zip(model.trainable_variables, average, strict=True):
        np.testing.assert_allclose(np.array(kept), expected, rtol=1e-5, atol=1e-6)
    # The logged validation figures are the averaged model's: the kept model repeats them.
    loss = model.evaluate(*val, batch_size=32, verbose=0)[0]
    assert loss == pytest.approx(result.history[-1]["val_loss"], rel=1e-5)


def test_without_averaging_the_model_is_the_last_steps_weights() -> None:
    model, _, steps, _ = fit_recorded(None)
    for kept, last in zip(model.trainable_variables, steps[-1], strict=True):
        np.testing.assert_array_equal(np.array(kept), last)
    averaged, _, _, _ = fit_recorded(0.8)
    assert not np.allclose(averaged.get_weights()[0], model.get_weights()[0])


def test_averaging_keeps_the_optimizer_config() -> None:
    model = build_model(TINY_MODEL, max_features=20, maxlen=12)
    compile_model(model, dataclasses.replace(TINY_FIT, ema_momentum=0.995))
    config = model.optimizer.get_config()
    assert config["use_ema"] is True and config["ema_momentum"] == 0.995
    plain = build_model(TINY_MODEL, max_features=20, maxlen=12)
    compile_model(plain, TINY_FIT)
    assert plain.optimizer.get_config()["use_ema"] is False


@pytest.mark.parametrize("momentum", [0.0, 1.0, -0.5])
def test_ema_momentum_is_null_or_strictly_between_0_and_1(momentum: float) -> None:
    with pytest.raises(Exception, match=r"train\.fit\.ema_momentum' must be null or in \(0, 1\)"):
        dataclasses.replace(TINY_FIT, ema_momentum=momentum)
