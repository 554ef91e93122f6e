"""Crash-safe training state: each epoch backed up whole, resumed exactly, under a lock."""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import random
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from imdb_sentiment.checkout import project_root
from imdb_sentiment.errors import PipelineError

_WEIGHTS = "model.weights.h5"  # Keras insists on the suffix


_STATE = "state.json"


_LOCK_WAIT_SECONDS = 2.0


class BackupBusyError(PipelineError):
    """Another live process is training into the same backup directory."""


@dataclass(frozen=True)
class Checkpoint:
    epoch: int  # epochs completed
    history: list[dict[str, float]]  # their logs, as FitResult.history
    path: Path


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

    def weights_path(self, epoch: int) -> Path:
        return self.epoch_path(epoch) / _WEIGHTS

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


# Training backups: DVC's scratch space, never an output, and shared by its temp copies.
_BACKUPS = os.path.join(".dvc", "tmp", "train-backups")


_STORE_ID = "store-id"


def backup_root(cwd: Path | None = None) -> Path:
    """Where training backups live: outside DVC's outputs, at the user's checkout."""
    return project_root(cwd) / _BACKUPS


def backup_store_id(root: Path) -> str:
    """A random id naming the backup folder `root`, created on first use.

    Runs tagged with it used lock files in this very folder (not one at the same path on
    another machine), so only their locks say whether their process is still alive.
    """
    path = root / _STORE_ID
    if not path.is_file():
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".{_STORE_ID}.{uuid.uuid4().hex}"
        tmp.write_text(uuid.uuid4().hex, encoding="utf-8")
        try:
            os.link(tmp, path)  # fails if another process made it first: theirs wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text(encoding="utf-8").strip()
