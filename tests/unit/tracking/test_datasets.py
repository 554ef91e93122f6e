"""Splits as MLflow datasets and metrics tied to a dataset and a model, on a real sqlite store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from imdb_sentiment.errors import PipelineError
from imdb_sentiment.tracking.datasets import (
    DatasetRef,
    log_linked_metrics,
    log_split_datasets,
    model_id_of,
)
from imdb_sentiment.tracking.lineage import file_md5
from imdb_sentiment.tracking.store import TrackingStore, connect, tracked_run


@pytest.fixture
def store(tmp_path: Path) -> TrackingStore:
    return connect(f"sqlite:///{tmp_path / 'mlflow.db'}", cwd=tmp_path)


def write_split(path: Path, rows: int, maxlen: int = 6) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    x = np.arange(rows * maxlen, dtype=np.int32).reshape(rows, maxlen) % 17
    np.savez(path, x=x, y=np.arange(rows) % 2, review_id=np.arange(rows))
    return path


def test_each_split_is_an_input_with_the_dvc_md5_path_rows_schema_and_context(
    store: TrackingStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the stages name their files relative to the repository
    paths = {"train": Path("data/prepared/train.npz"), "val": Path("data/prepared/val.npz")}
    write_split(paths["train"], 10)
    write_split(paths["val"], 4)
    with tracked_run(store, {}) as run_id:
        refs = log_split_datasets(store, run_id, paths)
    assert refs == {name: DatasetRef(name, file_md5(path)) for name, path in paths.items()}
    inputs = store.client.get_run(run_id).inputs.dataset_inputs
    found = {i.dataset.name: i for i in inputs}
    assert set(found) == {"train", "val"}
    for name, rows, context in (("train", 10, "training"), ("val", 4, "validation")):
        dataset = found[name].dataset
        assert dataset.digest == file_md5(paths[name])
        assert dataset.source_type == "local"
        assert json.loads(dataset.source) == {"uri": f"data/prepared/{name}.npz"}
        profile = json.loads(dataset.profile)
        assert profile["num_rows"] == rows and profile["features_shape"] == [rows, 6]
        features = json.loads(json.loads(dataset.schema)["mlflow_tensorspec"]["features"])
        assert features[0]["tensor-spec"] == {"dtype": "int32", "shape": [-1, 6]}
        assert {(t.key, t.value) for t in found[name].tags} == {("mlflow.data.context", context)}


def test_linked_metrics_name_their_dataset_and_model(store: TrackingStore) -> None:
    with tracked_run(store, {}) as run_id:
        model = store.client.create_logged_model(store.experiment_id, source_run_id=run_id)
        test_set = DatasetRef("test", "0" * 32)
        log_linked_metrics(store, run_id, {"test_accuracy": 0.75}, test_set, model.model_id)
    assert store.client.get_run(run_id).data.metrics["test_accuracy"] == 0.75
    metrics = store.client.get_logged_model(model.model_id).metrics
    assert [(m.key, m.value, m.dataset_name, m.dataset_digest, m.run_id) for m in metrics] == [
        ("test_accuracy", 0.75, "test", "0" * 32, run_id)
    ]


def test_model_id_is_read_from_a_logged_models_uri_only() -> None:
    assert model_id_of("models:/m-0123abc") == "m-0123abc"
    for bad in ("runs:/abc/model", "models:/imdb-sentiment/3", "models:/"):
        with pytest.raises(PipelineError, match="models:/<model_id>"):
            model_id_of(bad)
