"""Choose the Keras backend and dtype policy: process-wide settings, so set once, early."""

from __future__ import annotations

import os
import sys

from imdb_sentiment.config import BACKENDS, ConfigError, RuntimeParams

BACKEND_ENV = "KERAS_BACKEND"


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


def backend_requirements() -> list[str]:
    """Pinned keras and the backend package it runs on: what loading a saved model needs.

    Stating them saves MLflow ~10 s of inferring them in a subprocess that reloads the model.
    """
    import importlib.metadata

    import keras

    backend = keras.backend.backend()
    pins = [f"keras=={importlib.metadata.version('keras')}"]
    if backend in BACKENDS:  # not keras' own "numpy" backend: no extra package
        pins.append(f"{backend}=={importlib.metadata.version(backend)}")
    return pins


def apply_runtime(runtime: RuntimeParams) -> None:
    """Set the dtype policy that layers built from now on will use."""
    import keras

    keras.mixed_precision.set_global_policy(runtime.precision)


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
