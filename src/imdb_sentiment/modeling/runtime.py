"""Choose the Keras backend and dtype policy: process-wide settings, so set once, early.

`train.runtime.backend: auto` trains on JAX when JAX sees a GPU, else on TensorFlow. Whatever
a backend reads only when it is imported (JAX's compilation cache, XLA's flags, cuBLAS's
workspace) is set in the environment here, before Keras imports it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import sys
from pathlib import Path

from imdb_sentiment.checkout import project_root
from imdb_sentiment.config import BACKENDS, ConfigError, RuntimeParams

log = logging.getLogger(__name__)

BACKEND_ENV = "KERAS_BACKEND"
AUTO = "auto"
XLA_FLAGS_ENV = "XLA_FLAGS"
XLA_DETERMINISTIC_FLAG = "--xla_gpu_deterministic_ops=true"
# A persistent cache of compiled XLA programs: a rerun or a sweep of the same shapes loads the
# train step instead of compiling it again (3 s of a 6 s fit on an H200). Every program is
# kept, not only those that took JAX's default 1 s to compile: the small ones add up too.
JAX_CACHE_ENV = "JAX_COMPILATION_CACHE_DIR"
JAX_CACHE_MIN_SECONDS_ENV = "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"
JAX_CACHE_DIR = Path(".dvc", "tmp", "jax-cache")  # at the checkout, beside the backups
# cuBLAS needs a fixed workspace for deterministic matrix products (PyTorch on CUDA).
CUBLAS_WORKSPACE_ENV = "CUBLAS_WORKSPACE_CONFIG"
_NVIDIA_DEVICE_FILES = ("/proc/driver/nvidia/gpus/*", "/dev/nvidia[0-9]*")


def choose_backend(runtime: RuntimeParams, cwd: Path | None = None) -> str:
    """Resolve `runtime.backend` and make it the one Keras loads; returns it.

    Call before anything imports Keras, JAX or TensorFlow: the backend's settings that are
    read on import (compilation cache, deterministic kernels) are put in the environment.
    """
    backend = runtime.backend
    if backend == AUTO:
        backend = "jax" if _jax_sees_gpu(runtime, cwd) else "tensorflow"
        log.debug("train.runtime.backend=auto: %s", backend)
    elif backend == "jax":
        prepare_jax_environment(runtime, cwd)
    elif backend == "torch" and runtime.deterministic:
        os.environ.setdefault(CUBLAS_WORKSPACE_ENV, ":4096:8")
    select_backend(backend)
    return backend


def select_backend(backend: str) -> None:
    """Make `backend` the one Keras loads; it must run before `import keras`.

    params.yaml decides, not the environment, so DVC knows which backend trained a model.
    """
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != backend:
            raise ConfigError(
                f"Keras is already loaded with backend {keras.backend.backend()!r}; "
                f"train.runtime.backend={backend!r} must be chosen before Keras is imported"
            )
        return
    os.environ[BACKEND_ENV] = backend


def prepare_jax_environment(runtime: RuntimeParams, cwd: Path | None = None) -> None:
    """JAX's compilation cache (unless set already) and XLA's deterministic GPU kernels."""
    os.environ.setdefault(JAX_CACHE_ENV, str(project_root(cwd) / JAX_CACHE_DIR))
    os.environ.setdefault(JAX_CACHE_MIN_SECONDS_ENV, "0")
    flags = os.environ.get(XLA_FLAGS_ENV, "").split()
    if runtime.deterministic and XLA_DETERMINISTIC_FLAG not in flags:
        os.environ[XLA_FLAGS_ENV] = " ".join([*flags, XLA_DETERMINISTIC_FLAG])


def nvidia_gpu_present(patterns: tuple[str, ...] = _NVIDIA_DEVICE_FILES) -> bool:
    """Whether an NVIDIA driver shows a GPU: a look at its files, importing nothing."""
    return any(next(Path("/").glob(pattern.lstrip("/")), None) for pattern in patterns)


def _jax_sees_gpu(runtime: RuntimeParams, cwd: Path | None) -> bool:
    """Whether an installed JAX finds a GPU; without an NVIDIA GPU, JAX is not even imported."""
    if not nvidia_gpu_present() or importlib.util.find_spec("jax") is None:
        return False
    keys = (JAX_CACHE_ENV, JAX_CACHE_MIN_SECONDS_ENV, XLA_FLAGS_ENV)
    before = {key: os.environ.get(key) for key in keys}
    prepare_jax_environment(runtime, cwd)  # JAX reads them once, when it starts
    import jax

    try:
        found = bool(jax.devices("gpu"))
    except RuntimeError:  # a CPU-only JAX, or the GPU hidden (CUDA_VISIBLE_DEVICES)
        found = False
    if not found:  # TensorFlow's XLA reads XLA_FLAGS too: leave them as they were
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return found


def apply_runtime(runtime: RuntimeParams) -> None:
    """Set the dtype policy that layers built from now on will use, and determinism."""
    import keras

    keras.mixed_precision.set_global_policy(runtime.precision)
    if runtime.deterministic:
        enable_determinism(keras.backend.backend())


def enable_determinism(backend: str) -> None:
    """The backend's deterministic kernels: the same losses from run to run, on a GPU too.

    On the CPU every backend is deterministic already (a seeded run repeats bit for bit);
    GPU kernels that add in a varying order (atomics, cuDNN's autotuned algorithms) are not.
    """
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif backend == "torch":
        import torch

        torch.use_deterministic_algorithms(True)
    elif backend == "jax" and XLA_DETERMINISTIC_FLAG not in os.environ.get(XLA_FLAGS_ENV, ""):
        raise ConfigError(
            "train.runtime.deterministic on jax needs XLA_FLAGS to hold "
            f"{XLA_DETERMINISTIC_FLAG} before JAX is imported (choose_backend sets it)"
        )


def runtime_tags() -> dict[str, str]:
    """The resolved backend, its and Keras' versions, and the devices it trains on."""
    import keras

    backend = keras.backend.backend()
    return {
        "keras.backend": backend,
        "keras.version": importlib.metadata.version("keras"),
        "keras.backend_version": _version(backend),
        "keras.devices": ", ".join(device_names(backend)),
    }


def device_names(backend: str) -> list[str]:
    """What the backend computes on: its GPUs' names, else the CPU's model."""
    names: list[str] = []
    if backend == "jax":
        import jax

        names = [d.device_kind for d in jax.devices() if d.platform != "cpu"]
    elif backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        names = [
            tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus
        ]
    elif backend == "torch":
        import torch

        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return names or [f"CPU ({_cpu_model()}, {os.cpu_count()} cores)"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def backend_requirements() -> list[str]:
    """Pinned keras and the backend package it runs on: what loading a saved model needs.

    Stating them saves MLflow ~10 s of inferring them in a subprocess that reloads the model.
    """
    import keras

    backend = keras.backend.backend()
    pins = [f"keras=={importlib.metadata.version('keras')}"]
    if backend in BACKENDS:  # not keras' own "numpy" backend: no extra package
        pins.append(f"{backend}=={importlib.metadata.version(backend)}")
    return pins


def device_kind() -> str:
    """`cpu`, `gpu` or `tpu`: what Keras computes on in this process (an accelerator if any).

    Runs record it: CPU kernels are deterministic, GPU ones need not be, so
    `imdb-sentiment reproduce` asks bit-identical results only of a CPU run rebuilt on a CPU.
    """
    import keras

    if keras.backend.backend() == "torch":  # Keras lists devices for tensorflow and jax only
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    devices = keras.distribution.list_devices()  # the accelerators if any, else the CPUs
    kind = devices[0].split(":")[0].lower() if devices else "cpu"
    return "gpu" if kind == "cuda" else kind
