"""The fit loop on a toy task a tiny model learns in seconds: learning, speed knobs, stopping."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import pytest

from imdb_sentiment.config import ModelParams, RuntimeParams
from imdb_sentiment.modeling.checkpoint import TrainingBackup
from imdb_sentiment.modeling.fit import (
    FitResult,
    TrainingDivergedError,
    _resume_from_backup,
    fit_model,
)
from imdb_sentiment.modeling.model import build_model, compile_model
from imdb_sentiment.modeling.pair_hash import pair_buckets
from imdb_sentiment.modeling.runtime import apply_runtime
from tests.conftest import TINY_FIT
from tests.conftest import TINY_MODEL as TINY_CONFTEST_MODEL

# No dropout, wider layers: the loss must fall within a few steps.
TINY_MODEL = dataclasses.replace(TINY_CONFTEST_MODEL, dropout=0.0, filters=8, lstm_units=8)


def toy_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Label 1 iff token 5 appears: learnable in a few epochs by a tiny model."""
    x = rng.integers(6, 20, size=(n, 12)).astype(np.int32)
    y = rng.integers(0, 2, size=n).astype(np.int8)
    x[y == 1, rng.integers(0, 12, size=int(y.sum()))] = 5
    return x, y


def fit_tiny(
    epochs: int,
    learning_rate: float,
    runtime: RuntimeParams | None = None,
    model_params: ModelParams = TINY_MODEL,
    early_stopping_patience: int | None = None,
) -> FitResult:
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model = build_model(model_params, max_features=20, maxlen=12)
    fit = dataclasses.replace(
        TINY_FIT,
        batch_size=16,
        epochs=epochs,
        learning_rate=learning_rate,
        early_stopping_patience=early_stopping_patience,
    )
    compile_model(model, fit, runtime)
    return fit_model(model, toy_data(256, rng), toy_data(64, rng), fit)


def runtime(**changes: object) -> RuntimeParams:
    base = RuntimeParams(
        backend="tensorflow",
        precision="float32",
        jit_compile="auto",
        steps_per_execution=1,
        deterministic=False,
    )
    return dataclasses.replace(base, **changes)


def losses(result: FitResult) -> list[float]:
    return [epoch["loss"] for epoch in result.history]


def test_speed_knobs_leave_the_maths_alone() -> None:
    baseline = losses(fit_tiny(epochs=2, learning_rate=0.01))
    for knobs in (
        {"steps_per_execution": 4},
        {"jit_compile": False},
        {"jit_compile": True},
    ):
        np.testing.assert_allclose(
            losses(fit_tiny(epochs=2, learning_rate=0.01, runtime=runtime(**knobs))),
            baseline,
            rtol=1e-4,
            err_msg=str(knobs),
        )
    unrolled = dataclasses.replace(TINY_MODEL, unroll=True)
    np.testing.assert_allclose(
        losses(fit_tiny(epochs=2, learning_rate=0.01, model_params=unrolled)), baseline, rtol=1e-4
    )


@pytest.fixture
def bfloat16_policy() -> Iterator[None]:
    apply_runtime(runtime(precision="mixed_bfloat16"))
    yield
    apply_runtime(runtime())


def test_mixed_precision_trains_with_a_float32_output(bfloat16_policy: None) -> None:
    model = build_model(TINY_MODEL, max_features=20, maxlen=12)
    assert model.layers[1].compute_dtype == "bfloat16"  # the embedding computes in bf16
    assert model.output.dtype == "float32"
    result = fit_tiny(epochs=4, learning_rate=0.01, runtime=runtime(precision="mixed_bfloat16"))
    assert all(np.isfinite(losses(result)))
    assert losses(result)[-1] < losses(result)[0]


def test_training_lowers_the_loss_on_a_tiny_set() -> None:
    result = fit_tiny(epochs=6, learning_rate=0.01, early_stopping_patience=None)
    losses = [epoch["loss"] for epoch in result.history]
    assert len(losses) == 6
    assert losses[-1] < 0.7 * losses[0]
    assert all(epoch["epoch_seconds"] > 0 for epoch in result.history)
    assert result.history[-1]["val_accuracy"] > 0.8


def test_diverging_training_raises_instead_of_returning_weights() -> None:
    with pytest.raises(TrainingDivergedError, match="NaN"):
        fit_tiny(epochs=3, learning_rate=1e30)


def test_early_stopping_ends_with_the_lowest_val_loss_epoch() -> None:
    """Val labels are noise: val_loss rises once the model fits train, so training stops."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model = build_model(TINY_MODEL, max_features=20, maxlen=12)
    fit = dataclasses.replace(
        TINY_FIT, batch_size=16, epochs=30, learning_rate=0.05, early_stopping_patience=2
    )
    compile_model(model, fit)
    x_val, _ = toy_data(64, rng)
    val = (x_val, rng.integers(0, 2, size=64).astype(np.int8))
    result = fit_model(model, toy_data(256, rng), val, fit)

    val_losses = [epoch["val_loss"] for epoch in result.history]
    assert len(val_losses) < 30, "never stopped"
    assert result.model_epoch == int(np.argmin(val_losses)) + 1
    assert len(val_losses) == result.model_epoch + 2  # two epochs without improvement
    # The model holds the best epoch's weights, not the last epoch's (dropout is 0 here).
    loss = model.evaluate(*val, batch_size=64, verbose=0)[0]
    assert loss == pytest.approx(val_losses[result.model_epoch - 1], rel=1e-5)
    assert loss < val_losses[-1]


def test_without_patience_every_epoch_runs_and_the_last_is_kept() -> None:
    result = fit_tiny(epochs=4, learning_rate=0.05)
    assert len(result.history) == 4 and result.model_epoch == 4


def _backed_up(directory: Path, val_losses: list[float]) -> TrainingBackup:
    """A backup holding the state of `len(val_losses)` epochs (no weights: nothing loads them)."""
    epoch = len(val_losses)
    state = directory / f"epoch-{epoch:05d}" / "state.json"
    state.parent.mkdir(parents=True)
    history = [{"loss": 0.5, "val_loss": v} for v in val_losses]
    state.write_text(json.dumps({"epoch": epoch, "history": history, "rng": {}}))
    return TrainingBackup(directory)


def test_resume_replays_the_backed_up_epochs_into_the_early_stopper(tmp_path: Path) -> None:
    backup = _backed_up(tmp_path / "key", [0.6, 0.5, 0.55, 0.7])
    fit = dataclasses.replace(TINY_FIT, epochs=9, early_stopping_patience=2)
    checkpoint, stopper = _resume_from_backup(fit, backup)
    assert checkpoint is not None and checkpoint.epoch == 4
    assert stopper is not None and (stopper.best_epoch, stopper.wait) == (2, 2)
    assert stopper.stopped  # killed after the stopping epoch: nothing left to train
    assert backup.keep_epoch == 2  # the best epoch's weights outlive newer backups


def test_resume_without_backup_or_patience_starts_from_scratch(tmp_path: Path) -> None:
    fit = TINY_FIT
    assert _resume_from_backup(fit, None) == (None, None)
    empty = TrainingBackup(tmp_path / "none-yet")
    assert _resume_from_backup(fit, empty) == (None, None)
    backup = _backed_up(tmp_path / "key", [0.6])
    checkpoint, stopper = _resume_from_backup(fit, backup)
    assert checkpoint is not None and checkpoint.epoch == 1 and stopper is None


class RateRecorder(keras.callbacks.Callback):
    """The optimizer's learning rate as each epoch ends."""

    def __init__(self) -> None:
        super().__init__()
        self.rates: list[float] = []

    def on_epoch_end(self, epoch: int, logs: object = None) -> None:
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


@pytest.mark.parametrize("decay", [0.5, 1.0])
def test_lr_decay_lowers_each_epochs_learning_rate(decay: float) -> None:
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model = build_model(TINY_MODEL, max_features=20, maxlen=12)
    fit = dataclasses.replace(TINY_FIT, batch_size=16, lr_decay=decay)
    compile_model(model, fit)
    recorder = RateRecorder()
    fit_model(model, toy_data(64, rng), toy_data(32, rng), fit, callbacks=[recorder])
    assert recorder.rates == pytest.approx([0.01, 0.01 * decay, 0.01 * decay**2])


def test_a_linear_schedule_falls_every_step_to_zero_at_the_last_step() -> None:
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model = build_model(TINY_MODEL, max_features=20, maxlen=12)
    fit = dataclasses.replace(TINY_FIT, batch_size=16, lr_schedule="linear")
    compile_model(model, fit, train_rows=60)  # 4 steps an epoch, the last one short
    recorder = RateRecorder()
    fit_model(model, toy_data(60, rng), toy_data(32, rng), fit, callbacks=[recorder])
    # After epoch n's 4 steps the rate has fallen 4n/12 of the way.
    assert recorder.rates == pytest.approx([0.01 * 8 / 12, 0.01 * 4 / 12, 0.0], abs=1e-9)
    with pytest.raises(ValueError, match="needs the number of training rows"):
        compile_model(build_model(TINY_MODEL, max_features=20, maxlen=12), fit)


def test_schedule_epochs_stops_part_way_with_the_longer_fits_first_epoch() -> None:
    """epochs 1 of a 3-epoch line: the rate ends at 2/3 of the start, and the weights are
    those the whole 3-epoch fit had after its first epoch (same steps, rates and draws)."""
    weights, rates = {}, {}
    for epochs, length in ((1, 3), (3, None)):
        keras.utils.set_random_seed(0)
        rng = np.random.default_rng(0)
        model = build_model(TINY_MODEL, max_features=20, maxlen=12)
        fit = dataclasses.replace(
            TINY_FIT, batch_size=16, epochs=epochs, lr_schedule="linear", schedule_epochs=length
        )
        compile_model(model, fit, train_rows=60)
        recorder, first = RateRecorder(), FirstEpochWeights()
        fit_model(model, toy_data(60, rng), toy_data(32, rng), fit, callbacks=[recorder, first])
        weights[epochs], rates[epochs] = first.weights, recorder.rates
    assert rates[1] == pytest.approx([0.01 * 8 / 12], abs=1e-9)
    assert rates[3][0] == pytest.approx(rates[1][0], abs=1e-9)
    for short, whole in zip(weights[1], weights[3], strict=True):
        np.testing.assert_array_equal(short, whole)


class FirstEpochWeights(keras.callbacks.Callback):
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if epoch == 0:
            self.weights = [np.array(w) for w in self.model.get_weights()]


@pytest.mark.parametrize(("schedule", "epochs", "length"), [("constant", 2, 2), ("linear", 3, 2)])
def test_schedule_epochs_is_null_or_a_linear_line_at_least_epochs_long(
    schedule: str, epochs: int, length: int
) -> None:
    with pytest.raises(Exception, match=r"train\.fit\.schedule_epochs' must be null, or with"):
        dataclasses.replace(TINY_FIT, epochs=epochs, lr_schedule=schedule, schedule_epochs=length)


def test_a_linear_schedule_leaves_lr_decay_at_one() -> None:
    with pytest.raises(Exception, match=r"train\.fit\.lr_decay' must be 1\.0 when .*linear"):
        dataclasses.replace(TINY_FIT, epochs=2, lr_decay=0.5, lr_schedule="linear")


def test_lr_decay_must_be_in_zero_one() -> None:
    for bad in (0.0, 1.5):
        with pytest.raises(Exception, match=r"train\.fit\.lr_decay' must be a number in \(0, 1\]"):
            dataclasses.replace(TINY_FIT, epochs=1, lr_decay=bad)


@pytest.mark.parametrize("buckets", [0, 64])
def test_embedding_weight_decay_shrinks_the_tables_and_nothing_else(buckets: int) -> None:
    """One step at lr 0.01, decay 20: a row no review uses shrinks by exactly 1 - 0.2; the
    convolution moves no more than Adam's first step allows (lr), so it is not decayed."""
    rng = np.random.default_rng(0)
    x, y = toy_data(16, rng)
    x[x == 19] = 18  # word 19: in no review
    keras.utils.set_random_seed(0)
    model = build_model(dataclasses.replace(TINY_MODEL, bigram_buckets=buckets), 20, 12)
    compile_model(model, dataclasses.replace(TINY_FIT, embedding_weight_decay=20.0))
    tables, conv = model.layers[1], model.layers[3]
    before = [keras.ops.convert_to_numpy(w).copy() for w in (*tables.weights, conv.kernel)]
    model.train_on_batch(x, y)
    after = [keras.ops.convert_to_numpy(w) for w in (*tables.weights, conv.kernel)]
    np.testing.assert_allclose(after[0][19], before[0][19] * (1 - 0.01 * 20.0), rtol=1e-6)
    if buckets:  # a pair bucket no (previous word, word) of x falls in
        unused = sorted(set(range(buckets)) - set(pair_buckets(x, 20, buckets, np).ravel()))[0]
        np.testing.assert_allclose(after[1][unused], before[1][unused] * 0.8, rtol=1e-6)
    assert np.abs(after[-1] - before[-1]).max() <= 0.01 * 1.0001
    assert np.abs(before[-1]).max() > 0.05  # a decay of 0.2 would have moved it further


def test_embedding_weight_decay_is_zero_or_positive() -> None:
    with pytest.raises(Exception, match=r"train\.fit\.embedding_weight_decay' must be 0"):
        dataclasses.replace(TINY_FIT, embedding_weight_decay=-1.0)


def test_adam_epsilon_reaches_the_optimizer_and_damps_a_rare_rows_steps() -> None:
    """One review with a word nothing else has: its embedding row moves far less over the
    fit when epsilon is near its gradients than at Keras' default."""
    rng = np.random.default_rng(0)
    train, val = toy_data(64, rng), toy_data(32, rng)
    train[0][train[0] == 19] = 18
    train[0][0, -1] = 19  # the rare word: id 19 in one train review only
    moved = {}
    for epsilon in (1e-7, 1e-2):
        keras.utils.set_random_seed(0)
        model = build_model(TINY_MODEL, max_features=20, maxlen=12)
        fit = dataclasses.replace(TINY_FIT, batch_size=16, adam_epsilon=epsilon)
        compile_model(model, fit)
        assert float(model.optimizer.epsilon) == epsilon
        before = keras.ops.convert_to_numpy(model.layers[1].embeddings)[19].copy()
        fit_model(model, train, val, fit)
        after = keras.ops.convert_to_numpy(model.layers[1].embeddings)[19]
        moved[epsilon] = float(np.abs(after - before).sum())
    assert moved[1e-2] < moved[1e-7] / 3
