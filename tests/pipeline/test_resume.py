"""A train stage killed midway resumes from its last epoch and ends as if never stopped."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import mlflow
import numpy as np
import pytest
import yaml

from imdb_sentiment.config import FitParams
from imdb_sentiment.modeling.checkpoint import BackupBusyError, TrainingBackup
from imdb_sentiment.modeling.fit import fit_model
from imdb_sentiment.modeling.model import build_model, compile_model
from tests.conftest import REPO, TINY_FIT, TINY_MODEL, tiny_params

# Enough rows that an epoch lasts a good fraction of a second, so a kill lands inside one.
N_TRAIN, N_VAL, MAXLEN, MAX_FEATURES = 2000, 64, 24, 20
EPOCHS = 3
OUTPUTS = {
    "model": "model.keras",
    "run": "run.json",
    "metrics": "train_metrics.json",
    "history": "history.json",
}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """What `train` reads, as prepare and validate write it, with random token ids."""
    prepared = tmp_path / "data" / "prepared"
    prepared.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, n in (("train", N_TRAIN), ("val", N_VAL)):
        x = rng.integers(3, MAX_FEATURES, size=(n, MAXLEN)).astype(np.int32)
        x[:, 0] = 1  # the start mark
        y = rng.integers(0, 2, size=n).astype(np.int8)
        np.savez(prepared / f"{name}.npz", x=x, y=y, review_id=np.arange(n, dtype=np.int32))
    meta = {
        "max_features": MAX_FEATURES,
        "maxlen": MAXLEN,
        "vocab_size": MAX_FEATURES,
        "counts": {"train": N_TRAIN, "val": N_VAL, "test": 0},
    }
    (prepared / "meta.json").write_text(json.dumps(meta))
    vocab = {"<pad>": 0, "<start>": 1, "<oov>": 2} | {f"w{i}": i for i in range(3, MAX_FEATURES)}
    (prepared / "vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "validation.json").write_text(json.dumps({"success": True}))
    write_params(tmp_path, learning_rate=0.01)
    return tmp_path


def write_params(ws: Path, learning_rate: float) -> None:
    params = tiny_params()
    params["train"]["fit"].update(epochs=EPOCHS, batch_size=8, learning_rate=learning_rate)
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def train_command(ws: Path, out: str) -> list[str]:
    flags = [
        ("--params", ws / "params.yaml"),
        ("--prepared", ws / "data" / "prepared"),
        ("--validation", ws / "validation.json"),
        *((f"--{flag}", ws / out / name) for flag, name in OUTPUTS.items()),
    ]
    return [sys.executable, "-m", "pipeline.train", *(str(v) for flag in flags for v in flag)]


def stage_env(ws: Path) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    return {
        **os.environ,
        "PYTHONPATH": path,
        "MLFLOW_TRACKING_URI": f"sqlite:///{ws / 'mlflow.db'}",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def run_train(ws: Path, out: str) -> str:
    """Run the stage to completion the way DVC does; return its output."""
    proc = subprocess.run(
        train_command(ws, out),
        cwd=ws,
        env=stage_env(ws),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def backups(ws: Path) -> Path:
    return ws / ".dvc" / "tmp" / "train-backups"


def kill_during_epoch_2(ws: Path, out: str) -> Path:
    """Start the stage, SIGKILL it once epoch 1 is backed up; return that backup."""
    log = ws / f"{out}.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            train_command(ws, out), cwd=ws, env=stage_env(ws), stdout=fh, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 240
    try:
        while not (saved := list(backups(ws).glob("*/epoch-00001/state.json"))):
            assert proc.poll() is None, (
                f"train ended before epoch 1 was backed up:\n{log.read_text()}"
            )
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.005)
        proc.send_signal(signal.SIGSTOP)  # freeze it to check where it is
        key_dir = saved[0].parent.parent
        assert [p.name for p in key_dir.glob("epoch-*")] == ["epoch-00001"], (
            "epoch 2 ended before the kill: raise N_TRAIN"
        )
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    return key_dir


def runs_by_status(ws: Path) -> dict[str, list[mlflow.entities.Run]]:
    mlflow.set_tracking_uri(f"sqlite:///{ws / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["imdb-sentiment"], output_format="list")
    by_status: dict[str, list[mlflow.entities.Run]] = {}
    for run in runs:
        by_status.setdefault(run.info.status, []).append(run)
    return by_status


def metric_history(run_id: str, name: str) -> list[tuple[int, float]]:
    history = mlflow.MlflowClient().get_metric_history(run_id, name)
    return sorted((m.step, m.value) for m in history)


def without(rows: dict | list, key: str) -> dict | list:
    """Drop a timing that differs from run to run, however identical the maths."""
    if isinstance(rows, list):
        return [without(row, key) for row in rows]
    return {k: v for k, v in rows.items() if k != key}


def read_outputs(ws: Path, out: str) -> dict:
    return {
        name: json.loads((ws / out / OUTPUTS[name]).read_text())
        for name in OUTPUTS
        if name != "model"
    }


@pytest.mark.slow
def test_killed_train_resumes_at_epoch_2_and_matches_an_uninterrupted_run(
    workspace: Path,
) -> None:
    ws = workspace
    run_train(ws, "baseline")
    assert not any(backups(ws).glob("*/")), "a finished run must delete its backup"

    key_dir = kill_during_epoch_2(ws, "resumed")
    assert not (ws / "resumed" / "model.keras").exists()
    (crashed,) = runs_by_status(ws)["RUNNING"]
    assert [step for step, _ in metric_history(crashed.info.run_id, "loss")] == [1]

    log = run_train(ws, "resumed")
    assert f"resuming at epoch 2 of {EPOCHS}" in log
    assert "Epoch 1/" not in log and "Epoch 2/3" in log

    status = runs_by_status(ws)
    assert "RUNNING" not in status
    assert [r.info.run_id for r in status["FAILED"]] == [crashed.info.run_id]
    baseline_id = json.loads((ws / "baseline" / "run.json").read_text())["run_id"]
    resumed_id = json.loads((ws / "resumed" / "run.json").read_text())["run_id"]
    assert {r.info.run_id for r in status["FINISHED"]} == {baseline_id, resumed_id}
    resumed = mlflow.get_run(resumed_id)
    assert resumed.data.tags["train.initial_epoch"] == "1"
    assert resumed.data.tags["train.resumes_runs"] == crashed.info.run_id
    assert resumed.data.tags["train.backup_key"] == key_dir.name
    assert mlflow.get_run(baseline_id).data.tags["train.initial_epoch"] == "0"

    # The same numbers to the last bit: per-epoch curves in MLflow, DVC metrics, weights.
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        curve = metric_history(resumed_id, name)
        assert [step for step, _ in curve] == [1, 2, 3], name
        assert curve == metric_history(baseline_id, name), name
    baseline, again = read_outputs(ws, "baseline"), read_outputs(ws, "resumed")
    assert without(again["metrics"], "fit_seconds") == without(baseline["metrics"], "fit_seconds")
    assert without(again["history"], "epoch_seconds") == without(
        baseline["history"], "epoch_seconds"
    )
    weights = [
        keras.saving.load_model(ws / out / "model.keras").get_weights()
        for out in ("baseline", "resumed")
    ]
    assert all(np.array_equal(a, b) for a, b in zip(*weights, strict=True))

    assert not key_dir.exists()
    assert sorted(p.name for p in backups(ws).iterdir()) == ["store-id"]  # no lock left


@pytest.mark.slow
def test_a_changed_param_does_not_resume_another_runs_backup(workspace: Path) -> None:
    ws = workspace
    old_backup = kill_during_epoch_2(ws, "first")
    write_params(ws, learning_rate=0.02)

    log = run_train(ws, "second")
    assert "resuming" not in log and "Epoch 1/3" in log
    run_id = json.loads((ws / "second" / "run.json").read_text())["run_id"]
    assert len(runs_by_status(ws)["FAILED"]) == 1  # the first one's dead run, found all the same
    run = mlflow.get_run(run_id)
    assert run.data.tags["train.initial_epoch"] == "0"
    assert "train.resumes_runs" not in run.data.tags
    assert run.data.tags["train.backup_key"] != old_backup.name
    assert [step for step, _ in metric_history(run_id, "loss")] == [1, 2, 3]
    # The old backup waits for a rerun with its own params; its dead run is FAILED anyway.
    assert [p.name for p in old_backup.glob("epoch-*")] == ["epoch-00001"]


def test_diverged_run_is_failed_in_mlflow_and_leaves_no_backup(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline import train

    ws = workspace
    write_params(ws, learning_rate=1e30)
    monkeypatch.chdir(ws)
    for key, value in stage_env(ws).items():
        monkeypatch.setenv(key, value)
    argv = train_command(ws, "out")[3:]
    assert train.main(argv) == 1
    assert "NaN" in capsys.readouterr().err
    assert not (ws / "out" / "model.keras").exists()
    (failed,) = runs_by_status(ws)["FAILED"]
    assert "RUNNING" not in runs_by_status(ws) and "FINISHED" not in runs_by_status(ws)
    assert failed.data.tags["train.initial_epoch"] == "0"
    assert sorted(p.name for p in backups(ws).iterdir()) == ["store-id"]


# The backup on its own, in-process: a fit interrupted by an exception, resumed by a new model.


class Crash(keras.callbacks.Callback):
    def __init__(self, at_epoch: int = 1) -> None:
        super().__init__()
        self.at_epoch = at_epoch  # 0-based: the epochs before it complete

    def on_epoch_begin(self, epoch: int, logs: object = None) -> None:
        if epoch == self.at_epoch:
            raise KeyboardInterrupt


LINEAR_FIT = dataclasses.replace(TINY_FIT, lr_schedule="linear")
AVERAGED_FIT = dataclasses.replace(TINY_FIT, ema_momentum=0.9)


def fresh_model(fit: FitParams = TINY_FIT) -> keras.Model:
    keras.utils.set_random_seed(7)
    model = build_model(TINY_MODEL, MAX_FEATURES, MAXLEN)
    compile_model(model, fit, train_rows=64)
    return model


def toy_data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(1)
    x = rng.integers(0, MAX_FEATURES, size=(96, MAXLEN)).astype(np.int32)
    y = rng.integers(0, 2, size=96).astype(np.int8)
    return (x[:64], y[:64]), (x[64:], y[64:])


# A linear schedule's rate follows the optimizer's step count, which the backup restores; an
# averaged fit's epochs end on the average, which the backup holds as weights and average.
@pytest.mark.parametrize(
    "fit",
    [TINY_FIT, LINEAR_FIT, AVERAGED_FIT],
    ids=["constant", "linear-schedule", "weight-average"],
)
def test_backup_restores_dropout_and_rng_state_exactly(tmp_path: Path, fit: FitParams) -> None:
    train, val = toy_data()
    straight = fresh_model(fit)
    expected = fit_model(straight, train, val, fit)

    backup = TrainingBackup(tmp_path / "key")
    with pytest.raises(KeyboardInterrupt):
        fit_model(fresh_model(fit), train, val, fit, callbacks=[Crash()], backup=backup)
    assert [p.name for p in backup.directory.iterdir()] == ["epoch-00001"]
    # A save killed halfway leaves a temp folder that nothing reads.
    (backup.directory / ".epoch-00002.tmp").mkdir()

    resumed_model = fresh_model(fit)
    resumed = fit_model(resumed_model, train, val, fit, backup=backup)
    assert resumed.initial_epoch == 1
    assert without(resumed.history, "epoch_seconds") == without(expected.history, "epoch_seconds")
    for a, b in zip(straight.get_weights(), resumed_model.get_weights(), strict=True):
        assert np.array_equal(a, b)
    # Killed after the last epoch's backup but before its outputs were written: no epoch left.
    assert backup.latest() is not None and backup.latest().epoch == 3  # the caller deletes it
    last_model = fresh_model(fit)
    last = fit_model(last_model, train, val, fit, backup=backup)
    assert last.initial_epoch == 3 and last.history == resumed.history
    for a, b in zip(straight.get_weights(), last_model.get_weights(), strict=True):
        assert np.array_equal(a, b)
    backup.delete()
    assert not backup.directory.exists()


@pytest.mark.parametrize("momentum", [None, 0.5], ids=["raw", "weight-average"])
def test_early_stopping_resumes_to_the_same_stop_and_weights(
    tmp_path: Path, momentum: float | None
) -> None:
    # Random labels: val_loss bottoms out early, so the best epoch is behind the crash point.
    fit = dataclasses.replace(
        TINY_FIT, epochs=15, learning_rate=0.05, early_stopping_patience=3, ema_momentum=momentum
    )
    train, val = toy_data()
    straight = fresh_model(fit)
    expected = fit_model(straight, train, val, fit)
    assert expected.model_epoch < len(expected.history) < 15

    crash_at = expected.model_epoch + 1  # after the best epoch, before the stop
    backup = TrainingBackup(tmp_path / "key")
    with pytest.raises(KeyboardInterrupt):
        fit_model(fresh_model(fit), train, val, fit, callbacks=[Crash(crash_at)], backup=backup)
    kept = sorted(p.name for p in backup.directory.iterdir())
    assert kept == [f"epoch-{expected.model_epoch:05d}", f"epoch-{crash_at:05d}"]

    resumed_model = fresh_model(fit)
    resumed = fit_model(resumed_model, train, val, fit, backup=backup)
    assert resumed.initial_epoch == crash_at
    assert resumed.model_epoch == expected.model_epoch
    assert without(resumed.history, "epoch_seconds") == without(expected.history, "epoch_seconds")
    for a, b in zip(straight.get_weights(), resumed_model.get_weights(), strict=True):
        assert np.array_equal(a, b)
    # Killed after the stopping epoch's backup: nothing left to train, the best is restored.
    again_model = fresh_model(fit)
    again = fit_model(again_model, train, val, fit, backup=backup)
    assert again.initial_epoch == len(expected.history)
    assert again.model_epoch == expected.model_epoch
    for a, b in zip(straight.get_weights(), again_model.get_weights(), strict=True):
        assert np.array_equal(a, b)


def test_backup_lock_refuses_a_second_holder_and_frees_on_exit(tmp_path: Path) -> None:
    from imdb_sentiment.modeling.checkpoint import lock_is_free

    backup = TrainingBackup(tmp_path / "key")
    assert lock_is_free(backup.lock_path)
    with backup.lock():
        assert not lock_is_free(backup.lock_path)
        with pytest.raises(BackupBusyError, match="same params and data"), backup.lock():
            pass
    assert lock_is_free(backup.lock_path) and not backup.lock_path.exists()
