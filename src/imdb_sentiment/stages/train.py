"""One tracked training run: data in, fitted model and an MLflow run out.

This is where the generic pieces meet: prepared arrays, the model, the fit loop and
MLflow. Stage scripts call it; tests call it on tiny data.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import mlflow
import numpy as np
from mlflow.models import infer_signature
from mlflow.utils.mlflow_tags import MLFLOW_RUN_NOTE

from imdb_sentiment.config import TrainParams
from imdb_sentiment.files import atomic_path, load_split, read_json
from imdb_sentiment.modeling.checkpoint import (
    TrainingBackup,
    backup_root,
    backup_store_id,
    lock_is_free,
)
from imdb_sentiment.modeling.distribution import (
    Replicas,
    check_workers_agree,
    local_fit_params,
    shard_split,
    start_replicas,
)
from imdb_sentiment.modeling.fit import TrainingDivergedError, fit_model
from imdb_sentiment.modeling.model import build_model, compile_model
from imdb_sentiment.modeling.runtime import apply_runtime, backend_requirements
from imdb_sentiment.tracking.lineage import file_md5, run_tags
from imdb_sentiment.tracking.names import BACKUP_KEY_TAG, BACKUP_LOCK_TAG, BACKUP_STORE_TAG
from imdb_sentiment.tracking.runs import epoch_logger, fail_dead_runs, flatten, run_description
from imdb_sentiment.tracking.store import setup_experiment, tracking_uri

log = logging.getLogger(__name__)

# The modules whose code decides the weights a given epoch ends with.
_TRAINING_CODE = (
    "modeling/model.py",
    "modeling/fit.py",
    "modeling/checkpoint.py",
    "modeling/distribution.py",
    "stages/train.py",
)


@dataclass(frozen=True)
class TrainOutcome:
    run_id: str
    tracking_uri: str
    summary: dict[str, float]  # the saved epoch's metrics and timings, for DVC metrics
    history: list[dict[str, float]]  # per-epoch rows, for DVC plots


def backup_key(
    train_params: Any, seed: int, data_files: dict[str, Path], replicas: Replicas
) -> str:
    """A digest of everything that shapes a training run, naming its backup directory.

    Only a run with the same `train` params, seed, data, training code, Keras and replicas
    may resume another's weights: a backup from any other would load (or fail to) into a
    different run. Every worker of a multi-worker run computes the same key.
    """
    package = Path(__file__).parents[1]
    identity = {
        "train": train_params,
        "seed": seed,
        "data": {name: file_md5(path) for name, path in sorted(data_files.items())},
        "code": {name: file_md5(package / name) for name in _TRAINING_CODE},
        "keras": importlib.metadata.version("keras"),
        "backend": keras.backend.backend(),
        "replicas": [replicas.count, replicas.workers],
    }
    blob = json.dumps(identity, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


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

    Each epoch is backed up outside DVC's outputs; a run killed midway is resumed by the next
    run with the same key (see `backup_key`), which first marks the dead run FAILED. The new
    run logs every epoch, the restored ones included, so it stands alone. The backup is
    deleted once the model is saved and logged, or when training diverges.
    """
    meta = read_json(prepared / "meta.json")
    apply_runtime(cfg.runtime)  # the dtype policy must be set before layers are built
    replicas = start_replicas(cfg.distribution)  # before the backend's first op
    train = shard_split(replicas, load_split(prepared / "train.npz"))
    val = shard_split(replicas, load_split(prepared / "val.npz"))
    fit = local_fit_params(replicas, cfg.fit)
    keras.utils.set_random_seed(seed)
    # Built before MLflow is touched: a model that cannot be built leaves no run behind.
    with replicas.scope():
        model = build_model(cfg.model, meta["max_features"], meta["maxlen"])
        compile_model(model, cfg.fit, cfg.runtime)
    uri = tracking_uri()
    experiment_id = setup_experiment(uri)
    inputs = {name: prepared / f"{name}.npz" for name in ("train", "val")}
    data_files = {**inputs, "meta": prepared / "meta.json"}
    key = backup_key(params.get("train"), seed, data_files, replicas)
    backup = TrainingBackup(backup_root() / key)
    store = backup_store_id(backup.directory.parent)

    with backup.lock():
        # We hold this key's lock, so a RUNNING run with it is dead; others are if theirs is free.
        own_lock = str(backup.lock_path)
        dead = fail_dead_runs(
            experiment_id,
            store,
            lambda lock: lock == own_lock or (bool(lock) and lock_is_free(Path(lock))),
        )
        crashed = [r.info.run_id for r in dead if r.data.tags.get(BACKUP_KEY_TAG) == key]
        checkpoint = backup.latest()
        # Each worker keeps its own backup; a worker resuming alone would wait on the others.
        check_workers_agree(
            replicas,
            {
                "the run (params, seed, data, code: backup key)": int(key[:7], 16),
                "the epochs backed up": checkpoint.epoch if checkpoint else 0,
            },
            f"give every worker the same commit and data, or delete {backup.directory} on "
            "each to train from scratch",
        )
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.set_tags(
                {
                    **run_tags(inputs),
                    "keras.backend": keras.backend.backend(),
                    MLFLOW_RUN_NOTE: run_description(meta["counts"]),  # the run's description
                    "distribution.worker_index": str(replicas.worker_index),
                    BACKUP_KEY_TAG: key,
                    BACKUP_STORE_TAG: store,
                    BACKUP_LOCK_TAG: own_lock,
                    "train.initial_epoch": str(checkpoint.epoch if checkpoint else 0),
                    **({"train.resumes_runs": ",".join(crashed)} if crashed else {}),
                }
            )
            _log_inputs(params, meta, prepared, data_reports or [])
            mlflow.log_params(replicas.tracking_params())
            try:
                result = fit_model(
                    model, train, val, fit, callbacks=[epoch_logger()], backup=backup
                )
            except TrainingDivergedError:
                backup.delete()  # its weights led to NaN: nothing worth resuming
                raise
            # The restored epochs were logged to the dead run; this one gets them too.
            for epoch, row in enumerate(result.history[: result.initial_epoch], start=1):
                mlflow.log_metrics(row, step=epoch)
            mlflow.log_metric("fit_seconds", result.fit_seconds)
            # What the saved model scored (early stopping may keep an earlier epoch than the
            # last): the figures to compare runs by.
            kept = result.model_row
            mlflow.log_metrics(
                {
                    "epochs_trained": len(result.history),
                    "model_epoch": result.model_epoch,
                    "model_val_accuracy": kept["val_accuracy"],
                    "model_val_loss": kept["val_loss"],
                }
            )

            with atomic_path(model_path) as tmp:
                model.save(tmp)
            sample = val[0][:8]
            mlflow.keras.log_model(
                model,
                name="model",
                signature=infer_signature(sample, _output_example(model, len(sample))),
                pip_requirements=backend_requirements(),
            )
        # Only now is the work safe elsewhere: a crash before this resumes from the last epoch.
        backup.delete()
    log.info("MLflow run %s in %s", run.info.run_id, uri)
    kept = result.model_row
    summary = {
        "train_loss": kept["loss"],
        "train_accuracy": kept["accuracy"],
        "val_loss": kept["val_loss"],
        "val_accuracy": kept["val_accuracy"],
        "epochs": len(result.history),
        "model_epoch": result.model_epoch,
        "fit_seconds": result.fit_seconds,
    }
    history = [{"epoch": i + 1, **row} for i, row in enumerate(result.history)]
    return TrainOutcome(run.info.run_id, uri, summary, history)


def _output_example(model: keras.Model, n: int) -> np.ndarray:
    """Zeros shaped and typed as `n` rows of the model's output: all a signature records.

    Predicting instead would need the rows to split evenly over a JAX mesh, and JAX cannot
    bring a prediction spread over several processes back to one.
    """
    return np.zeros((n, *model.output.shape[1:]), dtype=model.output.dtype)


def _log_inputs(
    params: dict[str, Any], meta: dict[str, Any], prepared: Path, data_reports: list[Path]
) -> None:
    """Params, data facts, vocabulary and validate's reports, into the active run."""
    # The run page lists params in logging order, ~15 in view: `train.*` first, not below
    # `validate`'s thresholds, or the ones that tell runs apart look missing.
    flat = flatten(params)
    mlflow.log_params({**{k: v for k, v in flat.items() if k.startswith("train.")}, **flat})
    mlflow.log_params(
        {
            "data.vocab_size": meta["vocab_size"],
            **{f"data.n_{name}": count for name, count in meta["counts"].items()},
        }
    )
    for name in ("vocab.json", "meta.json"):
        mlflow.log_artifact(str(prepared / name), artifact_path="data")
    for report in data_reports:
        if report.is_dir():
            mlflow.log_artifacts(str(report), artifact_path=f"validation/{report.name}")
        else:
            mlflow.log_artifact(str(report), artifact_path="validation")
