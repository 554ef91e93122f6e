"""Each stage's `main`, run in order on a tiny archive, with MLflow in tmp_path."""

from __future__ import annotations

import json
import shutil
import weakref
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from imdb_sentiment.tracking.lineage import file_md5
from pipeline import prepare
from tests.conftest import PER_LABEL
from tests.pipeline.stages import (
    argv,
    run_download,
    run_evaluate,
    run_train,
    run_validate,
)


def test_download_writes_the_same_table_from_either_layout(
    archives: dict, params_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = []
    for layout in ("labeled", "full"):
        path, sha = archives[layout]
        monkeypatch.setenv("IMDB_URL", path.as_uri() if layout == "full" else str(path))
        monkeypatch.setenv("IMDB_SHA256", sha)
        out = tmp_path / layout / "reviews.parquet"
        assert run_download(params_file, out) == 0
        tables.append(out.read_bytes())
    assert tables[0] == tables[1]
    assert len(pd.read_parquet(out)) == 4 * PER_LABEL


def test_wrong_checksum_fails_in_one_line_and_writes_nothing(
    mirror: Path,
    params_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("IMDB_SHA256", "0" * 64)
    out = tmp_path / "data" / "raw" / "reviews.parquet"
    assert run_download(params_file, out) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "sha256 mismatch" in err[0] and "IMDB_SHA256" in err[0]
    assert not (tmp_path / "data").exists()


def test_corrupt_archive_with_matching_checksum_writes_nothing(
    params_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import hashlib

    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"\x1f\x8b" + b"not really gzip" * 10)
    monkeypatch.setenv("IMDB_URL", str(bogus))
    monkeypatch.setenv("IMDB_SHA256", hashlib.sha256(bogus.read_bytes()).hexdigest())
    out = tmp_path / "raw" / "reviews.parquet"
    assert run_download(params_file, out) == 1
    assert "not a readable tar.gz" in capsys.readouterr().err
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_prepare_writes_arrays_vocab_and_meta(workspace: dict[str, Path]) -> None:
    meta = json.loads((workspace["prepared"] / "meta.json").read_text())
    assert meta["counts"] == {"train": 36, "val": 12, "test": 48}
    assert meta["maxlen"] == 24 and meta["max_features"] == 20
    vocab = json.loads((workspace["prepared"] / "vocab.json").read_text())
    assert vocab["<pad>"] == 0 and vocab["<start>"] == 1 and vocab["<oov>"] == 2
    assert max(vocab.values()) == 19 and "br" not in vocab
    assert meta["oov_rate"]["train"] > 0  # 27 distinct words, 17 slots
    with np.load(workspace["prepared"] / "train.npz") as npz:
        assert npz["x"].shape == (36, 24) and npz["x"].max() < 20
        assert np.bincount(npz["y"]).tolist() == [18, 18]


def test_validate_passes_good_data_and_stops_bad_data(
    workspace: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_validate(workspace) == 0
    report = json.loads(workspace["validation"].read_text())
    assert report["success"] is True
    assert set(report["suites"]) == {"raw_reviews", "sequences"}
    assert (workspace["docs"] / "index.html").is_file()
    drift = json.loads(workspace["drift"].read_text())
    assert 0 <= drift["js_tokens"] <= 1 and 0 <= drift["js_lengths"] <= 1
    assert drift["cross_split_duplicates"] == 0
    for key in ("oov_rate", "pad_fraction", "positive_share"):
        assert set(drift[key]) == {"train", "val", "test"}, key
    assert drift["positive_share"]["test"] == 0.5
    moved = json.loads(workspace["drift_tokens"].read_text())
    assert moved and {"token", "train_frequency", "test_frequency"} <= set(moved[0])

    reviews = pd.read_parquet(workspace["reviews"])
    reviews.loc[0, "rating"] = 10  # a negative review with ten stars
    reviews.to_parquet(workspace["reviews"])
    reports = ("validation", "drift", "drift_tokens", "docs")
    shutil.rmtree(workspace["docs"])
    for name in reports[:-1]:
        workspace[name].unlink()
    assert run_validate(workspace) == 1
    err = capsys.readouterr().err
    assert "check(s) failed" in err and "rating" in err
    assert json.loads(workspace["validation"].read_text())["success"] is False
    # The reports that explain the failure are written all the same.
    assert all(workspace[name].exists() for name in reports)
    assert (workspace["docs"] / "index.html").is_file()
    # train refuses to start on data that failed validation.
    assert run_train(workspace) == 1
    assert not workspace["model"].exists()


def test_validate_fails_on_drift_above_its_threshold_and_still_reports_it(
    workspace: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    params = yaml.safe_load(workspace["params"].read_text())
    params["validate"]["max_js_tokens"] = 0.001  # the tiny splits differ by more than this
    workspace["params"].write_text(yaml.safe_dump(params))
    assert run_validate(workspace) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "js_tokens" in errors[0] and "max_js_tokens" in errors[0]
    report = json.loads(workspace["validation"].read_text())
    assert report["success"] is False
    assert [f.split()[:2] for f in report["failures"]] == [["drift:", "js_tokens"]]
    assert json.loads(workspace["drift"].read_text())["js_tokens"] > 0.001


def test_train_and_evaluate_track_one_complete_mlflow_run(
    workspace: dict[str, Path], mlflow_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.2")
    assert run_validate(workspace) == 0
    assert run_train(workspace) == 0
    loaded = spy_on_model_copies(monkeypatch)
    assert run_evaluate(workspace) == 0
    assert len(loaded) == 1  # the model evaluate scored; freed before logging (see the spy)

    metrics = json.loads(workspace["metrics"].read_text())["test"]
    assert {"accuracy", "loss", "precision", "recall", "f1", "roc_auc", "pr_auc"} <= set(metrics)
    assert metrics["tn"] + metrics["fp"] + metrics["fn"] + metrics["tp"] == 2 * PER_LABEL
    for name in (
        "roc.json",
        "pr.json",
        "roc.png",
        "pr.png",
        "confusion_matrix.png",
        "history.json",
    ):
        assert (workspace["plots"] / name).is_file(), name
    history = json.loads(workspace["history"].read_text())
    assert [row["epoch"] for row in history] == [1, 2]

    mlflow.set_tracking_uri(mlflow_store)
    run_id = json.loads(workspace["run"].read_text())["run_id"]
    run = mlflow.get_run(run_id)
    assert run.info.status == "FINISHED"
    # Not MLflow's seeded random name, which would repeat for every run.
    assert run.info.run_name.startswith("workspace-")
    assert mlflow.get_experiment(run.info.experiment_id).name == "imdb-sentiment"
    assert run.data.params["train.fit.batch_size"] == "8"
    assert run.data.params["prepare.maxlen"] == "24"
    assert run.data.metrics["test_accuracy"] == pytest.approx(metrics["accuracy"])
    assert "data.md5.train" in run.data.tags
    # backend: auto trains on TensorFlow without a GPU; the run and run.json say so.
    assert run.data.params["train.runtime.backend"] == "auto"
    assert json.loads(workspace["run"].read_text())["backend"] == "tensorflow"
    tags = run.data.tags
    assert tags["keras.backend"] == "tensorflow" and tags["keras.devices"].startswith("CPU (")
    assert tags["keras.version"] and tags["keras.backend_version"] != "unknown"
    # What the machine did while training, sampled by MLflow's system metrics monitor.
    system = {key for key in run.data.metrics if key.startswith("system/")}
    assert {"system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"} <= system
    assert "system/disk_usage_percentage" in system and "system/network_receive_megabytes" in system
    client = mlflow.MlflowClient()
    steps = [m.step for m in client.get_metric_history(run_id, "val_loss")]
    assert steps == [1, 2]
    artifacts = {a.path for a in client.list_artifacts(run_id, "evaluation")}
    assert "evaluation/roc.png" in artifacts and "evaluation/roc.json" in artifacts
    assert {a.path for a in client.list_artifacts(run_id, "data")} == {
        "data/vocab.json",
        "data/meta.json",
    }
    validation = {a.path for a in client.list_artifacts(run_id, "validation")}
    assert {"validation/validation.json", "validation/data_docs"} <= validation
    docs = {a.path for a in client.list_artifacts(run_id, "validation/data_docs")}
    assert "validation/data_docs/index.html" in docs

    assert_datasets_and_linked_metrics(client, run, workspace)

    with np.load(workspace["prepared"] / "test.npz") as npz:
        x = npz["x"][:5]
    logged = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    predictions = np.asarray(logged.predict(x)).ravel()
    assert predictions.shape == (5,) and ((predictions >= 0) & (predictions <= 1)).all()


def spy_on_model_copies(monkeypatch: pytest.MonkeyPatch) -> list[weakref.ref]:
    """Evaluate's Keras model must be gone when the raw-text model is logged: MLflow loads
    the file once more then, and two copies of a large ensemble ran out of memory."""
    from imdb_sentiment.stages import evaluate as stage

    loaded: list[weakref.ref] = []

    def load_model(*args: Any, **kwargs: Any) -> Any:
        model = real_load(*args, **kwargs)
        loaded.append(weakref.ref(model))
        return model

    def log_text_model(*args: Any, **kwargs: Any) -> str:
        assert [ref() for ref in loaded] == [None] * len(loaded), "the model is still held"
        return real_log(*args, **kwargs)

    real_load, real_log = stage.load_model, stage.log_text_model
    monkeypatch.setattr(stage, "load_model", load_model)
    monkeypatch.setattr(stage, "log_text_model", log_text_model)
    return loaded


def assert_datasets_and_linked_metrics(
    client: mlflow.MlflowClient, run: mlflow.entities.Run, workspace: dict[str, Path]
) -> None:
    """The splits are the run's MLflow datasets; the test metrics the text model's on test."""
    inputs = {i.dataset.name: i for i in run.inputs.dataset_inputs}
    assert set(inputs) == {"train", "val", "test"}
    counts = {"train": 36, "val": 12, "test": 48}
    for name, context in (("train", "training"), ("val", "validation"), ("test", "testing")):
        path = workspace["prepared"] / f"{name}.npz"
        dataset = inputs[name].dataset
        assert dataset.digest == file_md5(path)  # the digest dvc.lock records
        assert json.loads(dataset.source) == {"uri": path.as_posix()}
        assert json.loads(dataset.profile)["num_rows"] == counts[name]
        assert [(t.key, t.value) for t in inputs[name].tags] == [("mlflow.data.context", context)]
    model_uri = json.loads(workspace["text_model"].read_text())["model_uri"]
    model = client.get_logged_model(model_uri.removeprefix("models:/"))
    linked = {m.key: m for m in model.metrics if m.key.startswith("test_")}
    assert linked["test_accuracy"].value == run.data.metrics["test_accuracy"]
    assert {(m.dataset_name, m.dataset_digest) for m in linked.values()} == {
        ("test", file_md5(workspace["test"]))
    }
    assert {"test_tp", "test_roc_auc"} <= set(linked)


def test_capped_run_keeps_labels_balanced_and_validates(workspace: dict[str, Path]) -> None:
    params = yaml.safe_load(workspace["params"].read_text())
    params["prepare"]["max_reviews_per_split"] = 20
    workspace["params"].write_text(yaml.safe_dump(params))
    flags = dict(params="params", reviews="reviews", out="prepared")
    assert prepare.main(argv(workspace, **flags)) == 0
    meta = json.loads((workspace["prepared"] / "meta.json").read_text())
    assert meta["max_reviews_per_split"] == 20
    # 10 per label in train; 0.25 of 10 rounds to 2 per label for validation.
    assert meta["counts"] == {"train": 16, "val": 4, "test": 20}
    assert meta["positives"]["test"] == 10
    # The raw table is whole; the sequence suite checks the capped counts from meta.json.
    assert run_validate(workspace) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"PAR1 garbage", "not a readable parquet table"), (None, "has columns")],
    ids=["corrupt", "wrong-columns"],
)
def test_prepare_rejects_a_bad_reviews_table_and_keeps_old_outputs(
    workspace: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    content: bytes | None,
    message: str,
) -> None:
    before = {p.name: p.read_bytes() for p in workspace["prepared"].iterdir()}
    if content is None:
        pd.read_parquet(workspace["reviews"]).drop(columns="rating").to_parquet(
            workspace["reviews"]
        )
    else:
        workspace["reviews"].write_bytes(content)
    assert prepare.main(argv(workspace, params="params", reviews="reviews", out="prepared")) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "dvc repro --force download" in err[0]
    assert {p.name: p.read_bytes() for p in workspace["prepared"].iterdir()} == before
