"""A generic Keras fit that survives a crash: nothing here knows about reviews or MLflow."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from imdb_sentiment.config import FitParams
from imdb_sentiment.errors import PipelineError

log = logging.getLogger(__name__)

_WEIGHTS = "model.weights.h5"  # Keras insists on the suffix
_STATE = "state.json"
_LOCK_WAIT_SECONDS = 2.0


class TrainingDivergedError(PipelineError):
    """The loss became NaN or infinite; the weights are useless."""


class BackupBusyError(PipelineError):
    """Another live process is training into the same backup directory."""


@dataclass(frozen=True)
class FitResult:
    history: list[dict[str, float]]  # one entry per epoch: loss, accuracy, val_*, epoch_seconds
    fit_seconds: float  # this attempt's fit, compilation included
    initial_epoch: int  # epochs restored from a backup (0: trained from scratch)
    model_epoch: int  # the epoch (1-based) whose weights the model ends with

    @property
    def model_row(self) -> dict[str, float]:
        """The history row of the epoch whose weights the model kept."""
        return self.history[self.model_epoch - 1]


@dataclass(frozen=True)
class Checkpoint:
    epoch: int  # epochs completed
    history: list[dict[str, float]]  # their logs, as FitResult.history
    path: Path


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


class TrainingBackup(keras.callbacks.Callback):
    """Backs up the whole training state after each epoch; a new fit resumes from it.

    `keras.callbacks.BackupAndRestore` keeps the weights, the optimizer and the epoch. A fit
    resumed from those alone draws other random numbers than the interrupted one would have:
    the seed generators of Dropout (their state is not in the weights file) restart from
    their initial state. This backup adds them, NumPy's and Python's global generators (JAX
    shuffles with NumPy's) and the logs of the epochs done, so a resumed fit continues
    exactly where the other stopped. Each epoch is written to a temporary folder and renamed:
    a kill while saving leaves the previous epoch's state whole.

    The directory must belong to one model, compiled and fed the same way; callers key it by
    everything that shapes the run, and hold `lock()` while they use it.
    """

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory
        self.lock_path = directory.with_name(f"{directory.name}.lock")
        self._restore: Checkpoint | None = None
        self._history: list[dict[str, float]] = []
        # An epoch whose folder outlives newer ones: early stopping's best weights.
        self.keep_epoch: int | None = None

    def epoch_path(self, epoch: int) -> Path:
        return self.directory / f"epoch-{epoch:05d}"

    def latest(self) -> Checkpoint | None:
        """The newest complete epoch backed up, if any."""
        saved = sorted(self.directory.glob("epoch-*/" + _STATE))
        if not saved:
            return None
        path = saved[-1].parent
        state = json.loads(saved[-1].read_text(encoding="utf-8"))
        return Checkpoint(state["epoch"], state["history"], path)

    def resume_from(self, checkpoint: Checkpoint | None) -> None:
        """Restore `checkpoint` when the fit begins (Keras has built the model by then)."""
        self._restore = checkpoint
        self._history = list(checkpoint.history) if checkpoint else []

    def on_train_begin(self, logs: Any = None) -> None:
        if self._restore is None:
            return
        checkpoint = self._restore
        try:
            if self.model.optimizer is not None and not self.model.optimizer.built:
                self.model.optimizer.build(self.model.trainable_variables)
            self.model.load_weights(checkpoint.path / _WEIGHTS)
            state = json.loads((checkpoint.path / _STATE).read_text(encoding="utf-8"))
            _set_rng_state(self.model, state["rng"])
        except (OSError, ValueError, KeyError) as exc:
            raise PipelineError(
                f"cannot resume from {checkpoint.path} ({exc}); delete {self.directory} "
                "to train from scratch"
            ) from exc

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        row = {k: float(v) for k, v in (logs or {}).items()}
        if not math.isfinite(row.get("loss", math.nan)):
            return  # diverged: nothing worth resuming from
        self._history.append(row)
        state = {"epoch": epoch + 1, "history": self._history, "rng": _get_rng_state(self.model)}
        final = self.epoch_path(epoch + 1)
        tmp = self.directory / f".epoch-{epoch + 1:05d}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self.model.save_weights(tmp / _WEIGHTS)
        (tmp / _STATE).write_text(json.dumps(state), encoding="utf-8")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        keep = {final} | ({self.epoch_path(self.keep_epoch)} if self.keep_epoch else set())
        for older in self.directory.glob("epoch-*"):
            if older not in keep:
                shutil.rmtree(older, ignore_errors=True)

    def delete(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the directory for this process; BackupBusyError if a live one holds it.

        An flock: the kernel drops it when its holder dies, SIGKILL included, so a crashed
        run never leaves a stale lock behind.
        """
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = _acquire(self.lock_path)
        try:
            yield
        finally:
            self.lock_path.unlink(missing_ok=True)
            os.close(fd)


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
        self.model.load_weights(self.backup.epoch_path(self.best_epoch) / _WEIGHTS)
        self._best_weights = self.model.get_weights()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        val_loss = float((logs or {}).get("val_loss", math.nan))
        if not math.isfinite(val_loss):
            return  # TerminateOnNaN or the divergence check deals with it
        if self._observe(epoch + 1, val_loss):
            self._best_weights = self.model.get_weights()
        if self.stopped:
            self.model.stop_training = True

    def on_train_end(self, logs: Any = None) -> None:
        if self._best_weights is not None:
            self.model.set_weights(self._best_weights)


def lock_is_free(path: Path) -> bool:
    """True if no live process holds the TrainingBackup lock at `path`."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # releases the probe's lock, if it got one
    return True


def _acquire(path: Path) -> int:
    deadline = time.monotonic() + _LOCK_WAIT_SECONDS  # rides out another process's probe
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() > deadline:
                raise BackupBusyError(
                    f"another process is training with the same params and data ({path}); "
                    "wait for it or stop it"
                ) from None
            time.sleep(0.1)
            continue
        # The previous holder unlinks the file on release: ours may be gone or replaced.
        with contextlib.suppress(FileNotFoundError):
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                return fd
        os.close(fd)


def _rng_variables(model: keras.Model) -> list[Any]:
    """Model state that save_weights leaves out: the seed generators' states."""
    saved = {id(v) for v in model.weights}
    return [v for v in model.non_trainable_variables if id(v) not in saved]


def _get_rng_state(model: keras.Model) -> dict[str, Any]:
    name, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)
    version, internal, gauss_next = random.getstate()
    return {
        "variables": [keras.ops.convert_to_numpy(v.value).tolist() for v in _rng_variables(model)],
        "numpy": [name, keys.tolist(), pos, has_gauss, gauss],
        "python": [version, list(internal), gauss_next],
    }


def _set_rng_state(model: keras.Model, state: dict[str, Any]) -> None:
    variables = _rng_variables(model)
    if len(variables) != len(state["variables"]):
        raise ValueError(
            f"{len(state['variables'])} random generators saved, the model has {len(variables)}"
        )
    for variable, value in zip(variables, state["variables"], strict=True):
        variable.assign(np.asarray(value, dtype=variable.dtype))
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


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
    checkpoint = backup.latest() if backup is not None else None
    initial_epoch = checkpoint.epoch if checkpoint is not None else 0
    stopper = None
    if params.early_stopping_patience is not None:
        stopper = BestEpoch(params.early_stopping_patience, backup)
        stopper.replay(checkpoint.history if checkpoint is not None else [])
    if backup is not None:
        backup.resume_from(checkpoint)
        if checkpoint is not None:
            log.info(
                "resuming at epoch %d of %d from %s",
                initial_epoch + 1,
                params.epochs,
                backup.directory,
            )
    # Killed after the stopping epoch was backed up: no epoch left to train, only the restore.
    epochs_to = initial_epoch if stopper is not None and stopper.stopped else params.epochs
    start = time.perf_counter()
    history = model.fit(
        train[0],
        train[1],
        batch_size=params.batch_size,
        epochs=epochs_to,
        initial_epoch=initial_epoch,
        validation_data=val,
        # The timer goes first so later callbacks (tracking, the backup) see this epoch's time.
        callbacks=[
            EpochTimer(),
            keras.callbacks.TerminateOnNaN(),
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
    # TerminateOnNaN stops early too; either sign means the weights must not be saved.
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
