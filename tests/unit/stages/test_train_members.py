"""`train.members`: an ensemble trained member by member, saved as one averaging model."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
import yaml

from imdb_sentiment.config import ConfigError, PipelineParams, load_pipeline_params
from imdb_sentiment.data.prepared import load_split, split_path
from imdb_sentiment.memory import MemoryBudgetError, check_training_memory
from imdb_sentiment.modeling.checkpoint import backup_root
from imdb_sentiment.modeling.numpy_forward import UnsupportedModelError, load_numpy_model
from imdb_sentiment.stages import train_fit
from imdb_sentiment.stages.train import set_up_training, train_and_log
from imdb_sentiment.tracking.store import TrackingStore
from tests.conftest import tiny_params
from tests.unit.stages.training_inputs import write_prepared_folder


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write_prepared_folder(tmp_path / "prepared")
    return tmp_path


def params_for(ws: Path, name: str, **train: object) -> PipelineParams:
    params = tiny_params()
    params["train"].update(train)
    path = ws / f"{name}.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return load_pipeline_params(path)


def trained(ws: Path, store: TrackingStore, name: str, **train: object) -> tuple[Path, str]:
    """The saved model's path and the run's id after a whole train_and_log."""
    setup = set_up_training(params_for(ws, name, **train), ws / "prepared")
    path = ws / f"{name}.keras"
    return path, train_and_log(setup, store, path, []).run_id


def predict(path: Path, x: np.ndarray) -> np.ndarray:
    return keras.saving.load_model(path, compile=False).predict(x, verbose=0).ravel()


def test_member_seeds_start_at_the_runs_seed_and_never_meet_another_runs(tmp_path: Path) -> None:
    three = params_for(tmp_path, "a", seed=None, members=3).train
    assert three.member_seeds(42) == [42, 1042, 2042]
    wrapped = params_for(tmp_path, "b", seed=2**32 - 1, members=2).train
    assert wrapped.member_seeds(42) == [2**32 - 1, 999]


@pytest.mark.parametrize("members", [0, 17, 1.5])
def test_members_out_of_range_are_refused(members: object, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"train\.members"):
        params_for(tmp_path, "bad", members=members)


def test_the_ensemble_averages_the_one_model_runs_of_its_member_seeds(
    workspace: Path, store: TrackingStore
) -> None:
    ensemble, run_id = trained(workspace, store, "ensemble", seed=42, members=2)
    first, _ = trained(workspace, store, "first", seed=42, members=1)
    second, _ = trained(workspace, store, "second", seed=1042, members=1)
    x, y = load_split(split_path(workspace / "prepared", "val"))
    mean = (predict(first, x) + predict(second, x)) / 2
    np.testing.assert_allclose(predict(ensemble, x), mean, atol=1e-6)

    run = store.client.get_run(run_id)
    accuracy = float(np.mean((mean >= 0.5) == y))
    assert run.data.metrics["model_val_accuracy"] == pytest.approx(accuracy)
    assert run.data.metrics["val_accuracy"] == pytest.approx(accuracy)
    loss = -np.mean(y * np.log(mean) + (1 - y) * np.log(1 - mean))
    assert run.data.metrics["model_val_loss"] == pytest.approx(loss, rel=1e-4)
    for member in ("member_1", "member_2"):
        steps = store.client.get_metric_history(run_id, f"{member}/val_loss")
        assert sorted(m.step for m in steps) == [1, 2]
    assert sorted(p.name for p in backup_root().iterdir()) == ["store-id"]  # deleted at the end
    # The file holds the members' weights, not their optimizers' state (twice as much).
    datasets: list[str] = []
    with (
        zipfile.ZipFile(ensemble) as archive,
        h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as weights,
    ):
        weights.visititems(
            lambda n, obj: datasets.append(n) if isinstance(obj, h5py.Dataset) else None
        )
    members_state = [n for n in datasets if n.startswith("layers/") and "optimizer" in n]
    assert datasets and members_state == []


def test_a_run_killed_between_members_restores_the_first_and_trains_the_rest(
    workspace: Path, store: TrackingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole, _ = trained(workspace, store, "whole", members=2)
    build = train_fit._build_member

    def killed(*args: object) -> keras.Model:
        raise KeyboardInterrupt  # as a kill: no clean-up code of ours runs

    monkeypatch.setattr(train_fit, "_build_member", killed)
    with pytest.raises(KeyboardInterrupt):
        trained(workspace, store, "resumed", members=2)
    monkeypatch.setattr(train_fit, "_build_member", build)
    fitted: list[int] = []
    monkeypatch.setattr(
        train_fit, "fit_logged", recording(train_fit.fit_logged, fitted), raising=True
    )
    resumed, run_id = trained(workspace, store, "resumed", members=2)
    x, _ = load_split(split_path(workspace / "prepared", "val"))
    np.testing.assert_array_equal(predict(resumed, x), predict(whole, x))
    assert fitted == [2, 0]  # member 1: both epochs restored; member 2: trained from scratch
    metrics = store.client.get_run(run_id).data.metrics
    assert {"member_1/val_loss", "member_2/val_loss", "model_val_accuracy"} <= set(metrics)


def recording(fit_logged, restored: list[int]):  # type: ignore[no-untyped-def]
    """fit_logged, noting how many epochs each call restored from its backup."""

    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = fit_logged(*args, **kwargs)
        restored.append(result.initial_epoch)
        return result

    return wrapper


def test_the_numpy_path_leaves_an_ensemble_to_keras(workspace: Path, store: TrackingStore) -> None:
    ensemble, _ = trained(workspace, store, "ensemble", members=2)
    with pytest.raises(UnsupportedModelError):
        load_numpy_model(ensemble)


def test_the_memory_check_counts_every_members_tables(workspace: Path) -> None:
    params = params_for(workspace, "big", members=16)
    meta = {"maxlen": 100, "max_features": 20000, "counts": {"train": 100, "val": 10}}
    # 16 tables of 20,000 x 8 floats with Adam's state: 41 MB; one table fits in 10 MB.
    check_training_memory(params_for(workspace, "one", members=1).train, meta, available=10**7)
    with pytest.raises(MemoryBudgetError, match="16 members' 20,000 x 8 embeddings"):
        check_training_memory(params.train, meta, available=10**7)
