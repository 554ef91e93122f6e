"""train on two replicas against one: the real stage, on CPU devices split for the purpose.

TensorFlow's MirroredStrategy gets two logical CPU devices (set before TF starts, hence a
fresh interpreter per run), JAX's DataParallel two host devices (XLA_FLAGS); multi_worker
runs two worker processes on localhost (TF_CONFIG, KERAS_DISTRIBUTION_*).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import keras
import mlflow
import numpy as np
import pytest
import yaml

from pipeline import prepare
from tests.conftest import REPO, tiny_params
from tests.factory import build_archive
from tests.pipeline.stages import run_download

# Reviews per split and label: 224 to train on, 76 to validate, 300 to score.
PER_LABEL = 150
EPOCHS = 4
# Test accuracy on 2 replicas may differ from 1 replica's by this much (15 of 300 reviews).
# Same global batches and steps, but TF's replicas draw other Dropout masks and JAX's
# processes shuffle their own rows. Measured: 0.017 TF mirrored, 0 JAX mirrored, 0.007 JAX
# on two processes.
ACCURACY_TOLERANCE = 0.05
MIN_ACCURACY = 0.8  # every run must have learned the sentiment words (measured 0.91-0.96)

# A fresh interpreter that splits the CPU into two logical devices, then runs the stage.
TF_ON_TWO_CPUS = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from pipeline import train
sys.exit(train.main(sys.argv[1:]))
"""
JAX_TWO_DEVICES = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """download + prepare on a tiny archive; train reads it, validate's verdict is stubbed."""
    root = tmp_path_factory.mktemp("distribution")
    archive = root / "archive.tar.gz"
    sha = build_archive(archive, per_label=PER_LABEL)
    params = root / "params.yaml"
    params.write_text(yaml.safe_dump(tiny_params(), sort_keys=False))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("IMDB_URL", str(archive))
        env.setenv("IMDB_SHA256", sha)
        reviews = root / "reviews.parquet"
        assert run_download(params, reviews) == 0
        out = root / "prepared"
        args = ["--params", str(params), "--reviews", str(reviews), "--out", str(out)]
        assert prepare.main(args) == 0
    return out


def make_workspace(ws: Path, prepared: Path, backend: str, distribution: str) -> Path:
    shutil.copytree(prepared, ws / "data" / "prepared")
    (ws / "validation.json").write_text(json.dumps({"success": True}))
    params = tiny_params()
    params["train"]["runtime"]["backend"] = backend
    params["train"]["distribution"] = distribution
    params["train"]["fit"]["epochs"] = EPOCHS
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return ws


def stage_args(ws: Path) -> list[str]:
    flags = {
        "params": ws / "params.yaml",
        "prepared": ws / "data" / "prepared",
        "validation": ws / "validation.json",
        "model": ws / "models" / "model.keras",
        "run": ws / "models" / "run.json",
        "metrics": ws / "reports" / "train_metrics.json",
        "history": ws / "reports" / "history.json",
    }
    return [item for flag, path in flags.items() for item in (f"--{flag}", str(path))]


def stage_env(ws: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    return {
        **os.environ,
        "PYTHONPATH": path,
        "MLFLOW_TRACKING_URI": f"sqlite:///{ws / 'mlflow.db'}",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        **(extra or {}),
    }


def start_stage(ws: Path, launcher: list[str], extra_env: dict[str, str]) -> subprocess.Popen:
    with (ws / "train.log").open("w") as log:
        return subprocess.Popen(
            [*launcher, *stage_args(ws)],
            cwd=ws,
            env=stage_env(ws, extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def finish(procs: dict[Path, subprocess.Popen]) -> None:
    """Wait for every stage; if one fails, stop the rest (its peers would wait on it)."""
    deadline = time.monotonic() + 300
    try:
        while any(proc.poll() is None for proc in procs.values()):
            failed = [ws for ws, proc in procs.items() if proc.poll() not in (None, 0)]
            assert not failed, (failed[0] / "train.log").read_text()
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.2)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for ws, proc in procs.items():
        assert proc.returncode == 0, (ws / "train.log").read_text()


def train_in(
    ws: Path, prepared: Path, backend: str, distribution: str, launcher: list[str], env: dict
) -> dict[str, Any]:
    make_workspace(ws, prepared, backend, distribution)
    finish({ws: start_stage(ws, launcher, env)})
    return outcome(ws)


def outcome(ws: Path) -> dict[str, Any]:
    """What a run recorded (MLflow params and tags) and how well its model scores on test."""
    run_id = json.loads((ws / "models" / "run.json").read_text())["run_id"]
    mlflow.set_tracking_uri(f"sqlite:///{ws / 'mlflow.db'}")
    run = mlflow.get_run(run_id)
    model = keras.saving.load_model(ws / "models" / "model.keras")
    with np.load(ws / "data" / "prepared" / "test.npz") as test:
        predicted = model.predict(test["x"], verbose=0)[:, 0] >= 0.5
        accuracy = float(np.mean(predicted == test["y"].astype(bool)))
    return {
        "params": run.data.params,
        "tags": run.data.tags,
        "accuracy": accuracy,
        "history": json.loads((ws / "reports" / "history.json").read_text()),
        "weights": model.get_weights(),
    }


def assert_comparable(one: dict[str, Any], two: dict[str, Any], distribution: str) -> None:
    assert one["params"]["train.distribution"] == "none"
    assert one["params"]["distribution.replicas"] == "1"
    assert two["params"]["train.distribution"] == distribution
    assert two["params"]["distribution.replicas"] == "2"
    assert min(one["accuracy"], two["accuracy"]) >= MIN_ACCURACY, (one["accuracy"], two["accuracy"])
    assert abs(one["accuracy"] - two["accuracy"]) <= ACCURACY_TOLERANCE, (
        one["accuracy"],
        two["accuracy"],
    )


TF_SPLIT = [sys.executable, "-c", TF_ON_TWO_CPUS]


@pytest.fixture(scope="module")
def tf_runs(tmp_path_factory: pytest.TempPathFactory, prepared: Path) -> dict[str, dict[str, Any]]:
    """The stage on TensorFlow, with the CPU split in two: on one device and mirrored on both."""
    root = tmp_path_factory.mktemp("tf")
    return {
        distribution: train_in(
            root / distribution, prepared, "tensorflow", distribution, TF_SPLIT, {}
        )
        for distribution in ("none", "mirrored")
    }


@pytest.mark.slow
def test_mirrored_on_two_cpu_devices_matches_one_device(tf_runs: dict[str, dict[str, Any]]) -> None:
    assert_comparable(tf_runs["none"], tf_runs["mirrored"], "mirrored")


@pytest.fixture(scope="module")
def jax_runs(tmp_path_factory: pytest.TempPathFactory, prepared: Path) -> dict[str, dict[str, Any]]:
    """The stage on JAX with two host devices: on one of them and data-parallel on both."""
    root = tmp_path_factory.mktemp("jax")
    launcher = [sys.executable, "-m", "pipeline.train"]
    return {
        distribution: train_in(
            root / distribution, prepared, "jax", distribution, launcher, JAX_TWO_DEVICES
        )
        for distribution in ("none", "mirrored")
    }


@pytest.mark.slow
def test_jax_data_parallel_on_two_host_devices_matches_one_device(
    jax_runs: dict[str, dict[str, Any]],
) -> None:
    assert_comparable(jax_runs["none"], jax_runs["mirrored"], "mirrored")


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def train_on_two_workers(
    root: Path, prepared: Path, backend: str, envs: list[dict[str, str]]
) -> list[dict[str, Any]]:
    """Both workers at once, each with its own checkout and MLflow store, as on two hosts."""
    procs = {}
    for index, env in enumerate(envs):
        ws = make_workspace(root / f"worker{index}", prepared, backend, "multi_worker")
        procs[ws] = start_stage(ws, [sys.executable, "-m", "pipeline.train"], env)
    finish(procs)
    workers = [outcome(ws) for ws in procs]
    for index, worker in enumerate(workers):
        assert worker["params"]["train.distribution"] == "multi_worker"
        assert worker["params"]["distribution.replicas"] == "2"
        assert worker["params"]["distribution.workers"] == "2"
        assert worker["tags"]["distribution.worker_index"] == str(index)
    # Synchronous training: both workers end with the same weights.
    for a, b in zip(workers[0]["weights"], workers[1]["weights"], strict=True):
        np.testing.assert_array_equal(a, b)
    return workers


def tf_configs(n: int) -> list[dict[str, str]]:
    """TF_CONFIG for each of `n` workers on localhost."""
    addresses = [f"localhost:{port}" for port in free_ports(n)]
    return [
        {
            "TF_CONFIG": json.dumps(
                {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": i}}
            )
        }
        for i in range(n)
    ]


@pytest.mark.slow
def test_two_tensorflow_workers_train_like_two_local_replicas(
    tmp_path: Path, prepared: Path, tf_runs: dict[str, dict[str, Any]]
) -> None:
    chief, _ = train_on_two_workers(tmp_path, prepared, "tensorflow", tf_configs(2))
    # The steps two replicas on one host take: the same global batches, the same updates.
    for a, b in zip(chief["history"], tf_runs["mirrored"]["history"], strict=True):
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert a[key] == pytest.approx(b[key], rel=1e-5), key


@pytest.mark.slow
def test_workers_given_different_runs_refuse_to_train(tmp_path: Path, prepared: Path) -> None:
    procs = {}
    for index, (seed, env) in enumerate(zip((42, 7), tf_configs(2), strict=True)):
        ws = make_workspace(tmp_path / f"worker{index}", prepared, "tensorflow", "multi_worker")
        params = yaml.safe_load((ws / "params.yaml").read_text())
        params["base"]["seed"] = seed
        (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        procs[ws] = start_stage(ws, [sys.executable, "-m", "pipeline.train"], env)
    try:
        for ws, proc in procs.items():
            assert proc.wait(timeout=300) == 1, (ws / "train.log").read_text()
            assert "the workers disagree on the run" in (ws / "train.log").read_text()
            assert not (ws / "models" / "model.keras").exists()
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_two_jax_processes_train_like_one_device(
    tmp_path: Path, prepared: Path, jax_runs: dict[str, dict[str, Any]]
) -> None:
    (port,) = free_ports(1)
    envs = [
        {
            "KERAS_DISTRIBUTION_JOB_ADDRESSES": f"localhost:{port}",
            "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
            "KERAS_DISTRIBUTION_PROCESS_ID": str(i),
        }
        for i in range(2)
    ]
    chief, _ = train_on_two_workers(tmp_path, prepared, "jax", envs)
    # Each process shuffles its own half of the rows: other batches, a comparable model.
    assert_comparable(jax_runs["none"], chief, "multi_worker")


# Backup and resume under MirroredStrategy, in a fresh interpreter on two CPU devices.
RESUME_ON_TWO_CPUS = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tests.pipeline.test_distribution import crash_and_resume
crash_and_resume(sys.argv[1])
"""


class Crash(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch: int, logs: object = None) -> None:
        if epoch == 1:
            raise KeyboardInterrupt


def crash_and_resume(directory: str) -> None:
    """A mirrored fit stopped in epoch 2 and resumed ends as one never stopped, to the bit."""
    from imdb_sentiment.modeling.checkpoint import TrainingBackup
    from imdb_sentiment.modeling.distribution import start_replicas
    from imdb_sentiment.modeling.fit import fit_model
    from imdb_sentiment.modeling.model import build_model, compile_model
    from tests.conftest import TINY_FIT, TINY_MODEL

    replicas = start_replicas("mirrored")
    assert replicas.count == 2, replicas
    shape, fit = TINY_MODEL, TINY_FIT

    def fresh() -> keras.Model:
        keras.utils.set_random_seed(7)
        with replicas.scope():
            model = build_model(shape, 20, 24)
            compile_model(model, fit)
        return model

    rng = np.random.default_rng(1)
    x = rng.integers(0, 20, size=(99, 24)).astype(np.int32)
    y = rng.integers(0, 2, size=99).astype(np.int8)
    train, val = (x[:67], y[:67]), (x[67:], y[67:])
    straight = fresh()
    expected = fit_model(straight, train, val, fit)
    backup = TrainingBackup(Path(directory) / "key")
    with contextlib.suppress(KeyboardInterrupt):
        fit_model(fresh(), train, val, fit, callbacks=[Crash()], backup=backup)
    assert backup.latest() is not None and backup.latest().epoch == 1
    resumed_model = fresh()
    resumed = fit_model(resumed_model, train, val, fit, backup=backup)
    assert resumed.initial_epoch == 1
    for a, b in zip(expected.history, resumed.history, strict=True):
        assert {k: v for k, v in a.items() if k != "epoch_seconds"} == {
            k: v for k, v in b.items() if k != "epoch_seconds"
        }
    for a, b in zip(straight.get_weights(), resumed_model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_backup_resumes_a_mirrored_fit_exactly(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", RESUME_ON_TWO_CPUS, str(tmp_path)],
        cwd=REPO,
        env=stage_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
