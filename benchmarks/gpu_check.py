"""Train the pipeline's own model and fit loop on any Keras backend, under several speed knobs.

(The GPU check, stages and stage-vs-bare in one call, is `benchmarks/gpu_check.sh`.)

Needs only keras (+ its backend), numpy, scikit-learn, pyyaml and the prepared arrays; no
TensorFlow, DVC or MLflow, so it runs on a machine that has JAX or PyTorch alone:

    PYTHONPATH=src python benchmarks/gpu_check.py --prepared data/prepared --backend jax \
        --config "" --config "train.model.unroll=true train.runtime.steps_per_execution=32"

Each --config is a space-separated list of dotted params.yaml overrides (YAML values) applied
to params.yaml; "" is params.yaml as it is. For each, prints the whole fit time (compilation
included), per-epoch times, throughput, and validation and test accuracy.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from imdb_sentiment.config import (
    BaseParams,
    TrainParams,
    load_params,
    load_section,
    override_params,
)
from imdb_sentiment.data.prepared import load_split
from imdb_sentiment.files import read_json
from imdb_sentiment.modeling.runtime import choose_backend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--prepared", type=Path, required=True)
    parser.add_argument("--backend", default=None, help="overrides train.runtime.backend (auto)")
    parser.add_argument("--config", action="append", default=None)
    args = parser.parse_args()
    params = load_params(args.params)
    if args.backend:
        params["train"]["runtime"]["backend"] = args.backend
    choose_backend(load_section(params, "train", TrainParams).runtime)  # auto: jax on a GPU

    import keras

    from imdb_sentiment.modeling.fit import fit_model
    from imdb_sentiment.modeling.metrics import compute_metrics
    from imdb_sentiment.modeling.model import build_model, compile_model
    from imdb_sentiment.modeling.runtime import apply_runtime

    meta = read_json(args.prepared / "meta.json")
    train, val, test = (load_split(args.prepared / f"{n}.npz") for n in ("train", "val", "test"))
    print(f"backend={keras.backend.backend()} devices={_devices(keras)}", flush=True)
    for spec in args.config or [""]:
        run = override_params(params, spec.split())
        seed = load_section(run, "base", BaseParams).seed
        cfg = load_section(run, "train", TrainParams)
        try:
            apply_runtime(cfg.runtime)
            keras.utils.set_random_seed(seed)
            model = build_model(cfg.model, meta["max_features"], meta["maxlen"])
            compile_model(model, cfg.fit, cfg.runtime, len(train[1]))
            result = fit_model(model, train, val, cfg.fit)
            start = time.perf_counter()
            proba = model.predict(test[0], batch_size=1000, verbose=0).ravel()
            predict_s = time.perf_counter() - start
            accuracy = compute_metrics(test[1], proba, 0.5).metrics["accuracy"]
        except Exception as exc:  # one failing knob must not hide the others' figures
            print(f"[{spec or 'params.yaml'}] FAILED: {exc.__class__.__name__}: {exc}", flush=True)
            continue
        epochs = [e["epoch_seconds"] for e in result.history]
        steady = epochs[-1]
        print(
            f"[{spec or 'params.yaml'}] batch {cfg.fit.batch_size}: fit {result.fit_seconds:.2f} s "
            f"(compile included), epochs [{', '.join(f'{s:.2f}' for s in epochs)}] s, "
            f"{len(train[1]) / steady:,.0f} reviews/s steady, val_acc "
            f"{result.history[-1]['val_accuracy']:.4f}, test_acc {accuracy:.4f}, "
            f"predict {predict_s:.2f} s",
            flush=True,
        )
    apply_runtime(load_section(params, "train", TrainParams).runtime)


def _devices(keras: Any) -> str:
    if keras.backend.backend() == "jax":
        import jax

        return ",".join(str(d) for d in jax.devices())
    return "n/a"


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
