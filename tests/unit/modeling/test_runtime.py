"""Backend choice (auto), the settings read on import, determinism, and what a run records."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from imdb_sentiment.config import ConfigError, RuntimeParams
from imdb_sentiment.modeling.runtime import (
    JAX_CACHE_ENV,
    JAX_CACHE_MIN_SECONDS_ENV,
    XLA_DETERMINISTIC_FLAG,
    XLA_FLAGS_ENV,
    device_names,
    enable_determinism,
    nvidia_gpu_present,
    prepare_jax_environment,
    runtime_tags,
)
from tests.conftest import REPO


def runtime(backend: str = "auto", deterministic: bool = False) -> RuntimeParams:
    return RuntimeParams(
        backend=backend,
        precision="float32",
        jit_compile="auto",
        steps_per_execution=1,
        deterministic=deterministic,
    )


def run_python(code: str, *args: str) -> dict:
    """`code` in a fresh interpreter (no Keras or JAX loaded yet); its last line as JSON."""
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    env.pop("KERAS_BACKEND", None)
    env.pop(XLA_FLAGS_ENV, None)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


CHOOSE = """
import json, os, sys
from imdb_sentiment.config import RuntimeParams
from imdb_sentiment.modeling.runtime import choose_backend, nvidia_gpu_present
runtime = RuntimeParams(sys.argv[1], "float32", "auto", 1, False)
chosen = choose_backend(runtime)
print(json.dumps({"chosen": chosen, "env": os.environ["KERAS_BACKEND"],
                  "gpu": nvidia_gpu_present(), "jax_loaded": "jax" in sys.modules,
                  "keras_loaded": "keras" in sys.modules}))
"""


def test_auto_picks_tensorflow_without_a_gpu_and_does_not_load_jax() -> None:
    if nvidia_gpu_present():
        pytest.skip("this machine has an NVIDIA GPU: auto may pick jax")
    seen = run_python(CHOOSE, "auto")
    assert seen == {
        "chosen": "tensorflow",
        "env": "tensorflow",
        "gpu": False,
        "jax_loaded": False,  # no GPU files: JAX is not even asked
        "keras_loaded": False,
    }
    assert run_python(CHOOSE, "jax")["chosen"] == "jax"  # a named backend is taken as is


def test_gpu_presence_is_read_off_the_drivers_files(tmp_path: Path) -> None:
    assert not nvidia_gpu_present((f"{tmp_path}/proc/driver/nvidia/gpus/*",))
    (tmp_path / "gpus" / "0000:00:05.0").mkdir(parents=True)
    assert nvidia_gpu_present((f"{tmp_path}/nothing", f"{tmp_path}/gpus/*"))


def test_jax_gets_a_compilation_cache_at_the_checkout_and_keeps_its_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in (JAX_CACHE_ENV, JAX_CACHE_MIN_SECONDS_ENV):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv(XLA_FLAGS_ENV, "--xla_force_host_platform_device_count=2")
    prepare_jax_environment(runtime("jax"), cwd=tmp_path)
    assert os.environ[JAX_CACHE_ENV] == str(tmp_path / ".dvc" / "tmp" / "jax-cache")
    assert os.environ[JAX_CACHE_MIN_SECONDS_ENV] == "0"
    assert os.environ[XLA_FLAGS_ENV] == "--xla_force_host_platform_device_count=2"
    for _ in range(2):  # the flag is added once
        prepare_jax_environment(runtime("jax", deterministic=True), cwd=tmp_path)
    assert os.environ[XLA_FLAGS_ENV].split() == [
        "--xla_force_host_platform_device_count=2",
        XLA_DETERMINISTIC_FLAG,
    ]
    monkeypatch.setenv(JAX_CACHE_ENV, str(tmp_path / "mine"))  # the user's choice stays
    prepare_jax_environment(runtime("jax"), cwd=tmp_path)
    assert os.environ[JAX_CACHE_ENV] == str(tmp_path / "mine")


def test_deterministic_jax_without_the_flag_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(XLA_FLAGS_ENV, raising=False)
    with pytest.raises(ConfigError, match="xla_gpu_deterministic_ops"):
        enable_determinism("jax")


def test_runs_record_the_backend_its_versions_and_the_devices() -> None:
    tags = runtime_tags()
    assert tags["keras.backend"] == keras.backend.backend() == "tensorflow"
    assert tags["keras.version"] == importlib.metadata.version("keras")
    assert tags["keras.backend_version"] == importlib.metadata.version("tensorflow")
    assert tags["keras.devices"].startswith("CPU (") and tags["keras.devices"].endswith("cores)")
    assert device_names("numpy") == [tags["keras.devices"]]


DETERMINISM = """
import dataclasses, json, sys
import numpy as np
from imdb_sentiment.config import RuntimeParams
from imdb_sentiment.modeling.runtime import apply_runtime, choose_backend
runtime = RuntimeParams(sys.argv[1], "float32", "auto", 1, True)
choose_backend(runtime)
import keras
from imdb_sentiment.modeling.fit import fit_model
from imdb_sentiment.modeling.model import build_model, compile_model
from tests.conftest import TINY_FIT, TINY_MODEL
apply_runtime(runtime)

def losses():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 20, size=(96, 12)).astype(np.int32)
    y = rng.integers(0, 2, size=96).astype(np.int8)
    model = build_model(TINY_MODEL, max_features=20, maxlen=12)
    fit = dataclasses.replace(TINY_FIT, batch_size=16, epochs=2)
    compile_model(model, fit, runtime)
    history = fit_model(model, (x[:64], y[:64]), (x[64:], y[64:]), fit).history
    return [[row["loss"], row["val_loss"], row["val_accuracy"]] for row in history]

if keras.backend.backend() == "tensorflow":
    from tensorflow.python.framework import config
    applied = config.is_op_determinism_enabled()
else:
    import os
    applied = "--xla_gpu_deterministic_ops=true" in os.environ["XLA_FLAGS"].split()
print(json.dumps({"backend": keras.backend.backend(), "applied": applied,
                  "runs": [losses(), losses()]}))
"""


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_deterministic_runs_apply_the_setting_and_repeat_their_losses(backend: str) -> None:
    seen = run_python(DETERMINISM, backend)
    assert seen["backend"] == backend and seen["applied"] is True
    first, second = seen["runs"]
    assert len(first) == 2 and first == second  # bit for bit, not approximately
