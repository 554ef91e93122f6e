"""A truncated or empty mlflow.db: each entry point says so in one line, exits 1, writes nothing."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from imdb_sentiment import cli
from imdb_sentiment.tracking.names import EXPERIMENT
from pipeline import evaluate, promote, train
from tests.conftest import REPO, tiny_params

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sound_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{path}")
    client.log_param(client.create_run(client.create_experiment(EXPERIMENT)).info.run_id, "p", 1)
    return path


def checkout(root: Path) -> Path:
    """What the entry points look for: dvc.yaml, .dvc/ and params.yaml, and stage inputs."""
    root.mkdir()
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    (root / ".dvc").mkdir()
    (root / "params.yaml").write_text(yaml.safe_dump(tiny_params(), sort_keys=False))
    (root / "models").mkdir()
    (root / "models" / "run.json").write_text(json.dumps({"run_id": "r", "backend": "jax"}))
    text_model = {"run_id": "r", "model_uri": "models:/m-1", "test_accuracy": 0.5}
    (root / "models" / "text_model.json").write_text(json.dumps(text_model))
    return root


def stage(module: Callable[[list[str]], int], **paths: str) -> Callable[[], int]:
    return lambda: module([item for flag, v in paths.items() for item in (f"--{flag}", v)])


ENTRY_POINTS = {
    "train": stage(
        train.main,
        prepared="data/prepared",
        validation="reports/validation.json",
        model="models/model.keras",
        run="models/run.json",
        metrics="reports/train_metrics.json",
        history="reports/plots/history.json",
    ),
    "evaluate": stage(
        evaluate.main,
        test="data/prepared/test.npz",
        model="models/model.keras",
        run="models/run.json",
        metrics="reports/metrics.json",
        plots="reports/plots",
        vocab="data/prepared/vocab.json",
        reviews="data/raw/reviews.parquet",
        slices="reports/slices.json",
        behaviour="reports/behaviour.json",
        **{"text-model": "models/text_model.json"},
    ),
    "promote": stage(
        promote.main,
        reviews="data/raw/reviews.parquet",
        test="data/prepared/test.npz",
        report="reports/promotion.json",
        **{"text-model": "models/text_model.json"},
    ),
    "imdb-sentiment": lambda: cli.main(["predict", "a fine film"]),
    "imdb-sentiment ": lambda: cli.main(["experiments"]),
    "imdb-sentiment retrain": lambda: cli.main(["retrain", "--no-pull", "--no-push"]),
}


def files_in(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("keep", [0, 8192], ids=["empty", "truncated"])
@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_a_damaged_store_stops_every_entry_point_in_one_line(
    name: str,
    keep: int,
    sound_store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = checkout(tmp_path / "project")
    store = root / "mlflow.db"
    shutil.copy(sound_store, store)
    with store.open("r+b") as fh:
        fh.truncate(keep)
    monkeypatch.chdir(root)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # the checkout's own store
    before = files_in(root)

    assert ENTRY_POINTS[name]() == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1, err
    problem = "is an empty file (0 bytes)" if keep == 0 else "is truncated (8,192 of "
    assert err[0].startswith(f"{name.strip()}: error: MLflow store {store} {problem}"), err[0]
    assert err[0].endswith(
        "; restore it from a backup, or point MLFLOW_TRACKING_URI at another store"
    ), err[0]
    assert files_in(root) == before


def test_predict_outside_a_checkout_creates_no_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert cli.main(["predict", "a fine film"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"imdb-sentiment: error: no MLflow store at {tmp_path.resolve() / 'mlflow.db'} (no "
        "runs or models yet); run this in the project's checkout after `dvc repro`, or set "
        "MLFLOW_TRACKING_URI to the store to use"
    ]
    assert list(tmp_path.iterdir()) == []
