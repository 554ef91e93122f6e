"""The train stage's steps, each on a tiny prepared folder and a real sqlite store in tmp_path."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import mlflow
import numpy as np
import pytest

from imdb_sentiment.config import ConfigError
from imdb_sentiment.data.prepared import PreparedDataError, read_meta
from imdb_sentiment.data.source import Source
from imdb_sentiment.modeling.checkpoint import BackupBusyError, TrainingBackup, backup_root
from imdb_sentiment.modeling.distribution import Replicas, start_replicas
from imdb_sentiment.modeling.fit import FitResult, TrainingDivergedError, fit_model
from imdb_sentiment.modeling.model import build_model, compile_model
from imdb_sentiment.stages.train import (
    TrainingSetup,
    TrainOutcome,
    build_compiled_model,
    fit_and_log,
    history_rows,
    load_training_data,
    log_training_inputs,
    run_record,
    save_and_log_model,
    set_up_training,
    train_and_log,
    train_summary,
    training_tags,
)
from imdb_sentiment.stages.train_resume import ResumePoint, open_backup
from imdb_sentiment.tracking.store import TrackingStore, fluent_uri, tracked_run
from imdb_sentiment.typed_mapping import flatten_dataclass
from tests.unit.stages.training_inputs import ROWS, tiny_pipeline_params, write_prepared_folder


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout in tmp_path: backups go under its .dvc/tmp, git finds no commit."""
    monkeypatch.chdir(tmp_path)
    write_prepared_folder(tmp_path / "prepared")
    return tmp_path


def setup_for(ws: Path, **fit: object) -> TrainingSetup:
    return set_up_training(tiny_pipeline_params(ws, **fit), ws / "prepared")


def weights_equal(a: keras.Model, b: keras.Model) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights(), strict=True))


def metric_steps(store: TrackingStore, run_id: str, name: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in store.client.get_metric_history(run_id, name))


def test_load_training_data_reads_the_train_and_val_splits(workspace: Path) -> None:
    prepared = workspace / "prepared"
    data = load_training_data(prepared, read_meta(prepared), start_replicas("none"))
    assert data.train[0].shape == (ROWS["train"], 24) and data.train[0].dtype == np.int32
    assert data.val[1].shape == (ROWS["val"],) and data.val[1].dtype == np.int8
    assert data.meta["counts"] == ROWS
    assert data.inputs == {"train": prepared / "train.npz", "val": prepared / "val.npz"}
    assert data.files == {**data.inputs, "meta": prepared / "meta.json"}
    # On a JAX mesh of 3 devices each batch must split evenly: 40 rows become 39.
    jax_mesh = Replicas("mirrored", "jax", 3, 1, 0, None)
    assert len(load_training_data(prepared, data.meta, jax_mesh).train[0]) == 39


def test_load_training_data_names_a_split_it_cannot_read(workspace: Path) -> None:
    prepared = workspace / "prepared"
    (prepared / "val.npz").write_bytes(b"not an npz")
    with pytest.raises(PreparedDataError, match=r"val\.npz is not a readable \.npz"):
        load_training_data(prepared, read_meta(prepared), start_replicas("none"))


def test_build_compiled_model_seeds_right_before_building(workspace: Path) -> None:
    cfg = tiny_pipeline_params(workspace).train
    meta = read_meta(workspace / "prepared")
    model = build_compiled_model(cfg, meta, start_replicas("none"), seed=42)
    keras.utils.set_random_seed(42)
    by_hand = build_model(cfg.model, 20, 24)
    compile_model(by_hand, cfg.fit, cfg.runtime)
    assert weights_equal(model, by_hand)
    assert model.optimizer.learning_rate.numpy() == pytest.approx(cfg.fit.learning_rate)
    other = build_compiled_model(cfg, meta, start_replicas("none"), seed=43)
    assert not weights_equal(model, other)


def test_build_compiled_model_refuses_a_too_short_maxlen(workspace: Path) -> None:
    cfg = tiny_pipeline_params(workspace).train
    meta = {**read_meta(workspace / "prepared"), "maxlen": 5}
    with pytest.raises(ConfigError, match=r"prepare\.maxlen=5 is too short"):
        build_compiled_model(cfg, meta, start_replicas("none"), seed=42)


def test_set_up_training_builds_the_seeded_model_for_the_prepared_shapes(workspace: Path) -> None:
    setup = setup_for(workspace)
    assert setup.model.input_shape == (None, 24) and setup.fit == setup.params.train.fit
    assert keras.mixed_precision.global_policy().name == "float32"
    seeded = build_compiled_model(setup.params.train, setup.data.meta, setup.replicas, 42)
    assert weights_equal(setup.model, seeded)


def test_train_seed_reseeds_the_model_but_not_the_data(
    workspace: Path, store: TrackingStore
) -> None:
    default = setup_for(workspace)
    params = dataclasses.replace(
        default.params, train=dataclasses.replace(default.params.train, seed=7)
    )
    seven = set_up_training(params, workspace / "prepared")
    # Same prepared rows (prepare's base.seed), other initial weights: those of seed 7.
    assert all(
        np.array_equal(a, b) for a, b in zip(seven.data.train, default.data.train, strict=True)
    )
    assert not weights_equal(seven.model, default.model)
    by_seed = build_compiled_model(params.train, seven.data.meta, seven.replicas, 7)
    assert weights_equal(seven.model, by_seed)
    with tracked_run(store, {}) as run_id:
        log_training_inputs(store, run_id, seven, [])
    logged = store.client.get_run(run_id).data.params
    assert (logged["train.seed"], logged["base.seed"]) == ("7", str(params.base.seed))


def test_training_tags_describe_the_data_backend_worker_and_resume(workspace: Path) -> None:
    setup = setup_for(workspace)
    fresh = ResumePoint("k" * 20, "store", "/b/k.lock", 0, [])
    tags = training_tags(setup, fresh)
    assert set(tags) >= {"data.md5.train", "data.md5.val", "mlflow.runName"}
    assert tags["keras.backend"] == "tensorflow" and tags["distribution.worker_index"] == "0"
    assert {"keras.version", "keras.backend_version", "keras.devices"} <= set(tags)
    assert tags["mlflow.note.content"].startswith("Trained on 40 reviews, validated after")
    assert tags["train.backup_key"] == "k" * 20 and tags["train.initial_epoch"] == "0"
    assert "train.resumes_runs" not in tags
    resumed = training_tags(setup, dataclasses.replace(fresh, initial_epoch=1, crashed_runs=["a"]))
    assert (resumed["train.initial_epoch"], resumed["train.resumes_runs"]) == ("1", "a")


def test_log_training_inputs_logs_every_param_file_and_report(
    workspace: Path, store: TrackingStore
) -> None:
    setup = setup_for(workspace)
    docs = workspace / "docs"
    docs.mkdir()
    (docs / "index.html").write_text("<html/>")
    report = workspace / "validation.json"
    report.write_text("{}")
    with tracked_run(store, {}) as run_id:
        log_training_inputs(store, run_id, setup, [report, docs])
    params = store.client.get_run(run_id).data.params
    expected = {k: str(v) for k, v in flatten_dataclass(setup.params).items()}
    # train.seed: null in params.yaml, logged as the seed training drew from (base.seed).
    assert setup.params.train.seed is None
    expected["train.seed"] = str(setup.params.base.seed)
    assert {k: v for k, v in params.items() if k in expected} == expected
    assert params["train.fit.learning_rate"] == "0.01"
    assert params["prepare.max_reviews_per_split"] == "None"
    data = {k: v for k, v in params.items() if k.startswith(("data.", "distribution."))}
    assert data == {
        "data.vocab_size": "20",
        "data.n_train": "40",
        "data.n_val": "16",
        "data.n_test": "16",
        "distribution.replicas": "1",
        "distribution.workers": "1",
    }
    assert len(params) == len(expected) + len(data)
    listed = {
        a.path
        for folder in ("data", "validation")
        for a in store.client.list_artifacts(run_id, folder)
    }
    assert listed == {
        "data/vocab.json",
        "data/meta.json",
        "validation/validation.json",
        "validation/docs",
    }


def crash_after_epoch_1(setup: TrainingSetup, backup: TrainingBackup) -> None:
    class Crash(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: object = None) -> None:
            if epoch == 1:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit_model(setup.model, setup.data.train, setup.data.val, setup.fit, [Crash()], backup)


def test_fit_and_log_logs_restored_and_new_epochs_and_the_kept_ones_figures(
    workspace: Path, store: TrackingStore
) -> None:
    backup = TrainingBackup(workspace / "backup")
    crash_after_epoch_1(setup_for(workspace), backup)
    with tracked_run(store, {}) as run_id:
        result = fit_and_log(store, run_id, setup_for(workspace), backup)
    assert result.initial_epoch == 1 and len(result.history) == 2
    # Epoch 1 came from the backup, epoch 2 from the fit: this run shows both.
    assert metric_steps(store, run_id, "loss") == [
        (1, result.history[0]["loss"]),
        (2, result.history[1]["loss"]),
    ]
    metrics = store.client.get_run(run_id).data.metrics
    assert metrics["epochs_trained"] == 2 and metrics["model_epoch"] == 2
    assert metrics["model_val_loss"] == pytest.approx(result.history[1]["val_loss"])
    assert metric_steps(store, run_id, "fit_seconds") == [(0, pytest.approx(result.fit_seconds))]
    assert backup.latest() is not None  # the caller deletes it once the model is safe


def test_fit_and_log_deletes_the_backup_of_a_diverged_fit(
    workspace: Path, store: TrackingStore
) -> None:
    backup = TrainingBackup(workspace / "backup")
    with pytest.raises(TrainingDivergedError), tracked_run(store, {}) as run_id:
        fit_and_log(store, run_id, setup_for(workspace, learning_rate=1e30), backup)
    assert not backup.directory.exists()
    assert store.client.get_run(run_id).info.status == "FAILED"


BATCH_HOOKS = tuple(
    f"on_{kind}_{end}"
    for kind in ("batch", "train_batch", "test_batch", "predict_batch")
    for end in ("begin", "end")
)


def batch_hooks_overridden(callback: keras.callbacks.Callback) -> list[str]:
    """The batch-level hooks `callback`'s class overrides: each costs a host round trip a step."""
    own, base = type(callback), keras.callbacks.Callback
    return [hook for hook in BATCH_HOOKS if getattr(own, hook) is not getattr(base, hook)]


def test_batch_hook_check_catches_a_per_step_callback() -> None:
    # What the fit loop used before: it read every step's loss on the host.
    assert "on_batch_end" in batch_hooks_overridden(keras.callbacks.TerminateOnNaN())
    assert batch_hooks_overridden(keras.callbacks.Callback()) == []


def test_no_callback_of_the_train_stages_fit_overrides_a_batch_hook(
    workspace: Path, store: TrackingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each batch hook makes Keras wait for every step's logs, so the GPU cannot run ahead."""
    setup = setup_for(workspace, early_stopping_patience=1)
    passed: list[keras.callbacks.Callback] = []
    keras_fit = setup.model.fit

    def recording_fit(*args: object, **kwargs: object) -> object:
        passed.extend(kwargs["callbacks"])  # type: ignore[arg-type]
        return keras_fit(*args, **kwargs)

    monkeypatch.setattr(setup.model, "fit", recording_fit)
    with tracked_run(store, {}) as run_id:
        fit_and_log(store, run_id, setup, TrainingBackup(workspace / "backup"))
    names = {type(callback).__name__ for callback in passed}
    # Every kind the stage passes is there: the timer, the NaN check, tracking, the early
    # stopper and the backup.
    assert names >= {"EpochTimer", "StopOnNonFiniteLoss", "EpochMetrics", "BestEpoch"}
    assert any(isinstance(callback, TrainingBackup) for callback in passed)
    offenders = {type(cb).__name__: hooks for cb in passed if (hooks := batch_hooks_overridden(cb))}
    assert offenders == {}


def test_save_and_log_model_writes_the_keras_file_and_the_runs_model(
    workspace: Path, store: TrackingStore
) -> None:
    setup = setup_for(workspace)
    path = workspace / "models" / "model.keras"
    with tracked_run(store, {}) as run_id:
        uri = save_and_log_model(store, run_id, setup, path)
    assert weights_equal(keras.saving.load_model(path, compile=False), setup.model)
    with fluent_uri(store.uri):
        info = mlflow.models.get_model_info(uri)
    assert info.run_id == run_id and info.name == "model"
    assert [(t.type.name, t.shape) for t in info.signature.inputs.inputs] == [("int32", (-1, 24))]
    assert store.client.get_run(run_id).info.status == "FINISHED"


def result(model_epoch: int) -> FitResult:
    rows = [
        {"loss": 0.7 - e / 10, "accuracy": 0.5 + e / 10, "val_loss": 0.6, "val_accuracy": 0.6}
        for e in range(3)
    ]
    return FitResult(rows, fit_seconds=4.5, initial_epoch=0, model_epoch=model_epoch)


def test_summary_reports_the_kept_epoch_and_history_every_epoch() -> None:
    stopped = result(model_epoch=1)
    assert train_summary(stopped) == {
        "train_loss": 0.7,
        "train_accuracy": 0.5,
        "val_loss": 0.6,
        "val_accuracy": 0.6,
        "epochs": 3,
        "model_epoch": 1,
        "fit_seconds": 4.5,
    }
    assert train_summary(result(model_epoch=3))["train_loss"] == pytest.approx(0.5)
    assert [row["epoch"] for row in history_rows(stopped)] == [1, 2, 3]
    assert history_rows(stopped)[2]["loss"] == pytest.approx(0.5)


def test_train_and_log_ends_with_a_finished_run_a_model_and_no_backup(
    workspace: Path, store: TrackingStore
) -> None:
    setup = setup_for(workspace)
    outcome = train_and_log(setup, store, workspace / "model.keras", [])
    run = store.client.get_run(outcome.run_id)
    assert run.info.status == "FINISHED" and outcome.tracking_uri == store.uri
    assert run.data.tags["train.initial_epoch"] == "0"
    assert (
        run.data.tags["train.backup_key"]
        == open_backup(setup.params, setup.data.files, setup.replicas).directory.name
    )
    assert [row["epoch"] for row in outcome.history] == [1, 2]
    assert outcome.summary["epochs"] == 2 and (workspace / "model.keras").is_file()
    assert sorted(p.name for p in backup_root().iterdir()) == ["store-id"]
    json.dumps(outcome.summary)  # DVC reads it as JSON


def test_train_and_log_records_the_archive_download_really_read(
    workspace: Path, store: TrackingStore
) -> None:
    # IMDB_URL/IMDB_SHA256 override params.yaml: the run must say what was used, redacted.
    source = Source("https://mirror.test/aclImdb.tar.gz?token=***", "ab" * 32)
    outcome = train_and_log(setup_for(workspace), store, workspace / "model.keras", [], source)
    params = store.client.get_run(outcome.run_id).data.params
    assert params["download.effective_url"] == source.location
    assert params["download.effective_sha256"] == source.sha256
    without = train_and_log(setup_for(workspace), store, workspace / "model2.keras", [])
    assert "download.effective_url" not in store.client.get_run(without.run_id).data.params


def test_train_and_log_refuses_a_backup_another_process_holds(
    workspace: Path, store: TrackingStore
) -> None:
    setup = setup_for(workspace)
    runs_before = len(store.client.search_runs([store.experiment_id]))
    backup = open_backup(setup.params, setup.data.files, setup.replicas)
    with backup.lock(), pytest.raises(BackupBusyError, match="same params and data"):
        train_and_log(setup, store, workspace / "model.keras", [])
    assert len(store.client.search_runs([store.experiment_id])) == runs_before


def test_run_record_names_no_machine_path_and_no_credentials() -> None:
    default = "sqlite:////home/someone/imdb-sentiment/mlflow.db"
    here = TrainOutcome("r1", default, {}, [])
    assert run_record(here, "jax", default) == {"run_id": "r1", "backend": "jax"}
    server = TrainOutcome("r2", "https://ci:s3cret@mlflow.example.invalid/", {}, [])
    assert run_record(server, "tensorflow", default) == {
        "run_id": "r2",
        "backend": "tensorflow",
        "tracking_uri": "https://mlflow.example.invalid/",
    }
