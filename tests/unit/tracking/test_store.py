"""The tracking contract on a real sqlite store in tmp_path: runs, params, metrics, tags, files."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import mlflow
import pytest

from imdb_sentiment.tracking.names import BACKUP_LOCK_TAG, BACKUP_STORE_TAG, EXPERIMENT
from imdb_sentiment.tracking.runs import epoch_logger, fail_dead_runs
from imdb_sentiment.tracking.store import (
    TrackingStore,
    TrackingStoreError,
    connect,
    find_store,
    fluent_uri,
    log_artifact,
    log_keras_model,
    log_metrics,
    log_params,
    reopened_run,
    run_experiment_id,
    server_request_options,
    set_tags,
    store_errors,
    system_metrics,
    tracked_run,
    tracking_uri,
)


@pytest.fixture
def store(tmp_path: Path) -> TrackingStore:
    return connect(f"sqlite:///{tmp_path / 'mlflow.db'}", cwd=tmp_path)


def test_tracking_uri_is_absolute_sqlite_unless_env_says_otherwise(tmp_path: Path) -> None:
    temp_copy = tmp_path / ".dvc" / "tmp" / "exps" / "tmpx"
    temp_copy.mkdir(parents=True)
    expected = f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    assert tracking_uri({}, cwd=temp_copy) == expected
    assert tracking_uri({}, cwd=tmp_path) == expected
    assert tracking_uri({"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"}) == "http://127.0.0.1:5000"


def test_connect_creates_the_experiment_once_and_finds_it_after(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert find_store(uri) is None
    first = connect(uri, cwd=tmp_path)
    assert first.client.get_experiment(first.experiment_id).name == EXPERIMENT
    again = find_store(uri)
    assert again is not None and again.experiment_id == first.experiment_id
    assert connect(uri).experiment_id == first.experiment_id
    assert len(first.client.search_experiments(filter_string=f"name = '{EXPERIMENT}'")) == 1


def test_sqlite_store_keeps_artifacts_beside_its_database(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    # Run from elsewhere (a test run from the repository, say): artifacts still go with the db.
    store = connect(f"sqlite:///{folder / 'mlflow.db'}", cwd=tmp_path / "elsewhere")
    experiment = store.client.get_experiment(store.experiment_id)
    assert experiment.artifact_location == (folder / "mlartifacts").as_uri()


def test_connect_leaves_mlflows_global_uri_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    before = mlflow.get_tracking_uri()
    store = connect(f"sqlite:///{tmp_path / 'mlflow.db'}", cwd=tmp_path)
    with tracked_run(store, {}) as run_id:
        log_metrics(store, run_id, {"m": 1.0})
    assert mlflow.get_tracking_uri() == before != store.uri


def test_tracked_run_finishes_with_its_tags_and_the_usual_source_tags(
    store: TrackingStore,
) -> None:
    with tracked_run(store, {"mlflow.runName": "my-run", "k": "v"}) as run_id:
        assert store.client.get_run(run_id).info.status == "RUNNING"
    run = store.client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "my-run"
    assert run.info.experiment_id == store.experiment_id
    assert run.data.tags["k"] == "v" and "mlflow.user" in run.data.tags


def test_tracked_run_is_marked_failed_when_the_block_raises(store: TrackingStore) -> None:
    with pytest.raises(RuntimeError, match="boom"), tracked_run(store, {}) as run_id:
        raise RuntimeError("boom")
    assert store.client.get_run(run_id).info.status == "FAILED"


def monitor_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "SystemMetricsMonitor"]


def test_system_metrics_sample_the_machine_into_the_run_and_stop_on_failure_too(
    store: TrackingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.1")
    with (
        pytest.raises(RuntimeError, match="boom"),
        tracked_run(store, {}) as run_id,
        system_metrics(store, run_id),
    ):
        assert len(monitor_threads()) == 1
        time.sleep(0.5)
        raise RuntimeError("boom")
    assert monitor_threads() == []  # stopped with the block, before the run was failed
    run = store.client.get_run(run_id)
    assert run.info.status == "FAILED"
    samples = store.client.get_metric_history(run_id, "system/cpu_utilization_percentage")
    assert len(samples) >= 2 and [m.step for m in samples] == list(range(len(samples)))
    assert run.data.metrics["system/system_memory_usage_megabytes"] > 0


def test_reopened_run_runs_again_then_ends_finished_or_failed(store: TrackingStore) -> None:
    with tracked_run(store, {}) as run_id:
        pass
    with reopened_run(store, run_id):
        assert store.client.get_run(run_id).info.status == "RUNNING"
    assert store.client.get_run(run_id).info.status == "FINISHED"
    with pytest.raises(ValueError), reopened_run(store, run_id):
        raise ValueError
    assert store.client.get_run(run_id).info.status == "FAILED"


def test_log_params_keeps_more_than_a_batch_as_strings_in_order(store: TrackingStore) -> None:
    params = {f"p{i:03d}": i for i in range(250)} | {"none": None, "flag": False}
    with tracked_run(store, {}) as run_id:
        log_params(store, run_id, params)
    logged = store.client.get_run(run_id).data.params
    assert logged == {key: str(value) for key, value in params.items()}
    assert logged["none"] == "None" and len(logged) == 252


def test_urls_in_params_and_tags_are_logged_without_credentials(store: TrackingStore) -> None:
    secret = "https://ci:s3cret@mirror.example.invalid/imdb.tar.gz?sig=abc&v=1"
    shown = "https://***@mirror.example.invalid/imdb.tar.gz?sig=***&v=1"
    with tracked_run(store, {"mlflow.source.git.repoURL": secret}) as run_id:
        log_params(store, run_id, {"download.url": secret, "plain": "models:/m-1"})
        set_tags(store, run_id, {"source": f"read from {secret}"})
    run = store.client.get_run(run_id).data
    assert run.params == {"download.url": shown, "plain": "models:/m-1"}
    assert run.tags["mlflow.source.git.repoURL"] == shown
    assert run.tags["source"] == f"read from {shown}"


def test_log_metrics_and_tags_land_on_the_run_at_their_step(store: TrackingStore) -> None:
    with tracked_run(store, {}) as run_id:
        log_metrics(store, run_id, {"a": 1, "b": 0.5})
        log_metrics(store, run_id, {"a": 2.0}, step=3)
        set_tags(store, run_id, {f"t{i}": str(i) for i in range(150)})
    history = store.client.get_metric_history(run_id, "a")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (3, 2.0)]
    run = store.client.get_run(run_id)
    assert run.data.metrics["b"] == 0.5 and run.data.tags["t149"] == "149"


def test_log_artifact_takes_a_file_or_a_directorys_contents(
    store: TrackingStore, tmp_path: Path
) -> None:
    (tmp_path / "report.json").write_text("{}")
    (tmp_path / "docs" / "sub").mkdir(parents=True)
    (tmp_path / "docs" / "sub" / "index.html").write_text("<p>")
    with tracked_run(store, {}) as run_id:
        log_artifact(store, run_id, tmp_path / "report.json", "validation")
        log_artifact(store, run_id, tmp_path / "docs", "validation/docs")
    listed = {a.path for a in store.client.list_artifacts(run_id, "validation")}
    assert listed == {"validation/report.json", "validation/docs"}
    nested = store.client.list_artifacts(run_id, "validation/docs/sub")
    assert [a.path for a in nested] == ["validation/docs/sub/index.html"]


def test_epoch_logger_logs_each_epoch_at_step_epoch_plus_one(store: TrackingStore) -> None:
    with tracked_run(store, {}) as run_id:
        callback = epoch_logger(store, run_id)
        callback.on_epoch_end(0, {"loss": 0.7, "val_accuracy": 0.5})
        callback.on_epoch_end(1, {"loss": 0.4, "val_accuracy": 0.75})
    history = store.client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(1, 0.7), (2, 0.4)]


def test_fail_dead_runs_marks_only_dead_running_runs_of_this_store(store: TrackingStore) -> None:
    client = store.client

    def run(backup_store: str, lock: str, finished: bool = False) -> str:
        tags = {BACKUP_STORE_TAG: backup_store, BACKUP_LOCK_TAG: lock}
        run_id = client.create_run(store.experiment_id, tags=tags).info.run_id
        if finished:
            client.set_terminated(run_id)
        return run_id

    dead, alive = run("here", "/dead.lock"), run("here", "/alive.lock")
    done, other_store = run("here", "/dead.lock", finished=True), run("there", "/dead.lock")
    marked = fail_dead_runs(store, "here", lambda lock: lock == "/dead.lock")
    assert [r.info.run_id for r in marked] == [dead]
    status = {run_id: client.get_run(run_id).info.status for run_id in (dead, alive, done)}
    assert status == {dead: "FAILED", alive: "RUNNING", done: "FINISHED"}
    assert client.get_run(other_store).info.status == "RUNNING"
    # Already FAILED runs are not touched again.
    again = fail_dead_runs(store, "here", lambda lock: True)
    assert [r.info.run_id for r in again] == [alive]


def test_run_experiment_id_finds_the_run_and_refuses_an_unknown_one(store: TrackingStore) -> None:
    with tracked_run(store, {}) as run_id:
        pass
    assert run_experiment_id(store.uri, run_id) == store.experiment_id
    with pytest.raises(TrackingStoreError, match="0" * 32):
        run_experiment_id(store.uri, "0" * 32)


def test_store_errors_turn_mlflow_refusals_into_one_line_errors(store: TrackingStore) -> None:
    with pytest.raises(TrackingStoreError) as caught, store_errors():
        store.client.get_run("no-such-run")
    assert "\n" not in str(caught.value)


def test_fluent_uri_points_mlflow_at_the_store_for_the_block_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = f"sqlite:///{tmp_path / 'other.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", elsewhere)
    with fluent_uri("sqlite:///x.db"):
        assert mlflow.get_tracking_uri() == "sqlite:///x.db"
    assert mlflow.get_tracking_uri() == elsewhere == os.environ["MLFLOW_TRACKING_URI"]
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    with pytest.raises(KeyError), fluent_uri("sqlite:///x.db"):
        raise KeyError
    assert "MLFLOW_TRACKING_URI" not in os.environ


def test_server_request_options_carry_mlflows_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_INSECURE_TLS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ann")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "secret")
    options = server_request_options("http://127.0.0.1:5000")
    assert options["auth"] == ("ann", "secret") and "headers" not in options
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok")
    assert server_request_options("http://127.0.0.1:5000")["headers"] == {
        "Authorization": "Bearer tok"
    }


def test_log_keras_model_logs_into_the_run_and_its_experiment(store: TrackingStore) -> None:
    import keras
    import numpy as np

    inputs = keras.Input((3,), dtype="int32")
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    sample = np.zeros((4, 3), dtype=np.int32)
    with tracked_run(store, {}) as run_id:
        model_uri = log_keras_model(store, run_id, model, sample, ["keras"])
    assert store.client.get_run(run_id).info.status == "FINISHED"
    logged = store.client.get_logged_model(model_uri.removeprefix("models:/"))
    assert (logged.source_run_id, logged.experiment_id) == (run_id, store.experiment_id)
    with fluent_uri(store.uri):
        info = mlflow.models.get_model_info(model_uri)
    assert info.signature.inputs.to_dict()[0]["tensor-spec"]["shape"] == (-1, 3)
    assert info.signature.outputs.to_dict()[0]["tensor-spec"]["shape"] == (-1, 1)
