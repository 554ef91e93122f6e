"""A generic Keras fit loop: nothing here knows about reviews or MLflow."""

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
from imdb_sentiment.modeling.checkpoint import Checkpoint, TrainingBackup

log = logging.getLogger(__name__)


class TrainingDivergedError(PipelineError):
    """The loss became NaN or infinite; the weights are useless."""


@dataclass(frozen=True)
class FitResult:
    history: list[dict[str, float]]  # one entry per epoch: loss, accuracy, val_*, epoch_seconds
    fit_seconds: float  # this attempt's fit, compilation included
    initial_epoch: int  # epochs restored from a backup (0: trained from scratch)
    model_epoch: int  # the epoch (1-based) whose weights the model ends with
    # The saved model's figures where no epoch's row gives them (an ensemble's).
    kept: dict[str, float] | None = None

    @property
    def model_row(self) -> dict[str, float]:
        """The saved model's figures: the row of the epoch whose weights it kept."""
        return self.kept if self.kept is not None else self.history[self.model_epoch - 1]


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


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops training after an epoch whose mean loss is NaN or infinite.

    Keras' TerminateOnNaN checks every batch's loss, which pulls it to the host each step and
    keeps the backend from queuing steps ahead (about 1 s of a 1.7 s epoch on an H200). An
    epoch's mean loss is NaN or infinite as soon as one step's was, so checking it once per
    epoch catches the same runs; `fit_model` then refuses the weights.
    """

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not math.isfinite(float((logs or {}).get("loss", math.nan))):
            self.model.stop_training = True


class EpochDecay(keras.callbacks.Callback):
    """Epoch n (1-based) trains at `learning_rate * decay ** (n - 1)`; resumes at the same rate.

    Set per epoch, not per batch: a batch hook would make Keras wait on every step.
    """

    def __init__(self, learning_rate: float, decay: float) -> None:
        super().__init__()
        self.learning_rate, self.decay = learning_rate, decay

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.model.optimizer.learning_rate = self.learning_rate * self.decay**epoch


class EndOnAverage(keras.callbacks.Callback):
    """Each epoch ends on the optimizer's moving average of the weights (`use_ema`).

    The average replaces the weights when fit's validation begins (before `on_epoch_end`;
    `fit_model` always validates), so val metrics, early stopping, the backup and the saved
    model all see the averaged model, and the next epoch trains on from it. Keras'
    SwapEMAWeights instead swaps the raw weights back in, which leaves a backup taken at
    epoch end unable to tell which set it holds. Both replace the weights at the end of fit
    (finalize_variable_values).
    """

    def on_test_begin(self, logs: Any = None) -> None:
        variables = self.model.trainable_variables
        self.model.optimizer.finalize_variable_values(variables)
        # On JAX the weight and its average now hold one buffer, which the next train step
        # donates (frees): give the weight its own.
        for variable in variables:
            variable.assign(keras.ops.copy(variable.value))


class BestEpoch(keras.callbacks.Callback):
    """Early stopping on val_loss that ends with the best epoch's weights, resumable.

    Keras' EarlyStopping keeps its counters and best weights in memory only: a fit resumed
    from a backup would restart its patience and could not restore an epoch trained before
    the crash. This one replays the backed-up history to rebuild its counters, and has the
    backup keep the best epoch's weights on disk, so a resumed fit stops at the same epoch
    with the same weights as an uninterrupted one.
    """

    def __init__(self, patience: int, backup: TrainingBackup | None = None) -> None:
        super().__init__()
        self.patience = patience
        self.backup = backup
        self.best_loss = math.inf
        self.best_epoch = 0  # 1-based; 0: none yet
        self.wait = 0
        self._best_weights: list[np.ndarray] | None = None

    @property
    def stopped(self) -> bool:
        """`patience` epochs have passed without a lower val_loss."""
        return self.wait >= self.patience

    def replay(self, history: list[dict[str, float]]) -> None:
        """Rebuild the counters from the epochs already trained (a resumed fit)."""
        for epoch, row in enumerate(history, start=1):
            self._observe(epoch, row["val_loss"])

    def _observe(self, epoch: int, val_loss: float) -> bool:
        """Count one epoch; True if it is the new best."""
        if val_loss < self.best_loss:
            self.best_loss, self.best_epoch, self.wait = val_loss, epoch, 0
        else:
            self.wait += 1
        if self.backup is not None:
            self.backup.keep_epoch = self.best_epoch or None
        return self.best_epoch == epoch

    def on_train_begin(self, logs: Any = None) -> None:
        # Runs before the backup's own restore, which then loads the latest epoch over these.
        if self.backup is None or self.best_epoch == 0:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(self.backup.weights_path(self.best_epoch))
        self._best_weights = self.model.get_weights()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        val_loss = float((logs or {}).get("val_loss", math.nan))
        if not math.isfinite(val_loss):
            return  # diverged: StopOnNonFiniteLoss and fit_model deal with it
        if self._observe(epoch + 1, val_loss):
            self._best_weights = self.model.get_weights()
        if self.stopped:
            self.model.stop_training = True

    def on_train_end(self, logs: Any = None) -> None:
        if self._best_weights is not None:
            self.model.set_weights(self._best_weights)


def fit_model(
    model: keras.Model,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    params: FitParams,
    callbacks: list[keras.callbacks.Callback] | None = None,
    backup: TrainingBackup | None = None,
) -> FitResult:
    """Fit for `params.epochs`; with a `backup`, resume from its last epoch and back up each one.

    With `params.early_stopping_patience`, stop once val_loss has not improved for that many
    epochs and end with the best epoch's weights. The backup is left in place: the caller
    deletes it once the run's outputs are safe.
    """
    checkpoint, stopper = _resume_from_backup(params, backup)
    initial_epoch = checkpoint.epoch if checkpoint is not None else 0
    # Killed after the stopping epoch was backed up: no epoch left to train, only the restore.
    epochs_to = initial_epoch if stopper is not None and stopper.stopped else params.epochs
    # Only a decaying rate adds a callback: the constant one trains exactly as Keras does.
    decay = [EpochDecay(params.learning_rate, params.lr_decay)] if params.lr_decay != 1 else []
    average = [EndOnAverage()] if params.ema_momentum is not None else []
    start = time.perf_counter()
    history = model.fit(
        train[0],
        train[1],
        batch_size=params.batch_size,
        epochs=epochs_to,
        initial_epoch=initial_epoch,
        validation_data=val,
        # The timer goes first so later callbacks (tracking, the backup) see this epoch's time.
        # None of these may override a batch hook: Keras then dispatches batch ends to a
        # thread instead of waiting on each step's logs (tests/unit/stages/test_train.py).
        callbacks=[
            EpochTimer(),
            *average,
            StopOnNonFiniteLoss(),
            *decay,
            *(callbacks or []),
            *([stopper] if stopper is not None else []),
            *([backup] if backup is not None else []),
        ],
        verbose=2,
    )
    fit_seconds = time.perf_counter() - start
    n_epochs = len(history.history.get("loss", []))
    epochs = [{k: float(v[i]) for k, v in history.history.items()} for i in range(n_epochs)]
    epochs = (checkpoint.history if checkpoint is not None else []) + epochs
    # A non-finite loss stops training early too; either sign means the weights are useless.
    stopped_early = stopper is not None and stopper.stopped
    if (len(epochs) < params.epochs and not stopped_early) or not all(
        math.isfinite(e["loss"]) for e in epochs
    ):
        raise TrainingDivergedError(
            "training loss became NaN/inf; lower train.fit.learning_rate or check the data"
        )
    model_epoch = (stopper.best_epoch if stopper is not None else 0) or len(epochs)
    log.info("fit: %d epochs in %.1f s; model from epoch %d", n_epochs, fit_seconds, model_epoch)
    return FitResult(epochs, fit_seconds, initial_epoch, model_epoch)


def _resume_from_backup(
    params: FitParams, backup: TrainingBackup | None
) -> tuple[Checkpoint | None, BestEpoch | None]:
    """The backup's latest epoch, if any, and the early stopper with its epochs replayed.

    Both are set to restore when the fit begins: the backup its weights and random state,
    the stopper its counters and the best epoch's weights.
    """
    checkpoint = backup.latest() if backup is not None else None
    stopper = None
    if params.early_stopping_patience is not None:
        stopper = BestEpoch(params.early_stopping_patience, backup)
        stopper.replay(checkpoint.history if checkpoint is not None else [])
    if backup is not None:
        backup.resume_from(checkpoint)
        if checkpoint is not None:
            log.info(
                "resuming at epoch %d of %d from %s",
                checkpoint.epoch + 1,
                params.epochs,
                backup.directory,
            )
    return checkpoint, stopper
