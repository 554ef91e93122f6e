"""One tracked training run: data in, fitted model and an MLflow run out.

This is where the generic pieces meet: prepared arrays, the model, the fit loop and
MLflow. Stage scripts call it; tests call it on tiny data.
"""

from __future__ import annotations

import importlib.metadata
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import mlflow
from mlflow.models import infer_signature

from imdb_sentiment.config import TrainParams
from imdb_sentiment.io import atomic_path, load_split, read_json
from imdb_sentiment.model import build_model, compile_model
from imdb_sentiment.tracking import epoch_logger, flatten, run_tags, setup_experiment, tracking_uri
from imdb_sentiment.training import fit_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOutcome:
    run_id: str
    tracking_uri: str
    summary: dict[str, float]  # final-epoch metrics and timings, for DVC metrics
    history: list[dict[str, float]]  # per-epoch rows, for DVC plots


def model_requirements() -> list[str]:
    """Pinned keras and its backend: what loading the model needs.

    Stating them saves MLflow ~10 s of inferring them in a subprocess that reloads the model.
    """
    backend = keras.backend.backend()
    pins = [f"keras=={importlib.metadata.version('keras')}"]
    if backend in ("tensorflow", "jax", "torch"):
        pins.append(f"{backend}=={importlib.metadata.version(backend)}")
    return pins


def train_and_log(
    params: dict[str, Any],
    seed: int,
    cfg: TrainParams,
    prepared: Path,
    model_path: Path,
    data_reports: list[Path] | None = None,
) -> TrainOutcome:
    """Fit on prepared/train.npz, validate on val.npz, save the model, and log it all to MLflow.

    `data_reports` (validation results, drift, Data Docs: files or directories) are logged
    under `validation/`, so a run shows what was checked about the data it learned from.
    """
    meta = read_json(prepared / "meta.json")
    train, val = load_split(prepared / "train.npz"), load_split(prepared / "val.npz")
    keras.utils.set_random_seed(seed)
    # Built before MLflow is touched: a model that cannot be built leaves no run behind.
    model = build_model(cfg.model, meta["max_features"], meta["maxlen"])
    compile_model(model, cfg.fit)
    uri = tracking_uri()
    experiment_id = setup_experiment(uri)

    with mlflow.start_run(experiment_id=experiment_id) as run:
        inputs = {name: prepared / f"{name}.npz" for name in ("train", "val")}
        mlflow.set_tags({**run_tags(inputs), "keras.backend": keras.backend.backend()})
        mlflow.log_params(flatten(params))
        mlflow.log_params(
            {
                "data.vocab_size": meta["vocab_size"],
                **{f"data.n_{name}": count for name, count in meta["counts"].items()},
            }
        )
        for name in ("vocab.json", "meta.json"):
            mlflow.log_artifact(str(prepared / name), artifact_path="data")
        for report in data_reports or []:
            if report.is_dir():
                mlflow.log_artifacts(str(report), artifact_path=f"validation/{report.name}")
            else:
                mlflow.log_artifact(str(report), artifact_path="validation")

        result = fit_model(model, train, val, cfg.fit, callbacks=[epoch_logger()])
        last = result.history[-1]
        summary = {
            "train_loss": last["loss"],
            "train_accuracy": last["accuracy"],
            "val_loss": last["val_loss"],
            "val_accuracy": last["val_accuracy"],
            "epochs": len(result.history),
            "fit_seconds": result.fit_seconds,
        }
        mlflow.log_metric("fit_seconds", result.fit_seconds)

        with atomic_path(model_path) as tmp:
            model.save(tmp)
        sample = val[0][:8]
        mlflow.keras.log_model(
            model,
            name="model",
            signature=infer_signature(sample, model.predict(sample, verbose=0)),
            pip_requirements=model_requirements(),
        )
        log.info("MLflow run %s in %s", run.info.run_id, uri)
    history = [{"epoch": i + 1, **row} for i, row in enumerate(result.history)]
    return TrainOutcome(run.info.run_id, uri, summary, history)
