"""Which backup a training run may resume, and which dead runs it fails and continues."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from imdb_sentiment.config import load_params
from imdb_sentiment.modeling.checkpoint import TrainingBackup, backup_root
from imdb_sentiment.modeling.distribution import Replicas, start_replicas
from imdb_sentiment.stages.train_resume import (
    ResumePoint,
    backup_key,
    find_resume_point,
    open_backup,
)
from imdb_sentiment.tracking.names import BACKUP_KEY_TAG, BACKUP_LOCK_TAG, BACKUP_STORE_TAG
from imdb_sentiment.tracking.store import TrackingStore
from tests.unit.stages.training_inputs import tiny_pipeline_params, write_prepared_folder


@pytest.fixture
def data_files(tmp_path: Path) -> dict[str, Path]:
    prepared = write_prepared_folder(tmp_path / "prepared")
    return {"train": prepared / "train.npz", "val": prepared / "val.npz"}


def test_backup_key_changes_with_whatever_shapes_the_run(
    tmp_path: Path, data_files: dict[str, Path]
) -> None:
    train = tiny_pipeline_params(tmp_path).train
    one = start_replicas("none")
    key = backup_key(train, 42, data_files, one)
    assert len(key) == 20 and backup_key(train, 42, dict(data_files), one) == key
    slower = dataclasses.replace(train.fit, learning_rate=0.02)
    others = [
        backup_key(dataclasses.replace(train, fit=slower), 42, data_files, one),
        backup_key(train, 43, data_files, one),
        backup_key(train, 42, data_files, Replicas("mirrored", "tensorflow", 2, 1, 0, None)),
    ]
    data_files["val"].write_bytes(data_files["val"].read_bytes() + b"\0")
    others.append(backup_key(train, 42, data_files, one))
    assert key not in others and len(set(others)) == len(others)


def test_backup_key_reads_the_typed_train_section_as_the_file_has_it(tmp_path: Path) -> None:
    params = tiny_pipeline_params(tmp_path)
    raw = load_params(tmp_path / "params.yaml")["train"]
    assert dataclasses.asdict(params.train) == raw


def test_open_backup_names_the_folder_by_the_key_under_the_checkout(
    tmp_path: Path, data_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    params = tiny_pipeline_params(tmp_path)
    backup = open_backup(params, data_files, start_replicas("none"))
    key = backup_key(params.train, params.base.seed, data_files, start_replicas("none"))
    assert backup.directory == backup_root() / key
    assert not backup.directory.exists()  # nothing is written until an epoch ends


def test_resume_point_tags_name_the_crashed_runs_only_when_there_are_some() -> None:
    point = ResumePoint("key", "store", "/b/key.lock", 0, [])
    assert point.tags() == {
        BACKUP_KEY_TAG: "key",
        BACKUP_STORE_TAG: "store",
        BACKUP_LOCK_TAG: "/b/key.lock",
        "train.initial_epoch": "0",
    }
    resumed = dataclasses.replace(point, initial_epoch=2, crashed_runs=["a", "b"])
    assert resumed.tags()["train.resumes_runs"] == "a,b"


def running(store: TrackingStore, store_id: str, key: str, lock: str) -> str:
    """A run left RUNNING, as a killed process leaves it."""
    tags = {BACKUP_STORE_TAG: store_id, BACKUP_KEY_TAG: key, BACKUP_LOCK_TAG: lock}
    return store.client.create_run(store.experiment_id, tags=tags).info.run_id


def back_up_epochs(backup: TrainingBackup, epochs: int) -> None:
    state = backup.epoch_path(epochs) / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"epoch": epochs, "history": [], "rng": {}}))


def test_find_resume_point_fails_dead_runs_and_continues_those_with_its_key(
    tmp_path: Path, store: TrackingStore
) -> None:
    mine, theirs, busy_key = "a" * 20, "b" * 20, "c" * 20  # keys are hex digests
    backup = TrainingBackup(tmp_path / mine)
    busy = TrainingBackup(tmp_path / busy_key)
    back_up_epochs(backup, 2)
    own_lock = str(backup.lock_path)
    crashed = running(store, "here", mine, own_lock)
    other_key_dead = running(store, "here", theirs, str(tmp_path / "gone.lock"))
    alive = running(store, "here", busy_key, str(busy.lock_path))
    elsewhere = running(store, "another store", mine, own_lock)
    with busy.lock(), backup.lock():
        point = find_resume_point(store, backup, "here", start_replicas("none"))
    assert point == ResumePoint(mine, "here", own_lock, 2, [crashed])
    status = {run: store.client.get_run(run).info.status for run in (crashed, other_key_dead)}
    assert status == {crashed: "FAILED", other_key_dead: "FAILED"}
    assert store.client.get_run(alive).info.status == "RUNNING"  # its process holds its lock
    assert store.client.get_run(elsewhere).info.status == "RUNNING"  # locks of another folder


def test_find_resume_point_starts_from_scratch_without_a_backup(
    tmp_path: Path, store: TrackingStore
) -> None:
    backup = TrainingBackup(tmp_path / ("f" * 20))
    with backup.lock():
        point = find_resume_point(store, backup, "quiet store", start_replicas("none"))
    assert (point.initial_epoch, point.crashed_runs) == (0, [])
