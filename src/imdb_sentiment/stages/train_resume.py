"""Stage `train`'s crash recovery: which backup a run may resume, and the dead runs it continues.

A training run backs up each epoch (modeling/checkpoint.py) under a key naming everything
that shapes it; the next run with the same key resumes there, and first marks FAILED the
MLflow runs whose process died without ending them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
from dataclasses import dataclass
from pathlib import Path

import keras

from imdb_sentiment.config import PipelineParams, TrainParams
from imdb_sentiment.modeling.checkpoint import TrainingBackup, backup_root, lock_is_free
from imdb_sentiment.modeling.distribution import Replicas, check_workers_agree
from imdb_sentiment.tracking.lineage import file_md5
from imdb_sentiment.tracking.names import BACKUP_KEY_TAG, BACKUP_LOCK_TAG, BACKUP_STORE_TAG
from imdb_sentiment.tracking.runs import fail_dead_runs
from imdb_sentiment.tracking.store import TrackingStore

# The modules whose code decides the weights a given epoch ends with.
_TRAINING_CODE = (
    "modeling/model.py",
    "modeling/fit.py",
    "modeling/checkpoint.py",
    "modeling/distribution.py",
    "stages/train.py",
    "stages/train_fit.py",
)


@dataclass(frozen=True)
class ResumePoint:
    """Where a run starts: its backup's key and lock, the epochs in it, the runs it continues."""

    key: str
    store_id: str  # names the folder of backups (see `backup_store_id`)
    lock: str  # the backup's lock file: a later run tells by it whether this one died
    initial_epoch: int  # epochs restored from the backup; 0 trains from scratch
    crashed_runs: list[str]  # dead runs with the same key: this one restores their epochs

    def tags(self) -> dict[str, str]:
        crashed = ",".join(self.crashed_runs)
        return {
            BACKUP_KEY_TAG: self.key,
            BACKUP_STORE_TAG: self.store_id,
            BACKUP_LOCK_TAG: self.lock,
            "train.initial_epoch": str(self.initial_epoch),
            **({"train.resumes_runs": crashed} if crashed else {}),
        }


def backup_key(
    train: TrainParams, seed: int, data_files: dict[str, Path], replicas: Replicas
) -> str:
    """A digest of everything that shapes a training run, naming its backup directory.

    Only a run with the same `train` params, seed, data, training code, Keras and replicas
    may resume another's weights: a backup from any other would load (or fail to) into a
    different run. Every worker of a multi-worker run computes the same key.
    """
    package = Path(__file__).parents[1]
    identity = {
        "train": dataclasses.asdict(train),  # params.yaml's `train` section, nested as there
        "seed": seed,
        "data": {name: file_md5(path) for name, path in sorted(data_files.items())},
        "code": {name: file_md5(package / name) for name in _TRAINING_CODE},
        "keras": importlib.metadata.version("keras"),
        "backend": keras.backend.backend(),
        "replicas": [replicas.count, replicas.workers],
    }
    blob = json.dumps(identity, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def open_backup(
    params: PipelineParams, data_files: dict[str, Path], replicas: Replicas
) -> TrainingBackup:
    """The backup of runs identical to this one (see `backup_key`); lock it before use."""
    seed = params.train.effective_seed(params.base.seed)
    key = backup_key(params.train, seed, data_files, replicas)
    return TrainingBackup(backup_root() / key)


def find_resume_point(
    store: TrackingStore, backup: TrainingBackup, store_id: str, replicas: Replicas
) -> ResumePoint:
    """Fail the runs that died and find the epochs to resume from; hold `backup.lock()`."""
    key, own_lock = backup.directory.name, str(backup.lock_path)
    # We hold this key's lock, so a RUNNING run with it is dead; others are if theirs is free.
    dead = fail_dead_runs(
        store,
        store_id,
        lambda lock: lock == own_lock or (bool(lock) and lock_is_free(Path(lock))),
    )
    crashed = [r.info.run_id for r in dead if r.data.tags.get(BACKUP_KEY_TAG) == key]
    checkpoint = backup.latest()
    initial_epoch = checkpoint.epoch if checkpoint else 0
    # Each worker keeps its own backup; a worker resuming alone would wait on the others.
    check_workers_agree(
        replicas,
        {
            "the run (params, seed, data, code: backup key)": int(key[:7], 16),
            "the epochs backed up": initial_epoch,
        },
        f"give every worker the same commit and data, or delete {backup.directory} on "
        "each to train from scratch",
    )
    return ResumePoint(key, store_id, own_lock, initial_epoch, crashed)
