"""Train the pipeline's own model and fit loop on another Keras backend (e.g. JAX on a GPU).

Needs only keras (+ its backend), numpy, scikit-learn, pyyaml and the prepared arrays; no
TensorFlow, DVC or MLflow, so it runs on a machine that has JAX or PyTorch alone:

    KERAS_BACKEND=jax PYTHONPATH=src python benchmarks/gpu_check.py --prepared data/prepared

Prints per-epoch times, the whole fit time (compilation included) and test accuracy for the
params.yaml configuration and, with --batch-size, for other batch sizes.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

import keras

from imdb_sentiment.config import BaseParams, TrainParams, load_params, load_section
from imdb_sentiment.evaluation import compute_metrics
from imdb_sentiment.io import load_split, read_json
from imdb_sentiment.model import build_model, compile_model
from imdb_sentiment.training import fit_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--prepared", type=Path, required=True)
    parser.add_argument("--batch-size", type=int, nargs="*", default=[])
    args = parser.parse_args()
    params = load_params(args.params)
    seed = load_section(params, "base", BaseParams).seed
    cfg = load_section(params, "train", TrainParams)
    meta = read_json(args.prepared / "meta.json")
    train, val, test = (load_split(args.prepared / f"{n}.npz") for n in ("train", "val", "test"))
    print(
        f"backend={keras.backend.backend()} devices={_devices()} KERAS_BACKEND="
        f"{os.environ.get('KERAS_BACKEND')}"
    )
    for batch_size in [cfg.fit.batch_size, *args.batch_size]:
        fit = dataclasses.replace(cfg.fit, batch_size=batch_size)
        keras.utils.set_random_seed(seed)
        model = build_model(cfg.model, meta["max_features"], meta["maxlen"])
        compile_model(model, fit)
        result = fit_model(model, train, val, fit)
        proba = model.predict(test[0], batch_size=1000, verbose=0).ravel()
        accuracy = compute_metrics(test[1], proba, 0.5).metrics["accuracy"]
        epochs = ", ".join(f"{e['epoch_seconds']:.2f}" for e in result.history)
        print(
            f"batch {batch_size}: fit {result.fit_seconds:.2f} s (compile included), "
            f"epochs [{epochs}] s, val_acc {result.history[-1]['val_accuracy']:.4f}, "
            f"test_acc {accuracy:.4f}"
        )


def _devices() -> str:
    if keras.backend.backend() == "jax":
        import jax

        return ",".join(str(d) for d in jax.devices())
    return "n/a"


if __name__ == "__main__":
    main()
